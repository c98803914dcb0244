"""The fixed wording of the decision record: how to read it, its abbreviations, and what its
audit hash proves. Kept apart from the assembly so it can be read and reviewed as prose."""

from __future__ import annotations

INTRODUCTION = (
    "This is the complete record of one proposal to share safeguarding information about a "
    "child with someone outside the setting. It sets out what was proposed and why, the law "
    "relied on, whether the family was told, what advice was sought, every step taken (who "
    "took it, when, and in which role), each decision with its reasons, and exactly what, if "
    "anything, was sent.",
    "Decisions, releases, submitted versions and audit entries are never edited or deleted "
    "once written: a correction or a reconsideration is a new entry pointing at the old one. "
    "Times are given in the setting's local time, with the timezone named.",
)

ABBREVIATIONS: tuple[tuple[str, str], ...] = (
    (
        "DSL",
        "Designated Safeguarding Lead: the senior person accountable for safeguarding in the "
        "setting, who reviews every proposed share. A deputy is trained to the same standard "
        "and decides on the lead's behalf.",
    ),
    (
        "UK GDPR",
        "The UK General Data Protection Regulation, the law on using personal information.",
    ),
    (
        "Art 6",
        "Article 6 of the UK GDPR: the lawful bases for using personal information. Every "
        "share must rely on one of them.",
    ),
    (
        "Art 9",
        "Article 9 of the UK GDPR: the extra condition needed for special category "
        "information (health, ethnicity, religion, sex life or sexual orientation and similar).",
    ),
    ("DPA 2018", "The Data Protection Act 2018."),
    (
        "Sch 1 para",
        "Schedule 1 to the DPA 2018 lists when the Art 9 conditions (g) substantial public "
        "interest and (h) health or social care may be used; a share relying on either names "
        "the paragraph. Paragraph 2 (with (h)) covers health or social care purposes. "
        "Paragraph 6 (with (g)) covers statutory and government purposes. Paragraph 10 (with "
        "(g)) covers preventing or detecting unlawful acts, which requests from the police "
        "rely on; it applies only where seeking consent would prejudice that purpose. "
        "Paragraph 18 (with (g)) covers safeguarding children and individuals at risk, and "
        "applies only where consent cannot be given, cannot reasonably be obtained, or seeking "
        "it would prejudice the child's protection.",
    ),
    ("s", "A section of an Act of Parliament, e.g. Children Act 1989 s47."),
    (
        "Statutory gateway",
        "A provision of an Act that expressly allows or requires the information to be shared.",
    ),
    (
        "SHA-256",
        "A standard way of computing a fixed-length fingerprint (a hash) of data; any change "
        "to the data gives a completely different fingerprint.",
    ),
)


def audit_explanation(sequence: int, digest: str, this_copy: bool) -> tuple[str, ...]:
    """What the anchor proves and how to check it, in plain words.

    ``this_copy``: the anchor is the entry logging this very copy of the record.
    """
    if not digest:
        return ("The audit log holds no entry for this share, so there is nothing to check.",)
    latest = f"Entry {sequence} is the latest entry about this share"
    latest += ": it records this copy being produced." if this_copy else "."
    return (
        "Every step listed in this record, and every time someone looked at this share, was "
        "written to Safeshare's audit log, which cannot be edited or deleted. Each entry of the "
        "log carries a SHA-256 hash computed from its own content and from the hash of the "
        "entry before it, so the hash of one entry depends on every entry written before it "
        "in its setting's audit chain, for this share and everything else of the setting.",
        f"{latest} If anyone later altered, removed, inserted or reordered any entry up to it, "
        "the log would no longer give the hash above.",
        "To check, someone with access to the server runs this command:",
        f"python manage.py verify_audit --anchor {sequence}:{digest}",
        'It answers "Audit chain intact" if the log still matches, and otherwise names the first '
        "entry that does not. Keep this record, or at least the entry number and hash, outside "
        "Safeshare: the check is only as good as a copy of the hash held elsewhere.",
    )
