"""A child protection file moving from one setting to another in the same installation:
sent by the old setting's lead, frozen at sending; opened, then accepted (attached to a
case in the new setting) or rejected with a reason; chased on its five-school-day clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from cases import choices
from cases.errors import RuleViolation
from cases.models import Case, Child, FileTransfer, Membership, TransferStatus
from cases.services import case_team_add
from cases.services.transfers import (
    transfer_accept,
    transfer_reject,
    transfer_send,
    transfer_viewed,
)
from permissions.models import AuditAction, AuditEntry
from permissions.rules import can_see_file
from workflows import steps
from workflows.child_file.assemble import assemble_file, file_sections
from workflows.child_file.notices import chase_files_due, file_sent
from workflows.models import Notification, NotificationKind

from .conftest import _member
from .factories import complete_fields, item

# A Monday morning; the child starts at Riverside on Wednesday.
MONDAY_9AM = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WEDNESDAY = date(2026, 3, 4)


@pytest.fixture
def clock(time_machine: Any) -> Any:
    time_machine.move_to(MONDAY_9AM, tick=False)
    return time_machine


@pytest.fixture
def olus_membership(other_lead: Any) -> Membership:
    return Membership.objects.get(user=other_lead, ended_at__isnull=True)


@pytest.fixture
def released(clock: Any, case: Case, practitioner: Any, lead: Any, recipient: Any) -> Any:
    share = steps.propose(
        case=case, user=practitioner, fields=complete_fields(recipient), items=[item()]
    )
    steps.submit(share=share, user=practitioner)
    steps.decide(share=share, user=lead, outcome=choices.Outcome.APPROVE, reasons="Needed.")
    return share


@pytest.fixture
def sent(released: Any, case: Case, lead: Any, olus_membership: Membership) -> FileTransfer:
    transfer = transfer_send(
        child=case.child,
        to=olus_membership,
        starts_on=WEDNESDAY,
        note="Maisie starts on Wednesday.",
        file=assemble_file(case.child, lead),
        user=lead,
    )
    file_sent(transfer)
    return transfer


def test_the_file_is_frozen_with_the_child_their_chronology_and_each_shares_record(
    sent: FileTransfer, released: Any
) -> None:
    titles = [section.title for section in file_sections(sent.file)]
    assert titles[0] == "The child"
    assert any(title.endswith(": chronology") for title in titles)
    assert f"Share #{released.pk}: Decisions and their reasons" in titles
    assert not any("audit" in title.lower() for title in titles)
    text = str(sent.file)
    assert "Maisie" in text and "Needed." in text
    # Later changes never reach the file as sent.
    released.purpose = "Changed afterwards."
    released.save()
    sent.refresh_from_db()
    assert "Changed afterwards." not in str(sent.file)


def test_sending_starts_the_clock_on_the_new_settings_calendar_and_tells_its_lead(
    sent: FileTransfer, other_lead: Any
) -> None:
    assert sent.status == TransferStatus.SENT
    # Five school days from Wednesday: the Wednesday after.
    assert sent.due_at.date() == date(2026, 3, 11)
    assert sent.remind_at < sent.due_at
    [notice] = Notification.objects.filter(kind=NotificationKind.FILE_RECEIVED)
    assert notice.recipient == other_lead
    assert "Maisie" not in notice.detail
    assert AuditEntry.objects.filter(action=AuditAction.FILE_SENT, object_id=sent.pk).exists()


def test_only_a_lead_or_deputy_sends_and_only_to_another_settings_lead_or_deputy(
    clock: Any, case: Case, lead: Any, practitioner: Any, deputy: Any, olus_membership: Membership
) -> None:
    own = Membership.objects.get(user=deputy, ended_at__isnull=True)
    file = assemble_file(case.child, lead)
    with pytest.raises(RuleViolation):
        transfer_send(
            child=case.child,
            to=olus_membership,
            starts_on=WEDNESDAY,
            note="",
            file=file,
            user=practitioner,
        )
    with pytest.raises(RuleViolation) as refused:
        transfer_send(child=case.child, to=own, starts_on=None, note="", file=file, user=lead)
    assert set(refused.value.message_dict) == {"to", "starts_on"}
    riverside_practitioner = _member(
        "rita", olus_membership.organisation, choices.Role.PRACTITIONER
    )
    with pytest.raises(RuleViolation, match="lead or deputy"):
        transfer_send(
            child=case.child,
            to=Membership.objects.get(user=riverside_practitioner),
            starts_on=WEDNESDAY,
            note="",
            file=file,
            user=lead,
        )
    assert not FileTransfer.objects.exists()


def test_the_receiving_lead_opens_then_accepts_and_a_case_opens_with_the_file(
    sent: FileTransfer, other_lead: Any, lead: Any
) -> None:
    # The sender reading what they sent does not count as the new setting opening it.
    assert transfer_viewed(transfer=sent, user=lead).status == TransferStatus.SENT
    assert transfer_viewed(transfer=sent, user=other_lead).status == TransferStatus.VIEWED
    accepted = transfer_accept(transfer=sent, user=other_lead)
    assert accepted.status == TransferStatus.ACCEPTED
    new_case = accepted.case
    assert new_case is not None and new_case.organisation == sent.to_setting
    assert new_case.child.first_name == "Maisie" and new_case.child.organisation == sent.to_setting
    assert [e.kind for e in sent.events.order_by("pk")] == ["sent", "viewed", "accepted"]
    with pytest.raises(RuleViolation, match="accepted already"):
        transfer_reject(transfer=sent, user=other_lead, reason="Changed my mind.")


def test_a_child_already_on_the_new_roll_with_an_open_case_gets_the_file_on_that_case(
    sent: FileTransfer, other_lead: Any
) -> None:
    sent_child = sent.child
    child = Child.objects.create(
        organisation=sent.to_setting,
        first_name=sent_child.first_name.upper(),
        last_name=sent_child.last_name,
        date_of_birth=sent_child.date_of_birth,
    )
    existing = Case.objects.create(child=child, organisation=sent.to_setting, reference="RIV-9")
    assert transfer_accept(transfer=sent, user=other_lead).case == existing
    assert Child.objects.filter(organisation=sent.to_setting).count() == 1


def test_rejecting_needs_a_reason_and_the_sender_is_told(
    sent: FileTransfer, other_lead: Any, lead: Any
) -> None:
    with pytest.raises(RuleViolation):
        transfer_reject(transfer=sent, user=other_lead, reason="  ")
    transfer_reject(transfer=sent, user=other_lead, reason="Maisie never started here.")
    sent.refresh_from_db()
    assert sent.status == TransferStatus.REJECTED
    assert sent.events.get(kind="rejected").reason == "Maisie never started here."


def test_the_clock_reminds_then_escalates_each_once_and_never_an_answered_file(
    sent: FileTransfer, clock: Any, other_lead: Any, lead: Any
) -> None:
    clock.move_to(sent.remind_at - timedelta(minutes=1), tick=False)
    assert chase_files_due() == 0
    clock.move_to(sent.remind_at, tick=False)
    assert chase_files_due() == 1
    assert chase_files_due() == 0
    [reminder] = Notification.objects.filter(kind=NotificationKind.FILE_REMINDER)
    assert reminder.recipient == other_lead
    clock.move_to(sent.due_at, tick=False)
    assert chase_files_due() == 1
    assert chase_files_due() == 0
    assert Notification.objects.filter(kind=NotificationKind.FILE_OVERDUE).exists()
    assert Notification.objects.get(kind=NotificationKind.FILE_OVERDUE_SENT).recipient == lead


def test_an_answered_file_is_not_chased(sent: FileTransfer, clock: Any, other_lead: Any):
    transfer_accept(transfer=sent, user=other_lead)
    clock.move_to(sent.due_at + timedelta(days=3), tick=False)
    assert chase_files_due() == 0


def test_who_sees_the_file(
    sent: FileTransfer, other_lead: Any, lead: Any, colleague: Any, practitioner: Any
) -> None:
    riverside = sent.to_setting
    rita = _member("rita", riverside, choices.Role.PRACTITIONER)
    assert can_see_file(lead, sent) and can_see_file(other_lead, sent)
    for outsider in (colleague, practitioner, rita):
        assert not can_see_file(outsider, sent)
    accepted = transfer_accept(transfer=sent, user=other_lead)
    assert accepted.case is not None
    case_team_add(case=accepted.case, user=rita, by=other_lead)
    assert can_see_file(rita, accepted)
    assert not can_see_file(colleague, accepted)
