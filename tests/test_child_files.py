"""A child protection file moving from one setting to another in the same installation:
sent by the old setting's lead, frozen at sending; opened, then accepted (attached to a
case in the new setting) or rejected with a reason; chased on its five-school-day clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from cases import choices
from cases.errors import RuleViolation
from cases.models import Case, Child, FileRequestStatus, FileTransfer, Membership, TransferStatus
from cases.services import case_team_add
from cases.services.transfers import (
    file_request_decline,
    file_request_make,
    transfer_accept,
    transfer_reject,
    transfer_send,
    transfer_viewed,
    transfer_withdraw,
)
from permissions.models import AuditAction, AuditEntry
from permissions.rules import can_read_file, can_see_file
from permissions.selectors import case_viewers_for
from workflows import steps
from workflows.child_file.assemble import assemble_file, file_sections
from workflows.child_file.notices import (
    chase_files_due,
    file_request_declined,
    file_requested,
    file_sent,
    file_withdrawn,
)
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


# --- The new setting asks for the file -------------------------------------------------------


@pytest.fixture
def asked(clock: Any, case: Case, lead: Any, other_lead: Any, oakfield: Any) -> Any:
    child = case.child
    request = file_request_make(
        asked_of=oakfield,
        asked_for=Membership.objects.get(user=other_lead).organisation,
        user=other_lead,
        first_name=child.first_name,
        last_name=child.last_name,
        date_of_birth=child.date_of_birth,
        starts_on=WEDNESDAY,
    )
    file_requested(request)
    return request


def test_asking_tells_the_previous_settings_leads_and_is_answered_by_the_file(
    asked: Any, case: Case, lead: Any, other_lead: Any, olus_membership: Membership
) -> None:
    assert Notification.objects.get(kind=NotificationKind.FILE_REQUESTED).recipient == lead
    transfer = answer(asked, case, lead, olus_membership)
    asked.refresh_from_db()
    assert asked.status == FileRequestStatus.SENT and transfer.request == asked
    with pytest.raises(RuleViolation, match="answered already"):
        file_request_decline(request=asked, user=lead, reason="Too late.")


def test_a_request_is_declined_with_a_reason_the_asker_reads(
    asked: Any, lead: Any, other_lead: Any, practitioner: Any
) -> None:
    with pytest.raises(RuleViolation):
        file_request_decline(request=asked, user=practitioner, reason="Not mine to answer.")
    with pytest.raises(RuleViolation):
        file_request_decline(request=asked, user=lead, reason=" ")
    declined = file_request_decline(request=asked, user=lead, reason="No such child here.")
    file_request_declined(declined)
    assert declined.status == FileRequestStatus.DECLINED
    notice = Notification.objects.get(kind=NotificationKind.FILE_REQUEST_DECLINED)
    assert notice.recipient == other_lead


def test_asking_needs_the_child_the_setting_and_a_first_day(
    clock: Any, other_lead: Any, practitioner: Any, oakfield: Any
) -> None:
    riverside = Membership.objects.get(user=other_lead).organisation
    with pytest.raises(RuleViolation) as refused:
        file_request_make(
            asked_of=riverside,
            asked_for=riverside,
            user=other_lead,
            first_name="",
            last_name="x" * 101,
            date_of_birth=None,
            starts_on=None,
        )
    assert set(refused.value.message_dict) == {
        "asked_of",
        "first_name",
        "last_name",
        "date_of_birth",
        "starts_on",
    }
    with pytest.raises(RuleViolation):
        file_request_make(
            asked_of=riverside,
            asked_for=oakfield,
            user=practitioner,
            first_name="A",
            last_name="B",
            date_of_birth=WEDNESDAY,
            starts_on=WEDNESDAY,
        )


def test_the_request_page_sends_the_file_to_the_setting_that_asked(
    asked: Any, case: Case, lead: Any, other_lead: Any, colleague: Any
) -> None:
    page = reverse("safeguarding:file_request", args=[asked.pk])
    outsider = Client()
    outsider.force_login(colleague)
    assert outsider.get(page).status_code == 404
    browser = Client()
    browser.force_login(lead)
    shown = browser.get(page).content.decode()
    assert "Send the file" in shown and case.child.first_name in shown
    refused = browser.post(page, {"action": "send"})
    assert (
        refused.status_code == 400 and "Choose the child on your roll." in refused.content.decode()
    )
    olu = Membership.objects.get(user=other_lead)
    sent = browser.post(page, {"action": "send", "child": case.child.pk, "to": olu.pk})
    assert sent.status_code == 302
    transfer = FileTransfer.objects.get(request=asked)
    assert transfer.to_lead == other_lead and transfer.starts_on == asked.starts_on


# --- What a second pair of eyes found -------------------------------------------------------


def test_a_file_moves_only_between_education_settings(clock: Any, case: Case, lead: Any) -> None:
    from cases.models import Organisation

    gp = Organisation.objects.create(name="Northshire GP", kind=choices.OrganisationKind.HEALTH)
    doctor = _member("doc", gp, choices.Role.LEAD)
    with pytest.raises(RuleViolation, match="nursery, school or childminder"):
        transfer_send(
            child=case.child,
            to=Membership.objects.get(user=doctor),
            starts_on=WEDNESDAY,
            note="",
            file={},
            user=lead,
        )


def test_one_file_at_a_time_and_a_first_day_within_a_year(
    sent: FileTransfer, case: Case, lead: Any, olus_membership: Membership
) -> None:
    with pytest.raises(RuleViolation, match="already with"):
        transfer_send(
            child=case.child, to=olus_membership, starts_on=WEDNESDAY, note="", file={}, user=lead
        )
    with pytest.raises(RuleViolation) as refused:
        transfer_send(
            child=case.child,
            to=olus_membership,
            starts_on=date(9999, 12, 27),
            note="",
            file={},
            user=lead,
        )
    assert "starts_on" in refused.value.message_dict


def test_a_child_with_the_same_name_and_birthday_but_another_upn_stops_the_accept(
    sent: FileTransfer, other_lead: Any
) -> None:
    sent_child = sent.child
    sent_child.unique_pupil_number = "A123456789012"
    sent_child.save()
    namesake = Child.objects.create(
        organisation=sent.to_setting,
        first_name=sent_child.first_name,
        last_name=sent_child.last_name,
        date_of_birth=sent_child.date_of_birth,
        unique_pupil_number="B999999999999",
    )
    with pytest.raises(RuleViolation, match="different UPN or NHS number"):
        transfer_accept(transfer=sent, user=other_lead)
    sent.refresh_from_db()
    assert sent.status == TransferStatus.SENT and not namesake.cases.exists()


def test_the_reminder_comes_two_school_days_in(sent: FileTransfer) -> None:
    # Sent on Monday for a Wednesday start: two school days from Wednesday is Friday.
    assert sent.remind_at.date() == date(2026, 3, 6)


def test_once_rejected_the_receiving_setting_reads_its_history_not_its_contents(
    sent: FileTransfer, other_lead: Any, lead: Any
) -> None:
    transfer_reject(transfer=sent, user=other_lead, reason="Never started here.")
    page = reverse("safeguarding:child_file", args=[sent.pk])
    pdf = reverse("safeguarding:child_file_pdf", args=[sent.pk])
    receiver, sender = Client(), Client()
    receiver.force_login(other_lead)
    sender.force_login(lead)
    shown = receiver.get(page).content.decode()
    assert "Never started here." in shown and "The child's first day" in shown
    assert "Maisie" not in shown.split("What happened to it")[1]
    assert receiver.get(pdf).status_code == 404
    assert sender.get(pdf).status_code == 200


def test_only_the_receiving_lead_posts_an_answer_and_every_reading_is_logged(
    sent: FileTransfer, lead: Any, other_lead: Any
) -> None:
    page = reverse("safeguarding:child_file", args=[sent.pk])
    sender = Client()
    sender.force_login(lead)
    assert sender.post(page, {"action": "reject", "reason": "x"}).status_code == 403
    receiver = Client()
    receiver.force_login(other_lead)
    before = AuditEntry.objects.filter(action=AuditAction.FILE_VIEWED).count()
    assert receiver.post(page, {"action": "reject", "reason": ""}).status_code == 400
    assert AuditEntry.objects.filter(action=AuditAction.FILE_VIEWED).count() == before + 1


def test_the_file_leaves_out_the_sending_settings_own_business(
    released: Any, case: Case, lead: Any, colleague: Any, practitioner: Any, recipient: Any
) -> None:
    from permissions.break_glass import break_glass_take

    break_glass_take(user=colleague, case=case, reason="Covering the key worker today.")
    draft = steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(recipient, purpose="An unfinished thought, never submitted."),
        items=[item()],
    )
    text = str(assemble_file(case.child, lead))
    assert "Covering the key worker today." not in text and "colin" not in text.lower()
    assert "An unfinished thought" not in text and f"Share #{draft.pk}" not in text
    assert f"Share #{released.pk}" in text


# --- Withdrawing, both chains, lateness, the child asked for ---------------------------------


def test_the_sender_withdraws_a_misdirected_file_and_its_contents_leave_the_receiver(
    sent: FileTransfer, lead: Any, deputy: Any, other_lead: Any
) -> None:
    with pytest.raises(RuleViolation):
        transfer_withdraw(transfer=sent, user=other_lead, reason="Not ours to withdraw.")
    transfer_withdraw(transfer=sent, user=deputy, reason="Sent to the wrong school.")
    sent.refresh_from_db()
    assert sent.status == TransferStatus.WITHDRAWN
    assert not can_read_file(other_lead, sent) and can_read_file(lead, sent)
    file_withdrawn(sent, by=deputy)
    assert Notification.objects.get(kind=NotificationKind.FILE_WITHDRAWN).recipient == other_lead
    with pytest.raises(RuleViolation, match="withdrawn already"):
        transfer_accept(transfer=sent, user=other_lead)
    # Both settings' chains hold the withdrawal.
    chains = set(
        AuditEntry.objects.filter(action=AuditAction.FILE_WITHDRAWN).values_list(
            "organisation_id", flat=True
        )
    )
    assert chains == {sent.from_setting_id, sent.to_setting_id}
    browser = Client()
    browser.force_login(other_lead)
    page = browser.get(reverse("safeguarding:child_file", args=[sent.pk])).content.decode()
    assert "withdrawn by the sender" in page and "Needed." not in page


def test_the_withdraw_form_keeps_what_was_typed_and_says_what_is_missing(
    sent: FileTransfer, lead: Any, other_lead: Any
) -> None:
    page = reverse("safeguarding:child_file", args=[sent.pk])
    browser = Client()
    browser.force_login(lead)
    refused = browser.post(page, {"action": "withdraw", "withdraw_reason": " "})
    assert (
        refused.status_code == 400 and "Say why the file is withdrawn" in refused.content.decode()
    )
    receiver = Client()
    receiver.force_login(other_lead)
    assert receiver.post(page, {"action": "withdraw", "withdraw_reason": "x"}).status_code == 403
    sent.refresh_from_db()
    assert sent.status == TransferStatus.SENT


def test_accepting_and_rejecting_are_in_both_settings_chains(
    sent: FileTransfer, other_lead: Any, released: Any, case: Case, lead: Any
) -> None:
    transfer_accept(transfer=sent, user=other_lead)
    accepted = AuditEntry.objects.filter(action=AuditAction.FILE_ACCEPTED, object_id=sent.pk)
    assert {entry.organisation_id for entry in accepted} == {
        sent.from_setting_id,
        sent.to_setting_id,
    }
    mirrored = accepted.get(organisation_id=sent.from_setting_id)
    assert mirrored.actor == other_lead and "Riverside" in mirrored.detail


def test_a_reading_after_accepting_is_among_who_has_looked_at_the_case(
    sent: FileTransfer, other_lead: Any
) -> None:
    accepted = transfer_accept(transfer=sent, user=other_lead)
    transfer_viewed(transfer=accepted, user=other_lead, how="PDF")
    assert accepted.case is not None
    looked = case_viewers_for(other_lead, accepted.case)
    assert [entry.action for entry in looked] == [AuditAction.FILE_VIEWED]


def test_the_team_chosen_on_accepting_joins_the_childs_open_case(
    sent: FileTransfer, other_lead: Any
) -> None:
    sent_child = sent.child
    child = Child.objects.create(
        organisation=sent.to_setting,
        first_name=sent_child.first_name,
        last_name=sent_child.last_name,
        date_of_birth=sent_child.date_of_birth,
    )
    existing = Case.objects.create(child=child, organisation=sent.to_setting, reference="RIV-9")
    rita = _member("rita", sent.to_setting, choices.Role.PRACTITIONER)
    transfer_accept(transfer=sent, user=other_lead, team=[rita])
    assert list(existing.team.all()) == [rita]
    assert can_see_file(rita, FileTransfer.objects.get(pk=sent.pk))


def test_a_file_sent_after_the_childs_fifth_school_day_is_flagged_late(
    clock: Any, case: Case, lead: Any, olus_membership: Membership
) -> None:
    file = assemble_file(case.child, lead)
    # Started the Monday a fortnight before: five school days had passed by last Monday.
    late = transfer_send(
        child=case.child,
        to=olus_membership,
        starts_on=date(2026, 2, 16),
        note="",
        file=file,
        user=lead,
    )
    assert late.sent_late
    transfer_reject(transfer=late, user=olus_membership.user, reason="Not ours.")
    # Started last Tuesday: today is its fifth school day, not yet late (last Monday
    # would be: its fifth was Friday).
    on_time = transfer_send(
        child=case.child,
        to=olus_membership,
        starts_on=date(2026, 2, 24),
        note="",
        file=file,
        user=lead,
    )
    assert not on_time.sent_late
    browser = Client()
    browser.force_login(lead)
    listed = browser.get(reverse("safeguarding:child_files")).content.decode()
    assert listed.count("sent late") == 1


def test_a_request_is_answered_only_with_the_child_asked_for(
    asked: Any, case: Case, lead: Any, olus_membership: Membership, oakfield: Any
) -> None:
    other = Child.objects.create(
        organisation=oakfield,
        first_name="Noah",
        last_name="Quinn",
        date_of_birth=case.child.date_of_birth,
    )
    with pytest.raises(RuleViolation) as refused:
        transfer_send(
            child=other,
            to=olus_membership,
            starts_on=asked.starts_on,
            note="",
            file=assemble_file(other, lead),
            user=lead,
            request=asked,
        )
    assert set(refused.value.message_dict) == {"child"}
    assert "decline the request" in refused.value.message_dict["child"][0]
    asked.refresh_from_db()
    assert asked.status == FileRequestStatus.OPEN
    # A child whose last name has changed since (adopted, say) is still the child asked for.
    case.child.last_name = "Newname"
    case.child.save()
    answer(asked, case, lead, olus_membership)


def test_the_same_child_is_asked_for_once_while_the_request_waits(
    asked: Any, other_lead: Any, oakfield: Any, lead: Any
) -> None:
    with pytest.raises(RuleViolation, match="waiting for their answer"):
        file_request_make(
            asked_of=oakfield,
            asked_for=asked.asked_for,
            user=other_lead,
            first_name=asked.first_name.upper(),
            last_name=asked.last_name,
            date_of_birth=asked.date_of_birth,
            starts_on=asked.starts_on,
        )
    file_request_decline(request=asked, user=lead, reason="No.")
    # Declined, it may be asked again (with more to go on, say).
    file_request_make(
        asked_of=oakfield,
        asked_for=asked.asked_for,
        user=other_lead,
        first_name=asked.first_name,
        last_name=asked.last_name,
        date_of_birth=asked.date_of_birth,
        starts_on=asked.starts_on,
    )


def test_withdrawing_a_file_that_answered_a_request_opens_the_request_again(
    asked: Any, case: Case, lead: Any, olus_membership: Membership
) -> None:
    transfer = answer(asked, case, lead, olus_membership)
    transfer_withdraw(transfer=transfer, user=lead, reason="The wrong Maisie's file.")
    asked.refresh_from_db()
    assert asked.status == FileRequestStatus.OPEN and asked.answered_by is None
    assert AuditEntry.objects.filter(
        action=AuditAction.FILE_WITHDRAWN, detail__contains=f"request #{asked.pk} is open again"
    ).exists()
    # Open again, it is answered again.
    again = answer(asked, case, lead, olus_membership)
    assert again.request == asked


def answer(asked: Any, case: Case, lead: Any, to: Membership) -> FileTransfer:
    """Oakfield's lead answers the request with the case's child's file."""
    return transfer_send(
        child=case.child,
        to=to,
        starts_on=asked.starts_on,
        note="",
        file=assemble_file(case.child, lead),
        user=lead,
        request=asked,
    )
