"""A secure link in words: what its recipient reads (on the page and in the PDF), and what
happened to it (on the share's page and in the decision record)."""

from __future__ import annotations

from collections.abc import Iterable

from cases.models import Delivery, DeliveryEventKind
from cases.people import display_name
from cases.services.deliveries import LinkState, link_state

from ..child_file.assemble import file_sections
from ..decision_record import Block, Clock, Fields, Section, Table, Text

CONFIDENTIAL = (
    "This is confidential safeguarding information about a child, shared with you for the "
    "purpose below. Keep it as your organisation's policy for such information says, use it "
    "only for that purpose, and share it further only as the law allows."
)


FILE_CONFIDENTIAL = (
    "This is a child's child protection file, sent to you as the Designated Safeguarding "
    "Lead of the setting the child has moved to (Keeping Children Safe in Education). Keep "
    "it apart from the main pupil file, securely, and share it further only as the law allows."
)


def received_title(delivery: Delivery, opened: bool = True) -> str:
    """What the recipient's page and PDF are headed: never the child's name, and before the
    code is given nothing of what was sent (a forwarded link learns only who sent it)."""
    if opened and delivery.transfer is not None:
        return f"A child protection file from {delivery.setting.name}"
    return f"Information from {delivery.setting.name}"


def received_sections(delivery: Delivery) -> tuple[Section, ...]:
    """Exactly what was sent: a release (who from, to whom, why, on what conditions, and
    each approved item as sent, redactions applied), or a child protection file as it was
    frozen at sending."""
    if delivery.transfer is not None:
        return _file_sections(delivery)
    release = delivery.release
    assert release is not None and delivery.share is not None
    setting = delivery.share.case.organisation
    when = Clock(setting.timezone)
    decision = release.decision
    conditions = decision.conditions.strip() if decision is not None else ""
    to = ", ".join(
        part
        for part in (release.recipient_name, release.recipient_role, release.recipient_agency)
        if part
    )
    about = Fields(
        "",
        (
            ("From", setting.name),
            ("Sent by", display_name(release.released_by)),
            ("Sent on", when(release.sent_at)),
            ("To", to),
            ("About", release.about_child or "The child named in the items below."),
            ("Purpose", release.purpose),
            ("Conditions on its use", conditions or "None were set."),
        ),
    )
    items: list[Block] = []
    for number, sent in enumerate(release.content, start=1):
        rows = [("As sent", sent["text"])]
        if sent.get("redacted"):
            rows.append(("Redacted", "Yes: details identifying someone else were removed"))
        items.append(Fields(f"Item {number}: {sent['category']}", tuple(rows)))
    return (
        Section("about", "About this information", (Text("", (CONFIDENTIAL,)), about)),
        Section("items", "What was sent", tuple(items)),
    )


def _file_sections(delivery: Delivery) -> tuple[Section, ...]:
    transfer = delivery.transfer
    assert transfer is not None
    when = Clock(transfer.from_setting.timezone)
    about = Fields(
        "",
        (
            ("From", transfer.from_setting.name),
            ("Sent by", display_name(transfer.sent_by)),
            ("Sent on", when(transfer.sent_at)),
            ("To", transfer.to_name),
            ("The child's first day with you", transfer.starts_on.strftime("%-d %B %Y")),
            ("Note from the sender", transfer.note or "None."),
        ),
    )
    return (
        Section("about", "About this file", (Text("", (FILE_CONFIDENTIAL,)), about)),
        *file_sections(transfer.file),
    )


def _happened(state: LinkState, when: Clock) -> Table:
    rows = []
    for event in state.events:
        if event.kind == DeliveryEventKind.NOT_OPENED:
            who = f"{display_name(state.delivery.sent_by)} told"
        elif event.by_id is not None:
            who = display_name(event.by)
        else:
            who = event.name or "—"
        rows.append((event.get_kind_display(), when(event.at), who))
    return Table("What happened to it", ("What", "When", "Name given, or by whom"), tuple(rows))


def link_blocks(deliveries: Iterable[Delivery], when: Clock) -> list[Block]:
    """For the decision record: each link sent, its state, and everything that happened to
    it, with the recipient's name as they gave it."""
    blocks: list[Block] = []
    for number, delivery in enumerate(deliveries, start=1):
        state = link_state(delivery)
        opened = state.first(DeliveryEventKind.OPENED)
        acknowledged = state.first(DeliveryEventKind.ACKNOWLEDGED)
        downloaded = state.first(DeliveryEventKind.DOWNLOADED)
        rows = (
            ("Sent to", delivery.email),
            ("Sent", f"{when(delivery.sent_at)} by {display_name(delivery.sent_by)}"),
            ("Works until", when(delivery.expires_at)),
            ("Now", state.status),
            ("First opened", f"{when(opened.at)} by {opened.name}" if opened else "Not yet"),
            ("Downloaded", when(downloaded.at) if downloaded else "Not yet"),
            (
                "Receipt acknowledged",
                f"{when(acknowledged.at)} by {acknowledged.name}" if acknowledged else "Not yet",
            ),
        )
        blocks += [Fields(f"Secure link {number}", rows), _happened(state, when)]
    return blocks
