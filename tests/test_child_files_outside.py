"""A child protection file sent to a setting outside the installation, by secure link.

The email holds the link and nothing of the child; the code is shown once to the sender;
the recipient opens the file with it, reads it, downloads it and acknowledges receipt, and the
file's own status and history follow (sent, viewed, receipt acknowledged). The sender can
withdraw it (its link then opens nothing) or send a new link once none works; unconfirmed
after five school days, the sending setting's leads hear.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from cases.errors import RuleViolation
from cases.models import Case, Delivery, FileTransfer, Membership, TransferStatus
from cases.services.deliveries import (
    delivery_acknowledge,
    delivery_revoke,
    delivery_unlock,
    file_link_send,
    link_state,
)
from cases.services.transfers import (
    SentFile,
    file_link_resend,
    transfer_accept,
    transfer_send_outside,
    transfer_withdraw,
)
from permissions.audit_chain import verify
from permissions.links import LinkUnavailable, link_token
from permissions.models import AuditAction, AuditEntry
from permissions.rules import can_answer_file, can_read_file
from workflows.child_file.assemble import assemble_file
from workflows.child_file.notices import chase_files_due
from workflows.models import Notification, NotificationKind
from workflows.secure_link import notices
from workflows.tasks import queue_link_email

from .factories import RecipientFactory

# A Monday morning; the child starts at the new school on Wednesday.
MONDAY_9AM = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WEDNESDAY = date(2026, 3, 4)


def send_outside(case: Case, lead: Any, to: Any, starts_on: date) -> SentFile:
    """The case's child's file, sent by its lead to ``to`` outside the installation."""
    return transfer_send_outside(
        child=case.child,
        to_outside=to,
        starts_on=starts_on,
        note="",
        file=assemble_file(case.child, lead),
        user=lead,
    )


@pytest.fixture
def clock(time_machine: Any) -> Any:
    time_machine.move_to(MONDAY_9AM, tick=False)
    return time_machine


@pytest.fixture
def new_school_lead(oakfield: Any) -> Any:
    return RecipientFactory(
        organisation=oakfield,
        person_name="Jo Bright",
        agency_name="Hilltop Primary (another area)",
        agency_kind="school",
        secure_email="dsl@hilltop.example.org",
        secure_email_verified_at=MONDAY_9AM - timedelta(days=10),
    )


@pytest.fixture
def sent(
    clock: Any,
    case: Case,
    lead: Any,
    new_school_lead: Any,
    django_capture_on_commit_callbacks: Any,
) -> SentFile:
    with django_capture_on_commit_callbacks(execute=True):
        sent = transfer_send_outside(
            child=case.child,
            to_outside=new_school_lead,
            starts_on=WEDNESDAY,
            note="Maisie starts on Wednesday.",
            file=assemble_file(case.child, lead),
            user=lead,
        )
        assert sent.link is not None
        queue_link_email(sent.link.delivery)
    return sent


def test_the_file_goes_by_a_link_whose_email_holds_nothing_of_the_child(sent: SentFile) -> None:
    transfer = sent.transfer
    assert transfer.outside and transfer.status == TransferStatus.SENT
    assert transfer.to_name == "Jo Bright, Hilltop Primary (another area)"
    assert sent.link is not None and sent.link.delivery.transfer == transfer
    [email] = mail.outbox
    assert email.to == ["dsl@hilltop.example.org"]
    assert link_token(sent.link.delivery) in email.body
    for secret in (sent.link.code, "Maisie", "child protection"):
        assert secret not in email.body and secret not in email.subject
    # Five school days from Wednesday on the sender's own calendar; nobody outside is
    # reminded half way.
    assert transfer.due_at.date() == date(2026, 3, 11)
    assert transfer.remind_at == transfer.due_at
    assert not transfer.sent_late
    assert AuditEntry.objects.filter(
        action=AuditAction.FILE_SENT, object_id=transfer.pk, detail__contains="by secure link"
    ).exists()
    assert AuditEntry.objects.filter(
        action=AuditAction.DELIVERY_SENT, organisation=transfer.from_setting
    ).exists()


def test_only_a_confirmed_address_in_the_senders_own_address_book(
    clock: Any, case: Case, lead: Any, new_school_lead: Any, riverside: Any
) -> None:
    new_school_lead.secure_email_verified_at = None
    new_school_lead.save()
    with pytest.raises(RuleViolation) as refused:
        send_outside(case, lead, new_school_lead, WEDNESDAY)
    assert "not been confirmed" in str(refused.value.message_dict["to_outside"])
    elsewhere = RecipientFactory(
        organisation=riverside,
        secure_email="dsl@elsewhere.example.org",
        secure_email_verified_at=MONDAY_9AM,
    )
    with pytest.raises(RuleViolation) as refused:
        send_outside(case, lead, elsewhere, WEDNESDAY)
    assert set(refused.value.message_dict) == {"to_outside"}
    assert not FileTransfer.objects.exists() and not Delivery.objects.exists()


def test_the_recipient_opens_reads_downloads_and_confirms_and_the_file_follows(
    sent: SentFile, lead: Any, other_lead: Any
) -> None:
    assert sent.link is not None
    delivery, token = sent.link.delivery, link_token(sent.link.delivery)
    visitor = Client()
    page = reverse("secure_link_received", args=[token])
    asking = visitor.get(page)
    # Before the code, a forwarded link learns only who sent something.
    assert b"Information from Oakfield" in asking.content
    assert b"child protection" not in asking.content and b"Maisie" not in asking.content
    visitor.post(page, {"name": "Jo Bright", "code": sent.link.code})
    shown = visitor.get(page)
    assert shown.status_code == 200
    assert b"Maisie" in shown.content and b"Keeping Children Safe in Education" in shown.content
    pdf = visitor.get(reverse("secure_link_received_pdf", args=[token]))
    assert (
        pdf["Content-Type"] == "application/pdf"
        and b"Maisie" not in pdf["Content-Disposition"].encode()
    )
    transfer = FileTransfer.objects.get(pk=sent.transfer.pk)
    assert transfer.status == TransferStatus.VIEWED
    # The receiving setting is outside: nobody here answers it, a lead of another setting
    # here least of all.
    assert not can_answer_file(other_lead, transfer)
    with pytest.raises(RuleViolation):
        transfer_accept(transfer=transfer, user=other_lead)
    visitor.post(
        reverse("secure_link_acknowledge", args=[token]), {"name": "Jo Bright", "confirmed": "on"}
    )
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.RECEIVED
    assert [(e.kind, e.reason) for e in transfer.events.order_by("pk")][1:] == [
        ("viewed", "Opened through the secure link by Jo Bright"),
        ("received", "Acknowledged by Jo Bright"),
    ]
    notice = Notification.objects.get(kind=NotificationKind.DELIVERY_ACKNOWLEDGED)
    assert notice.recipient == lead
    assert notice.link == reverse("safeguarding:child_file", args=[transfer.pk])
    # Every opening, view and download is in the sending setting's chain, on the file.
    recorded = set(
        AuditEntry.objects.filter(object_id=transfer.pk, object_type="filetransfer").values_list(
            "action", flat=True
        )
    )
    assert {"delivery_opened", "delivery_viewed", "delivery_downloaded"} <= recorded
    assert "delivery_acknowledged" in recorded
    assert verify().intact
    # The sender's page shows the link and what happened to it.
    sender = Client()
    sender.force_login(lead)
    own = sender.get(reverse("safeguarding:child_file", args=[transfer.pk]))
    assert b"Receipt acknowledged" in own.content and b"Jo Bright" in own.content
    assert delivery.email.encode() in own.content


def test_withdrawing_ends_its_link_and_a_second_withdrawal_is_refused(
    sent: SentFile, lead: Any, practitioner: Any
) -> None:
    assert sent.link is not None
    transfer = sent.transfer
    with pytest.raises(RuleViolation):
        transfer_withdraw(transfer=transfer, user=practitioner, reason="Wrong school.")
    with pytest.raises(RuleViolation) as refused:
        transfer_withdraw(transfer=transfer, user=lead, reason="  ")
    assert set(refused.value.message_dict) == {"withdraw_reason"}
    withdrawn = transfer_withdraw(transfer=transfer, user=lead, reason="Sent to the wrong school.")
    assert withdrawn.status == TransferStatus.WITHDRAWN
    with pytest.raises(LinkUnavailable):
        delivery_unlock(delivery=sent.link.delivery, name="Jo", code=sent.link.code)
    page = Client().get(reverse("secure_link_received", args=[link_token(sent.link.delivery)]))
    assert page.status_code == 404 and b"Maisie" not in page.content
    with pytest.raises(RuleViolation, match="withdrawn"):
        transfer_withdraw(transfer=transfer, user=lead, reason="Again.")
    # Withdrawn, it can go again, to the right school.
    assert can_read_file(lead, withdrawn)


def test_a_new_link_only_once_none_works_and_never_after_receipt(
    sent: SentFile, lead: Any, deputy: Any
) -> None:
    assert sent.link is not None
    with pytest.raises(RuleViolation, match="still works"):
        file_link_resend(transfer=sent.transfer, user=lead)
    delivery_revoke(delivery=sent.link.delivery, user=deputy)
    again = file_link_resend(transfer=sent.transfer, user=deputy)
    assert again.delivery.transfer == sent.transfer and again.code != ""
    delivery_unlock(delivery=again.delivery, name="Jo Bright", code=again.code)
    delivery_acknowledge(delivery=again.delivery, name="Jo Bright", confirmed=True)
    delivery_revoke(delivery=again.delivery, user=lead)
    with pytest.raises(RuleViolation, match="acknowledged as received"):
        file_link_resend(transfer=sent.transfer, user=lead)


def test_unconfirmed_after_five_school_days_the_senders_leads_hear_once(
    sent: SentFile, clock: Any, lead: Any, deputy: Any
) -> None:
    clock.move_to(sent.transfer.due_at - timedelta(minutes=1), tick=False)
    assert chase_files_due() == 0
    clock.move_to(sent.transfer.due_at, tick=False)
    assert chase_files_due() == 1
    assert chase_files_due() == 0
    told = Notification.objects.filter(kind=NotificationKind.FILE_OVERDUE_SENT)
    assert {notice.recipient for notice in told} == {lead, deputy}
    assert "phone them" in told.first().detail  # type: ignore[union-attr]
    assert not Notification.objects.filter(kind=NotificationKind.FILE_REMINDER).exists()


def test_not_opened_in_two_working_days_tells_the_sender_with_the_files_page(
    sent: SentFile, clock: Any, lead: Any
) -> None:
    assert sent.link is not None
    clock.move_to(sent.link.delivery.remind_at, tick=False)
    assert notices.tell_senders_of_links_not_opened() == 1
    notice = Notification.objects.get(kind=NotificationKind.DELIVERY_NOT_OPENED)
    assert notice.recipient == lead and notice.share is None
    assert notice.link == reverse("safeguarding:child_file", args=[sent.transfer.pk])


def test_the_send_page_sends_outside_and_shows_the_code_once(
    clock: Any,
    case: Case,
    lead: Any,
    new_school_lead: Any,
    other_lead: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    page = reverse("safeguarding:send_child_file", args=[case.child.pk])
    browser = Client()
    browser.force_login(lead)
    olu = Membership.objects.get(user=other_lead)
    both = browser.post(
        page, {"to": olu.pk, "to_outside": new_school_lead.pk, "starts_on": "2026-03-04"}
    )
    assert both.status_code == 400 and "Choose one" in both.content.decode()
    assert 'value="2026-03-04"' in both.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        sent = browser.post(page, {"to_outside": new_school_lead.pk, "starts_on": "2026-03-04"})
    transfer = FileTransfer.objects.get()
    assert sent.status_code == 302 and sent["Location"].endswith(f"/files/{transfer.pk}/")
    assert len(mail.outbox) == 1
    first = browser.get(sent["Location"]).content.decode()
    assert "Code to give Jo Bright, Hilltop Primary (another area) by phone" in first
    again = browser.get(sent["Location"]).content.decode()
    assert "Code to give" not in again and "Sent, not yet opened" in again


def test_a_file_sent_ahead_of_the_first_day_works_until_its_five_school_days_are_up(
    clock: Any, case: Case, lead: Any, new_school_lead: Any
) -> None:
    sent = send_outside(case, lead, new_school_lead, date(2026, 3, 16))
    assert sent.link is not None
    assert sent.link.delivery.expires_at == sent.transfer.due_at > MONDAY_9AM + timedelta(days=7)
    transfer_withdraw(transfer=sent.transfer, user=lead, reason="Sent too early.")
    # Sent two months ahead: the link works four weeks, and a new one is sent nearer the day.
    early = send_outside(case, lead, new_school_lead, date(2026, 5, 4))
    assert early.link is not None
    assert early.link.delivery.expires_at == MONDAY_9AM + timedelta(days=28)


def test_a_file_goes_outside_only_to_a_nursery_school_or_childminder(
    clock: Any, case: Case, lead: Any, new_school_lead: Any
) -> None:
    new_school_lead.agency_kind = "social_care"
    new_school_lead.save()
    with pytest.raises(RuleViolation) as refused:
        send_outside(case, lead, new_school_lead, WEDNESDAY)
    assert "nursery, school or childminder" in refused.value.message_dict["to_outside"][0]
    browser = Client()
    browser.force_login(lead)
    page = browser.get(reverse("safeguarding:send_child_file", args=[case.child.pk]))
    assert "Hilltop" not in page.content.decode()
    assert not FileTransfer.objects.exists()


def test_the_audit_log_names_the_file_in_words(sent: SentFile, lead: Any) -> None:
    browser = Client()
    browser.force_login(lead)
    log = browser.get(reverse("safeguarding:audit_log")).content.decode()
    assert f"child protection file #{sent.transfer.pk}" in log and "filetransfer" not in log


def test_no_link_to_a_withdrawn_file_opens_even_one_made_as_it_was_withdrawn(
    sent: SentFile, lead: Any
) -> None:
    transfer_withdraw(transfer=sent.transfer, user=lead, reason="Wrong school.")
    # A second link made while the withdrawal was under way (a new link asked for at the
    # same moment): the withdrawal never saw it, yet it opens nothing.
    late = file_link_send(transfer=sent.transfer, user=lead, now=MONDAY_9AM)
    assert not link_state(Delivery.objects.get(pk=late.delivery.pk)).live
    with pytest.raises(LinkUnavailable):
        delivery_unlock(delivery=late.delivery, name="Jo", code=late.code)
    assert (
        Client().get(reverse("secure_link_received", args=[link_token(late.delivery)])).status_code
        == 404
    )


def test_sending_nowhere_says_both_places_a_file_can_go(clock: Any, case: Case, lead: Any) -> None:
    browser = Client()
    browser.force_login(lead)
    page = reverse("safeguarding:send_child_file", args=[case.child.pk])
    refused = browser.post(page, {"starts_on": "2026-03-04"})
    assert refused.status_code == 400
    assert "or a setting outside Safeshare below" in refused.content.decode()
