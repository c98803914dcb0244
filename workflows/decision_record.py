"""The decision record of one share, assembled once as plain text for the page and the PDF.

Both the printable page and the PDF render the same ``DecisionRecord``, so they cannot
disagree. It is written for a reader who has never used Safeshare (an inspector, a court, a
data protection officer answering a subject access request): every code is spelt out and
every abbreviation explained.

It reads records hanging off a share the caller has already fetched through
``permissions.lookups``, so it decides nothing about access.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from django.utils import timezone

from cases import choices
from cases.models import Decision, ReconsiderationRequest, Release, Share, ShareVersion
from cases.people import display_name
from permissions.audit_chain import Anchor
from permissions.selectors import share_history_for

from . import reports
from .record_wording import ABBREVIATIONS, INTRODUCTION, audit_explanation

# --- The shape of the record ---------------------------------------------------------------


@dataclass(frozen=True)
class Fields:
    """Labelled values, as a definition list. Values may be long and span lines."""

    kind: ClassVar[str] = "fields"
    heading: str
    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Table:
    """Short values in columns (steps, versions); long text goes in ``Fields`` instead,
    because a table row cannot be split across two printed pages."""

    kind: ClassVar[str] = "table"
    heading: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Text:
    kind: ClassVar[str] = "text"
    heading: str
    paragraphs: tuple[str, ...]


Block = Fields | Table | Text


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class DecisionRecord:
    share_id: int
    title: str
    sections: tuple[Section, ...]
    # The head of the share's setting's audit chain this record was produced under: see
    # ``record_wording.audit_explanation``. ``anchor_chain`` is the setting's id.
    anchor_sequence: int
    anchor_hash: str
    anchor_chain: int = 0

    @property
    def anchor(self) -> str:
        """As ``verify_audit --anchor`` takes it: SETTING:SEQUENCE:HASH."""
        return str(Anchor(self.anchor_chain, self.anchor_sequence, self.anchor_hash))


# --- Words for values ----------------------------------------------------------------------

NOT_GIVEN = "Not given"
_ROLE_LABELS = dict(choices.Role.choices)
_CATEGORY_LABELS = dict(choices.ItemCategory.choices)


def _role(basis: str) -> str:
    if basis == "system":
        return "None: done by the system"
    return _ROLE_LABELS.get(basis, basis) or "No current role in the setting"


def _or(value: str, fallback: str = NOT_GIVEN) -> str:
    return value.strip() if value and value.strip() else fallback


def _joined(*parts: str) -> str:
    return ", ".join(part for part in parts if part)


def _day(value: date | None) -> str:
    return f"{value.day} {value:%B %Y}" if value else ""


class Clock:
    """Times in the setting's own timezone, with the zone named so nobody has to guess."""

    def __init__(self, zone: str) -> None:
        self.zone = ZoneInfo(zone)

    def __call__(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        local = timezone.localtime(moment, self.zone)
        return f"{local.day} {local:%B %Y} at {local:%H:%M} {local:%Z}"


# --- The sections --------------------------------------------------------------------------


def _outcome(share: Share, decisions: list[Decision], release: Release | None, when: Clock) -> str:
    """The end of the story in a sentence or two, for the reader who reads nothing else."""
    said = []
    if decisions:
        last = decisions[-1]
        said.append(
            f"Decision: {last.get_outcome_display()}, by {display_name(last.decided_by)} "
            f"({last.get_capacity_display()}) on {when(last.decided_at)}."
        )
    if release is not None:
        to = _joined(release.recipient_name, release.recipient_role, release.recipient_agency)
        emergency = "" if release.decision_id else ", in an emergency before any decision"
        said.append(f"Released to {to} on {when(release.sent_at)}{emergency}.")
    elif share.status in (choices.ShareStatus.REFUSED, choices.ShareStatus.WITHDRAWN):
        said.append("Nothing was shared.")
    return " ".join(said) or "No decision yet."


def _overview(share: Share, when: Clock, reader: Any, outcome: str) -> Section:
    case, child = share.case, share.case.child
    notice = _day(child.privacy_notice_given_on) or "Not recorded"
    if child.privacy_notice_given_on and child.privacy_notice_version:
        notice += f" (version {child.privacy_notice_version})"
    rows = (
        ("Setting", str(case.organisation)),
        ("Case reference", case.reference),
        ("Child", str(child)),
        ("Date of birth", _day(child.date_of_birth)),
        ("Privacy notice given to the family", notice),
        ("Share", f"#{share.pk}"),
        ("Status now", share.get_status_display()),
        ("Outcome", outcome),
        ("Proposed by", f"{display_name(share.proposed_by)} on {when(share.created_at)}"),
        ("Record produced", f"{when(timezone.now())} for {display_name(reader)}"),
    )
    return Section(
        "overview",
        "About this record",
        (Text("", INTRODUCTION), Fields("", rows), Fields("Words used", ABBREVIATIONS)),
    )


def _proposal(share: Share) -> Section:
    recipient = share.recipient
    to = _joined(recipient.person_name, recipient.role, recipient.agency_name) if recipient else ""
    rows = [
        ("Purpose", _or(share.purpose)),
        ("Direction", share.get_direction_display()),
    ]
    if share.direction == choices.Direction.INBOUND:
        rows += [
            ("Who asked us", _or(share.requested_by)),
            ("When they asked", _day(share.requested_on) or NOT_GIVEN),
        ]
    rows += [
        ("Urgency", share.get_urgency_display()),
        ("Recipient (person, role, organisation)", to or NOT_GIVEN),
        ("Method of sending", share.get_sending_method_display() or NOT_GIVEN),
        ("Risk to the child or others if we share", _or(share.risk_if_shared)),
        ("Risk if we do not share", _or(share.risk_if_not_shared)),
    ]
    return Section("proposal", "What was proposed, to whom, and why", (Fields("", tuple(rows)),))


def _law_and_consent(share: Share) -> Section:
    rows = [
        ("Lawful basis (UK GDPR Art 6)", share.get_lawful_basis_display() or NOT_GIVEN),
        ("Power or duty relied on", _or(share.lawful_basis_power, "None named")),
        (
            "Special category condition (UK GDPR Art 9)",
            share.get_article9_condition_display() or "None relied on",
        ),
    ]
    if share.schedule1_paragraph:
        rows.append(("Its DPA 2018 Sch 1 paragraph", share.get_schedule1_paragraph_display()))
    if share.para18_reason:
        rows.append(("Why consent is not the route (para 18)", share.get_para18_reason_display()))
    rows += [
        ("Statutory gateways", ", ".join(share.statutory_gateway_labels) or "None named"),
        ("Consent", share.get_consent_status_display() or "Not recorded"),
    ]
    if share.consent_not_sought_reason:
        rows.append(("Why consent was not sought", share.get_consent_not_sought_reason_display()))
    if share.consent_override_justification:
        rows.append(("Why sharing overrides the refusal", share.consent_override_justification))
    return Section("law", "The law relied on, and consent", (Fields("", tuple(rows)),))


def _family(share: Share, when: Clock) -> Section:
    rows = [("Has the family been told?", share.get_family_informed_display() or "Not recorded")]
    if share.family_informed == choices.FamilyInformed.TOLD:
        rows += [
            ("When they were told", _day(share.family_informed_on) or NOT_GIVEN),
            ("Who told them", _or(share.family_informed_by)),
        ]
    elif share.family_informed == choices.FamilyInformed.NOT_TOLD:
        rows.append(("Why not", share.get_family_not_told_reason_display() or NOT_GIVEN))
        if share.family_not_told_detail:
            rows.append(("More about why", share.family_not_told_detail))
    for number, follow_up in enumerate(
        share.family_follow_ups.select_related("recorded_by"), start=1
    ):
        if follow_up.is_open:
            overdue = " It is overdue." if follow_up.due_at < timezone.now() else ""
            outcome = f"Due by {when(follow_up.due_at)}; not yet done.{overdue}"
        else:
            outcome = (
                f"Due by {when(follow_up.due_at)}. The family was told on "
                f"{_day(follow_up.informed_on)} by {follow_up.informed_by}; recorded on "
                f"{when(follow_up.recorded_at)} by {display_name(follow_up.recorded_by)}."
            )
        rows.append((f"Follow-up {number}: telling the family later", outcome))
    return Section("family", "Openness with the family", (Fields("", tuple(rows)),))


def _item_blocks(share: Share, version: ShareVersion | None) -> tuple[Block, ...]:
    if version is not None:
        items = [
            {
                **item,
                "category_label": _CATEGORY_LABELS.get(item["category"], item["category"]),
                # A version frozen before a category counted by nature may hold False here.
                "is_special_category": choices.counts_as_special_category(
                    item["category"], item.get("is_special_category", False)
                ),
            }
            for item in version.content["items"]
        ]
        source = f"As submitted in version {version.number}."
        if share.is_draft:
            source += (
                " The share was returned and is back in draft: items changed since are shown "
                "only once it is submitted again."
            )
    else:
        items = [
            {
                "category_label": item.get_category_display(),
                "content": item.content,
                "necessity": item.necessity,
                "is_special_category": item.counts_as_special_category,
                "identifies_third_party": item.identifies_third_party,
                "third_party_details": item.third_party_details,
            }
            for item in share.items.all()
        ]
        source = "As drafted: never submitted."
    blocks: list[Block] = [Text("", (source,))]
    for number, item in enumerate(items, start=1):
        flags = [
            label
            for flag, label in (
                ("is_special_category", "special category data"),
                (
                    "identifies_third_party",
                    "identifies someone else (a referrer, a witness or another child)",
                ),
            )
            if item.get(flag)
        ]
        rows = [
            ("What it says", item["content"]),
            ("Why it is needed", _or(item.get("necessity", ""))),
            ("Flags", ", ".join(flags) or "None"),
        ]
        if item.get("identifies_third_party"):
            # Versions frozen before the proposer was asked for this have no such key.
            rows.append(("Who it identifies", _or(item.get("third_party_details", ""))))
        blocks.append(Fields(f"Item {number}: {item['category_label']}", tuple(rows)))
    if not items:
        blocks.append(Text("", ("No items.",)))
    return tuple(blocks)


def _versions(versions: list[ShareVersion], when: Clock) -> Block:
    if not versions:
        return Text("Versions submitted", ("Never submitted for review.",))
    rows = tuple(
        (
            str(v.number),
            display_name(v.submitted_by),
            when(v.submitted_at),
            f"corrects version {v.number - 1}" if v.corrects_id else "first submission",
        )
        for v in versions
    )
    return Table("Versions submitted", ("Version", "Submitted by", "When", "Note"), rows)


def _steps(share: Share, reader: Any, when: Clock) -> Section:
    rows = tuple(
        (
            when(entry.at),
            entry.get_action_display(),
            display_name(entry.actor),
            _role(entry.basis),
            entry.detail,
        )
        for entry in share_history_for(reader, share)
    )
    table = Table("", ("When", "What happened", "Who", "In which role", "Detail"), rows)
    return Section("steps", "Each step, who took it, when and in which role", (table,))


def _consultations(share: Share, when: Clock) -> Section | None:
    blocks: list[Block] = []
    for number, asked in enumerate(
        share.consultations.select_related("asked_by", "adviser"), start=1
    ):
        rows = (
            ("Asked by", f"{display_name(asked.asked_by)} on {when(asked.asked_at)}"),
            ("Adviser", f"{display_name(asked.adviser)} ({asked.get_adviser_capacity_display()})"),
            ("Question, as the adviser saw it (without the child's identity)", asked.question),
            ("Advice", asked.advice if asked.is_answered else "Not answered yet"),
            ("Answered", when(asked.answered_at) or "Not yet"),
        )
        blocks.append(Fields(f"Request for advice {number}", rows))
    if not blocks:
        return None
    return Section("advice", "Advice sought", tuple(blocks))


def _item_numbers(version: ShareVersion | None) -> dict[int, int]:
    if version is None:
        return {}
    return {item["id"]: n for n, item in enumerate(version.content["items"], start=1)}


def _decision_block(
    number: int,
    decision: Decision,
    when: Clock,
    numbers: dict[int, int],
    sent_before: datetime | None = None,
) -> Fields:
    rows = [
        ("Outcome", decision.get_outcome_display()),
        ("Decided by", display_name(decision.decided_by)),
        ("In which capacity", decision.get_capacity_display()),
        ("When", when(decision.decided_at)),
    ]
    if sent_before is not None:
        rows.append(
            (
                "Made after the release",
                f"A retrospective review: the information had already been sent, in an "
                f"emergency, on {when(sent_before)}. This decision records the lead's view; "
                "it could not unsend it.",
            )
        )
    if decision.version is not None:
        rows.append(("Decided on", f"version {decision.version.number} of the share"))
    earlier = decision.reconsiders
    if earlier is not None:
        rows.append(
            (
                "Reconsiders",
                f"the decision of {when(earlier.decided_at)} ({earlier.get_outcome_display()})",
            )
        )
    if decision.refusal_reason:
        rows.append(("Reason for refusing", decision.get_refusal_reason_display()))
    rows.append(("Reasons", decision.reasons))
    if decision.conditions:
        rows.append(("Conditions", decision.conditions))
    if decision.outcome in (choices.Outcome.APPROVE, choices.Outcome.APPROVE_IN_PART):
        approved = "; ".join(
            f"item {numbers.get(item.pk, item.position + 1)} ({item.get_category_display()})"
            for item in decision.approved_items.all()
        )
        rows.append(("Items approved for release", approved or "None"))
    if decision.self_approval_rationale:
        rows.append(("Why the proposer decided their own share", decision.self_approval_rationale))
    late = reports.format_duration(reports.whole_seconds(decision.late_by))
    rows.append(("Against the review deadline", f"Late by {late}" if late else "On time"))
    return Fields(f"Decision {number}: {decision.get_outcome_display()}", tuple(rows))


def _request_block(
    asked: ReconsiderationRequest, number_of: dict[int, int | None], when: Clock
) -> Fields:
    """The proposer's request to look again at a refusal, and which decision answered it."""
    answer = next(
        (pk for pk, reconsiders in number_of.items() if reconsiders == asked.refusal_id), None
    )
    return Fields(
        "Reconsideration asked for",
        (
            ("Asked by", f"{display_name(asked.requested_by)} on {when(asked.requested_at)}"),
            ("Why", asked.reason),
            ("Answered by", f"decision {answer}" if answer else "Not answered yet"),
        ),
    )


def _decisions(
    decisions: list[Decision],
    version: ShareVersion | None,
    release: Release | None,
    when: Clock,
    requests: list[ReconsiderationRequest],
) -> Section:
    numbers = _item_numbers(version)
    # After an emergency release every decision is a retrospective review of what had gone.
    sent_before = release.sent_at if release is not None and release.decision_id is None else None
    # Decision number -> the pk of the decision it reconsiders, to name a request's answer.
    reconsidering = {n: d.reconsiders_id for n, d in enumerate(decisions, start=1)}
    asked_about = {asked.refusal_id: asked for asked in requests}
    blocks: list[Block] = []
    for n, decision in enumerate(decisions, start=1):
        blocks.append(_decision_block(n, decision, when, numbers, sent_before))
        if decision.pk in asked_about:
            blocks.append(_request_block(asked_about[decision.pk], reconsidering, when))
    if not blocks:
        blocks.append(Text("", ("No decision has been made.",)))
    return Section("decisions", "Decisions and their reasons", tuple(blocks))


def _release(
    share: Share, release: Release | None, when: Clock, *, deliveries: bool = True
) -> Section:
    if release is None:
        nothing = "Nothing has been released."
        if share.status == choices.ShareStatus.REFUSED:
            nothing = "Nothing was shared: the share was refused."
        elif share.status == choices.ShareStatus.WITHDRAWN:
            nothing = "Nothing was shared: the share was withdrawn."
        return Section("release", "What was released", (Text("", (nothing,)),))
    to = _joined(release.recipient_name, release.recipient_role, release.recipient_agency)
    against = "no decision: released in an emergency, before the lead's review"
    decision = release.decision
    if decision is not None:
        against = (
            f"the decision of {when(decision.decided_at)} by {display_name(decision.decided_by)}"
        )
    rows: tuple[tuple[str, str], ...] = (
        ("Sent to (person, role, organisation)", to),
        ("How", release.get_sending_method_display()),
        ("When it was sent", when(release.sent_at)),
        ("When the release was recorded", when(release.recorded_at)),
        ("Recorded by", display_name(release.released_by)),
        ("Purpose given", release.purpose),
        ("Released against", against),
        ("Note", _or(release.note, "None")),
    )
    if release.about_child:
        rows += (("The child, as the recipient read it", release.about_child),)
    blocks: list[Block] = [
        Fields("", rows),
        Text("", ("Below is exactly what was sent, word for word, as frozen when it was sent.",)),
    ]
    for number, sent in enumerate(release.content, start=1):
        sent_rows = [("Exactly as sent", sent["text"])]
        if sent.get("redacted"):
            sent_rows.append(("Redacted", "Yes: details identifying someone else were removed"))
        blocks.append(Fields(f"Sent item {number}: {sent['category']}", tuple(sent_rows)))
    # Late import: the link's words are built from this module's blocks.
    from .secure_link.record import link_blocks

    if deliveries:
        blocks += link_blocks(release.deliveries.select_related("sent_by").order_by("pk"), when)
    return Section("release", "What was released", tuple(blocks))


def _endings(share: Share) -> list[Section]:
    found = []
    if share.emergency_justification:
        found.append(
            Section(
                "emergency",
                "Released in an emergency",
                (
                    Fields(
                        "",
                        (
                            (
                                "Why the child was at immediate risk and no lead could be reached",
                                share.emergency_justification,
                            ),
                        ),
                    ),
                ),
            )
        )
    if share.status == choices.ShareStatus.WITHDRAWN:
        found.append(
            Section(
                "withdrawn",
                "Withdrawn",
                (Fields("", (("Why it was withdrawn", _or(share.withdrawn_reason)),)),),
            )
        )
    return found


def _audit(sequence: int, digest: str, this_copy: bool, chain: str) -> Section:
    rows = (
        ("Audit log entry", str(sequence)),
        ("In the audit chain of", chain),
        ("Its hash (SHA-256)", digest),
    )
    return Section(
        "audit",
        "Checking this record against the audit log",
        (Fields("", rows), Text("", audit_explanation(sequence, digest, this_copy))),
    )


# --- Assembly ------------------------------------------------------------------------------


def decision_record(share: Share, reader: Any, *, deliveries: bool = True) -> DecisionRecord:
    """The whole record of ``share`` as ``reader`` is shown it, anchored to the audit log.

    ``deliveries=False`` leaves out how a secure link fared (its recipient's address, the
    names typed on opening it): the sending setting's own record of delivery.

    Log the view first (``permissions.lookups.note_viewed``): the anchor is then the entry
    recording this very copy, so the record proves when it was produced and for whom.
    """
    when = Clock(share.case.organisation.timezone)
    versions = list(share.versions.select_related("submitted_by"))
    latest = versions[-1] if versions else None
    decisions = list(
        share.decisions.select_related("decided_by", "version", "reconsiders").prefetch_related(
            "approved_items"
        )
    )
    release = (
        Release.objects.select_related("released_by", "decision__decided_by")
        .filter(share=share)
        .first()
    )
    # The head of the share's setting's chain: the view just logged, under the chain's lock.
    # Entries of the share from before the log had a chain per setting are in the
    # installation chain, at sequences of another count: never the head of this one.
    organisation = share.case.organisation
    anchor = (
        share.audit_entries.filter(chain=organisation.pk)
        .order_by("-sequence")
        .values_list("sequence", "entry_hash", "action", "actor_id")
        .first()
    )
    sequence, digest, action, actor_id = anchor or (0, "", "", None)
    this_copy = action.startswith("view_") and actor_id == reader.pk
    items = Section(
        "items",
        "The information proposed, item by item",
        (*_item_blocks(share, latest), _versions(versions, when)),
    )
    sections = [
        _overview(share, when, reader, _outcome(share, decisions, release, when)),
        _proposal(share),
        _law_and_consent(share),
        _family(share, when),
        items,
        _consultations(share, when),
        _steps(share, reader, when),
        _decisions(
            decisions,
            latest,
            release,
            when,
            list(share.reconsideration_requests.select_related("requested_by")),
        ),
        *_endings(share),
        _release(share, release, when, deliveries=deliveries),
        _audit(sequence, digest, this_copy, f"{organisation.name} (setting {organisation.pk})"),
    ]
    return DecisionRecord(
        share_id=share.pk,
        title=f"Decision record: share #{share.pk}",
        sections=tuple(section for section in sections if section is not None),
        anchor_sequence=sequence,
        anchor_hash=digest,
        anchor_chain=organisation.pk,
    )
