"""The child protection file, frozen at sending: the child, each case's chronology, and
each share's whole record (decisions, releases, advice), as the sections the decision
record is made of, kept as JSON so the file reads the same whatever changes after.

Left out, as the sending setting's own business rather than the child's record: each
record's audit anchor (it vouches for one reader's copy, which the receiving setting cannot
check), who took break-glass access, how secure links fared (addresses, names typed), and
drafts never submitted.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from cases.models import Case, Child, Share
from cases.people import display_name

from ..chronology import Row, chronology_of
from ..decision_record import Block, Clock, Fields, Section, Table, Text, decision_record

_BLOCKS: dict[str, type[Fields] | type[Table] | type[Text]] = {
    "fields": Fields,
    "table": Table,
    "text": Text,
}


def _child(child: Child) -> Section:
    rows = (
        ("Legal name", f"{child.first_name} {child.last_name}"),
        ("Known as", child.known_as or "—"),
        ("Date of birth", child.date_of_birth.strftime("%-d %B %Y")),
        ("UPN", child.unique_pupil_number or "—"),
        ("NHS number", child.nhs_number or "—"),
        ("Previous setting", child.organisation.name),
    )
    return Section("child", "The child", (Fields("", rows),))


def _when(row: Row, when: Clock) -> str:
    if row.on_a_day:
        return row.happened.strftime("%-d %B %Y")
    return when(row.happened)  # type: ignore[arg-type]


def _chronology(case: Case, when: Clock, submitted: set[int]) -> Section:
    rows = tuple(
        (_when(row, when), row.what, row.who, row.detail)
        for row in chronology_of(case, access=False).rows
        if row.share_id is None or row.share_id in submitted
    )
    table = Table("", ("When", "What", "Who", "Detail"), rows)
    return Section(f"chronology-{case.pk}", f"Case {case.reference}: chronology", (table,))


def assemble_file(child: Child, sender: Any) -> dict[str, Any]:
    """The file of ``child`` (on the sending setting's roll) as it stands now, as JSON."""
    when = Clock(child.organisation.timezone)
    sections: list[Section] = [_child(child)]
    cases = Case.objects.filter(child=child).select_related("organisation").order_by("pk")
    for case in cases:
        # The shares that reached a lead (submitted at least once): a draft never submitted
        # is a practitioner's unfinished thought, not part of the child's record.
        shares = list(
            Share.objects.filter(case=case, versions__isnull=False)
            .select_related("case__organisation")
            .distinct()
            .order_by("pk")
        )
        sections.append(_chronology(case, when, {share.pk for share in shares}))
        for share in shares:
            record = decision_record(share, sender, deliveries=False)
            for section in record.sections:
                if section.key == "audit":
                    continue
                sections.append(
                    Section(
                        f"share-{share.pk}-{section.key}",
                        f"Share #{share.pk}: {section.title}",
                        section.blocks,
                    )
                )
    return {
        "title": f"Child protection file: {child.first_name} {child.last_name}",
        "sent_by": display_name(sender),
        "sections": [asdict(section) | {"blocks": _blocks(section)} for section in sections],
    }


def _blocks(section: Section) -> list[dict[str, Any]]:
    return [asdict(block) | {"kind": block.kind} for block in section.blocks]


def file_sections(file: dict[str, Any]) -> tuple[Section, ...]:
    """The frozen file's sections again, for its page and its PDF."""
    sections = []
    for section in file.get("sections", []):
        blocks: list[Block] = []
        for block in section["blocks"]:
            kind = _BLOCKS[block["kind"]]
            values = {key: value for key, value in block.items() if key != "kind"}
            if kind is Fields:
                values["rows"] = tuple(tuple(row) for row in values["rows"])
            elif kind is Table:
                values["columns"] = tuple(values["columns"])
                values["rows"] = tuple(tuple(row) for row in values["rows"])
            else:
                values["paragraphs"] = tuple(values["paragraphs"])
            blocks.append(kind(**values))
        sections.append(Section(section["key"], section["title"], tuple(blocks)))
    return tuple(sections)
