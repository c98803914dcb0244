"""Sending an approved share by secure link, and its recipient opening it.

The email holds the link and nothing of the case; the code is shown to the sender once and
never kept; a wrong code five times locks the link; a revoked or expired link opens nothing
and says nothing; every open, view, download and acknowledgement is recorded, in the link's
own events and in the audit chain, and shown on the share and in the decision record.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from cases import choices
from cases.errors import RuleViolation
from cases.models import Delivery, DeliveryEventKind, Release, Share
from cases.services.deliveries import (
    delivery_acknowledge,
    delivery_resend,
    delivery_revoke,
    delivery_seen,
    delivery_unlock,
    link_state,
)
from permissions.audit_chain import verify
from permissions.links import LinkUnavailable, link_token
from permissions.models import AuditAction, AuditEntry
from workflows import steps
from workflows.models import Notification, NotificationKind
from workflows.secure_link.notices import tell_senders_of_links_not_opened

from .factories import complete_fields, item

# A Tuesday morning: two working days on is Thursday morning.
TUESDAY_10AM = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
ITEM_TEXT = "Bruise on the left forearm seen at drop-off."


@pytest.fixture
def verified(recipient: Any) -> Any:
    recipient.secure_email = "duty@social-care.example.org"
    recipient.secure_email_verified_at = TUESDAY_10AM - timedelta(days=30)
    recipient.save()
    return recipient


@pytest.fixture
def clock(time_machine: Any) -> Any:
    time_machine.move_to(TUESDAY_10AM, tick=False)
    return time_machine


@pytest.fixture
def approved(clock: Any, case: Any, practitioner: Any, lead: Any, verified: Any) -> Share:
    share = steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(verified),
        items=[item(content=ITEM_TEXT)],
    )
    steps.submit(share=share, user=practitioner)
    steps.decide(
        share=share,
        user=lead,
        outcome=choices.Outcome.APPROVE,
        reasons="Necessary.",
        conditions="Only for the strategy discussion.",
    )
    share.refresh_from_db()
    return share


@pytest.fixture
def sent(approved: Share, practitioner: Any, django_capture_on_commit_callbacks: Any) -> Any:
    with django_capture_on_commit_callbacks(execute=True):
        return steps.send_securely(share=approved, user=practitioner)


def kinds(delivery: Delivery) -> list[str]:
    return [event.kind for event in link_state(delivery).events]


# --- Sending --------------------------------------------------------------------------------


def test_sending_writes_the_release_from_what_the_link_shows_and_ends_the_flow(
    sent: Any, approved: Share
) -> None:
    approved.refresh_from_db()
    assert approved.status == choices.ShareStatus.RELEASED
    release = Release.objects.get(share=approved)
    assert release.sending_method == choices.SendingMethod.SECURE_LINK
    assert release.sent_at == TUESDAY_10AM
    assert [sent_item["text"] for sent_item in release.content] == [ITEM_TEXT]
    delivery = sent.delivery
    assert delivery.release == release and delivery.email == "duty@social-care.example.org"
    assert delivery.expires_at == TUESDAY_10AM + timedelta(days=7)
    # Two working days on the setting's calendar: Thursday, same time.
    assert delivery.remind_at == datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
    # The code is kept only hashed.
    assert re.fullmatch(r"\d{8}", sent.code) and sent.code not in delivery.code_digest
    assert approved.process.status == "DONE"
    assert AuditEntry.objects.filter(share=approved, action=AuditAction.DELIVERY_SENT).exists()


def test_the_email_holds_the_link_and_nothing_of_the_case_or_the_code(sent: Any) -> None:
    [email] = mail.outbox
    assert email.to == ["duty@social-care.example.org"]
    assert link_token(sent.delivery) in email.body
    for secret in (sent.code, ITEM_TEXT, "Maisie", "Refer a concern", "Only for the strategy"):
        assert secret not in email.body and secret not in email.subject
    assert "Oakfield" in email.subject
    sent.delivery.refresh_from_db()
    assert sent.delivery.emailed_at is not None


def test_an_unconfirmed_address_is_refused_and_nothing_is_released(
    approved: Share, practitioner: Any, verified: Any
) -> None:
    verified.secure_email_verified_at = None
    verified.save()
    with pytest.raises(RuleViolation, match="not been confirmed"):
        steps.send_securely(share=approved, user=practitioner)
    approved.refresh_from_db()
    assert approved.status == choices.ShareStatus.APPROVED
    assert not Release.objects.filter(share=approved).exists()
    assert not Delivery.objects.exists()


def test_only_the_proposer_or_a_lead_may_send(approved: Share, colleague: Any) -> None:
    with pytest.raises(RuleViolation):
        steps.send_securely(share=approved, user=colleague)
    assert not Delivery.objects.exists()


# --- Opening with the code ------------------------------------------------------------------


def test_the_right_code_opens_it_and_each_step_is_recorded_and_audited(sent: Any) -> None:
    delivery = sent.delivery
    state = delivery_unlock(
        delivery=delivery, name=" Sam   Carter ", code=sent.code[:4] + " " + sent.code[4:]
    )
    assert state.live and state.first(DeliveryEventKind.OPENED).name == "Sam Carter"
    delivery_seen(delivery=delivery, name="Sam Carter")
    delivery_seen(delivery=delivery, name="Sam Carter", downloaded=True)
    delivery_acknowledge(delivery=delivery, name="Sam Carter", confirmed=True)
    delivery_acknowledge(delivery=delivery, name="Someone Else", confirmed=True)  # once only
    assert kinds(delivery) == ["opened", "viewed", "downloaded", "acknowledged"]
    audited = list(
        AuditEntry.objects.filter(share=delivery.share)
        .exclude(action__in=[AuditAction.SHARE_CREATED])
        .values_list("action", "basis")
    )
    for action in ("delivery_opened", "delivery_viewed", "delivery_downloaded"):
        assert (action, "outside recipient (secure link)") in audited
    assert ("delivery_acknowledged", "outside recipient (secure link)") in audited
    assert verify().intact


def test_five_wrong_codes_lock_the_link_and_the_sender_is_told(sent: Any, practitioner: Any):
    delivery = sent.delivery
    wrong = "00000000" if sent.code != "00000000" else "11111111"
    for left in (4, 3, 2, 1):
        state = delivery_unlock(delivery=delivery, name="Guess", code=wrong)
        assert state.live and state.codes_left == left
    state = delivery_unlock(delivery=delivery, name="Guess", code=wrong)
    assert not state.live and state.ended_by.kind == DeliveryEventKind.LOCKED
    # Locked: even the right code opens nothing now.
    with pytest.raises(LinkUnavailable):
        delivery_unlock(delivery=delivery, name="Sam Carter", code=sent.code)
    assert kinds(delivery).count("wrong_code") == 5
    assert AuditEntry.objects.filter(action=AuditAction.DELIVERY_LOCKED).count() == 1


def test_four_wrong_codes_then_the_right_one_opens_it(sent: Any) -> None:
    for _ in range(4):
        delivery_unlock(delivery=sent.delivery, name="Sam", code="12")
    assert delivery_unlock(delivery=sent.delivery, name="Sam", code=sent.code).live


def test_a_name_and_a_code_are_both_needed(sent: Any) -> None:
    with pytest.raises(RuleViolation) as refused:
        delivery_unlock(delivery=sent.delivery, name=" ", code="")
    assert set(refused.value.message_dict) == {"name", "code"}
    assert kinds(sent.delivery) == []


def test_an_expired_link_opens_nothing(sent: Any, clock: Any) -> None:
    clock.move_to(TUESDAY_10AM + timedelta(days=7), tick=False)
    with pytest.raises(LinkUnavailable):
        delivery_unlock(delivery=sent.delivery, name="Sam", code=sent.code)


# --- Revoking and sending again -------------------------------------------------------------


def test_the_sender_or_a_lead_revokes_and_nobody_else(
    sent: Any, colleague: Any, lead: Any, practitioner: Any
) -> None:
    with pytest.raises(RuleViolation):
        delivery_revoke(delivery=sent.delivery, user=colleague)
    delivery_revoke(delivery=sent.delivery, user=lead)
    with pytest.raises(LinkUnavailable):
        delivery_unlock(delivery=sent.delivery, name="Sam", code=sent.code)
    [revoked] = link_state(sent.delivery).events
    assert revoked.kind == "revoked" and revoked.by == lead


def test_a_new_link_only_once_none_works_and_it_shows_the_same_release(
    sent: Any, practitioner: Any
) -> None:
    with pytest.raises(RuleViolation, match="still works"):
        delivery_resend(share=sent.delivery.share, user=practitioner)
    delivery_revoke(delivery=sent.delivery, user=practitioner)
    again = delivery_resend(share=sent.delivery.share, user=practitioner)
    assert again.delivery.release == sent.delivery.release and again.code != sent.code
    assert Release.objects.filter(share=sent.delivery.share).count() == 1
    assert delivery_unlock(delivery=again.delivery, name="Sam", code=again.code).live


# --- Not opened in time ---------------------------------------------------------------------


def test_the_sender_is_told_once_when_it_is_not_opened_in_two_working_days(
    sent: Any, clock: Any, practitioner: Any
) -> None:
    clock.move_to(datetime(2026, 3, 5, 9, 59, tzinfo=UTC), tick=False)
    assert tell_senders_of_links_not_opened() == 0
    clock.move_to(datetime(2026, 3, 5, 10, 0, tzinfo=UTC), tick=False)
    assert tell_senders_of_links_not_opened() == 1
    assert tell_senders_of_links_not_opened() == 0
    [notice] = Notification.objects.filter(kind=NotificationKind.DELIVERY_NOT_OPENED)
    assert notice.recipient == practitioner and notice.share == sent.delivery.share


def test_an_opened_link_is_not_chased(sent: Any, clock: Any) -> None:
    delivery_unlock(delivery=sent.delivery, name="Sam", code=sent.code)
    clock.move_to(datetime(2026, 3, 6, 10, 0, tzinfo=UTC), tick=False)
    assert tell_senders_of_links_not_opened() == 0


# --- The recipient's pages ------------------------------------------------------------------


def received(delivery: Delivery, page: str = "") -> str:
    name = {"": "secure_link_received", "pdf": "secure_link_received_pdf"}
    name["acknowledge"] = "secure_link_acknowledge"
    return reverse(name[page], kwargs={"token": link_token(delivery)})


def test_the_recipient_reads_downloads_and_acknowledges_without_signing_in(
    sent: Any, practitioner: Any
) -> None:
    outside = Client()
    page = outside.get(received(sent.delivery))
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    # The token never leaves for another site, yet the page's own forms post with their
    # origin (under "no-referrer" a browser sends "Origin: null", which CSRF refuses).
    assert page["Referrer-Policy"] == "same-origin"
    text = page.content.decode()
    assert ITEM_TEXT not in text and "Maisie" not in text and "Oakfield" in text

    wrong = outside.post(received(sent.delivery), {"name": "Sam Carter", "code": "1"})
    assert wrong.status_code == 400 and "4 tries left" in wrong.content.decode()

    opened = outside.post(received(sent.delivery), {"name": "Sam Carter", "code": sent.code})
    assert opened.status_code == 302
    shown = outside.get(received(sent.delivery)).content.decode()
    assert ITEM_TEXT in shown and "Only for the strategy discussion." in shown
    assert "Refer a concern to children" in shown

    pdf = outside.get(received(sent.delivery, "pdf"))
    assert pdf["Content-Type"] == "application/pdf"
    words = " ".join(p.extract_text() for p in PdfReader(BytesIO(pdf.content)).pages)
    assert ITEM_TEXT in " ".join(words.split())

    refused = outside.post(received(sent.delivery, "acknowledge"), {"name": "Sam Carter"})
    assert refused.status_code == 400 and "Tick the box" in refused.content.decode()
    done = outside.post(
        received(sent.delivery, "acknowledge"), {"name": "Sam Carter", "confirmed": "on"}
    )
    assert done.status_code == 302
    # The refused acknowledgement showed the release again: a view like any other.
    assert kinds(sent.delivery) == [
        "wrong_code",
        "opened",
        "viewed",
        "downloaded",
        "viewed",
        "acknowledged",
    ]
    assert Notification.objects.filter(
        kind=NotificationKind.DELIVERY_ACKNOWLEDGED, recipient=practitioner
    ).exists()


def test_one_links_code_opens_no_other_link(
    sent: Any, practitioner: Any, lead: Any, django_capture_on_commit_callbacks: Any
) -> None:
    delivery_revoke(delivery=sent.delivery, user=lead)
    second = delivery_resend(share=sent.delivery.share, user=lead)
    other = Client()
    # Opening the revoked link's page is the plain page; the new link needs its own code.
    assert other.get(received(sent.delivery)).status_code == 404
    assert (
        other.post(received(second.delivery), {"name": "S", "code": sent.code}).status_code == 400
    )
    assert (
        other.post(received(second.delivery), {"name": "S", "code": second.code}).status_code == 302
    )
    assert ITEM_TEXT in other.get(received(second.delivery)).content.decode()
    # That session opened the second link only.
    assert ITEM_TEXT not in Client().get(received(second.delivery)).content.decode()


@pytest.mark.parametrize("how", ["revoked", "expired", "made up", "locked"])
def test_a_link_that_opens_nothing_says_only_that(sent: Any, lead: Any, clock: Any, how: str):
    token = link_token(sent.delivery)
    if how == "revoked":
        delivery_revoke(delivery=sent.delivery, user=lead)
    elif how == "expired":
        clock.move_to(TUESDAY_10AM + timedelta(days=8), tick=False)
    elif how == "made up":
        token = token[:-3] + ("xyz" if not token.endswith("xyz") else "abc")
    else:
        for _ in range(5):
            delivery_unlock(delivery=sent.delivery, name="Guess", code="1")
    url = reverse("secure_link_received", kwargs={"token": token})
    page = Client().get(url)
    text = page.content.decode()
    assert page.status_code == 404 and "no longer available" in text
    for secret in ("Oakfield", ITEM_TEXT, "Maisie", "Sam Carter"):
        assert secret not in text
    assert ("locked" in text) == (how == "locked")


def test_the_share_page_shows_the_code_once_and_what_happened(
    approved: Share, practitioner: Any
) -> None:
    browser = Client()
    browser.force_login(practitioner)
    share_page = reverse("safeguarding:share_detail", args=[approved.pk])
    send_page = reverse("safeguarding:send_securely", args=[approved.pk])
    assert "Send securely" in browser.get(share_page).content.decode()
    form = browser.get(send_page)
    assert form.status_code == 200 and "duty@social-care.example.org" in form.content.decode()
    assert browser.post(send_page, {"note": ""}).status_code == 302
    first = browser.get(share_page).content.decode()
    code = re.search(r'class="ss-code">(\d{4} \d{4})<', first)
    assert code is not None
    again = browser.get(share_page).content.decode()
    assert code.group(1) not in again and "sent, not yet opened" in again

    delivery = Delivery.objects.get(share=approved)
    delivery_unlock(delivery=delivery, name="Sam Carter", code=code.group(1))
    delivery_acknowledge(delivery=delivery, name="Sam Carter", confirmed=True)
    after = browser.get(share_page).content.decode()
    assert "Opened with the code" in after and "Receipt acknowledged" in after
    record = browser.get(reverse("safeguarding:decision_record", args=[approved.pk]))
    assert "Receipt acknowledged" in record.content.decode()
    assert "by Sam Carter" in record.content.decode()


def test_outsiders_cannot_send_revoke_or_resend(sent: Any, other_lead: Any, colleague: Any) -> None:
    share = sent.delivery.share
    for person in (other_lead, colleague):
        browser = Client()
        browser.force_login(person)
        revoke = reverse("safeguarding:revoke_link", args=[share.pk, sent.delivery.pk])
        assert browser.post(revoke).status_code == 404
        assert browser.post(reverse("safeguarding:new_link", args=[share.pk])).status_code == 404
        assert (
            browser.get(reverse("safeguarding:send_securely", args=[share.pk])).status_code == 404
        )
    assert link_state(sent.delivery).live


def test_sending_twice_at_once_sends_once(approved: Share, practitioner: Any) -> None:
    steps.send_securely(share=approved, user=practitioner)
    with pytest.raises(RuleViolation):
        steps.send_securely(share=approved, user=practitioner)
    assert Delivery.objects.count() == 1


@time_machine.travel(TUESDAY_10AM, tick=False)
def test_the_link_email_is_retried_by_the_pending_pass_when_the_first_send_failed(
    approved: Share, practitioner: Any, settings: Any
) -> None:
    from workflows.tasks import deliver_pending_notifications

    steps.send_securely(share=approved, user=practitioner)  # on_commit never runs here
    assert mail.outbox == []
    with time_machine.travel(TUESDAY_10AM + timedelta(minutes=2), tick=False):
        assert deliver_pending_notifications() >= 1
    assert [email.to for email in mail.outbox] == [["duty@social-care.example.org"]]


# --- What a second pair of eyes found -------------------------------------------------------


def test_a_link_a_lead_revoked_is_replaced_only_by_a_lead_or_deputy(
    sent: Any, practitioner: Any, lead: Any
) -> None:
    delivery_revoke(delivery=sent.delivery, user=lead)
    with pytest.raises(RuleViolation, match="only a lead or deputy"):
        delivery_resend(share=sent.delivery.share, user=practitioner)
    assert delivery_resend(share=sent.delivery.share, user=lead).delivery.pk


def test_a_share_recorded_as_sent_another_way_has_no_link_to_send_again(
    approved: Share, practitioner: Any
) -> None:
    steps.record_release(share=approved, user=practitioner, sent_at=TUESDAY_10AM)
    with pytest.raises(RuleViolation, match="not sent by secure link"):
        delivery_resend(share=approved, user=practitioner)


def test_the_secure_link_is_never_a_planned_method_a_release_could_copy(
    clock: Any, case: Any, practitioner: Any, verified: Any
) -> None:
    fields = complete_fields(verified, sending_method=choices.SendingMethod.SECURE_LINK)
    with pytest.raises(RuleViolation) as refused:
        steps.propose(case=case, user=practitioner, fields=fields, items=[item()], submit=True)
    assert "sending_method" in refused.value.message_dict


def test_nothing_is_sent_to_a_retired_recipient(
    approved: Share, practitioner: Any, verified: Any
) -> None:
    verified.retired_at = TUESDAY_10AM
    verified.save()
    with pytest.raises(RuleViolation, match="retired"):
        steps.send_securely(share=approved, user=practitioner)


def test_an_opened_link_left_idle_asks_for_its_code_again(
    sent: Any, clock: Any, settings: Any
) -> None:
    settings.SAFESHARE_SESSION_IDLE_MINUTES = 30
    reader = Client()
    link = received(sent.delivery)
    reader.post(link, {"name": "Sam Carter", "code": sent.code})
    assert ITEM_TEXT in reader.get(link).content.decode()
    clock.move_to(TUESDAY_10AM + timedelta(minutes=29), tick=False)
    assert ITEM_TEXT in reader.get(link).content.decode()  # each page starts the time again
    clock.move_to(TUESDAY_10AM + timedelta(minutes=29 + 31), tick=False)
    again = reader.get(link).content.decode()
    assert ITEM_TEXT not in again and 'name="code"' in again


def test_opening_a_link_while_signed_in_keeps_sign_out_everywhere_working(
    sent: Any, lead: Any
) -> None:
    from permissions.accounts.sessions import sign_out_everywhere

    browser = Client()
    browser.force_login(lead)
    share_page = reverse("safeguarding:share_detail", args=[sent.delivery.share_id])
    assert browser.get(share_page).status_code == 200
    browser.post(received(sent.delivery), {"name": "Grace", "code": sent.code})
    sign_out_everywhere(lead)
    assert browser.get(share_page).status_code == 302


def test_with_the_sender_gone_the_leads_hear_what_happens_to_the_link(
    sent: Any, clock: Any, practitioner: Any, lead: Any
) -> None:
    from cases.services import membership_end

    membership_end(membership=practitioner.memberships.get(), by=lead)
    clock.move_to(datetime(2026, 3, 5, 10, 0, tzinfo=UTC), tick=False)
    assert tell_senders_of_links_not_opened() == 1
    told = Notification.objects.filter(kind=NotificationKind.DELIVERY_NOT_OPENED)
    assert lead in [notice.recipient for notice in told]


def test_a_link_revoked_before_its_email_went_is_never_emailed(
    approved: Share, practitioner: Any, lead: Any
) -> None:
    from workflows.tasks import deliver_pending_notifications

    sent = steps.send_securely(share=approved, user=practitioner)  # on_commit never runs here
    delivery_revoke(delivery=sent.delivery, user=lead)
    with time_machine.travel(TUESDAY_10AM + timedelta(minutes=2), tick=False):
        deliver_pending_notifications()
    assert mail.outbox == []


def test_a_mistaken_acknowledgement_shows_the_release_again_as_a_view(sent: Any) -> None:
    reader = Client()
    reader.post(received(sent.delivery), {"name": "Sam", "code": sent.code})
    refused = reader.post(received(sent.delivery, "acknowledge"), {"name": "Sam"})
    assert refused.status_code == 400 and ITEM_TEXT in refused.content.decode()
    assert kinds(sent.delivery) == ["opened", "viewed"]


def test_a_wrong_code_is_cleared_and_the_acknowledge_address_opened_again_goes_to_the_page(
    sent: Any,
) -> None:
    outside = Client()
    wrong = outside.post(received(sent.delivery), {"name": "Sam Carter", "code": "12345678"})
    page = wrong.content.decode()
    assert 'value="Sam Carter"' in page and 'value="12345678"' not in page
    again = outside.get(received(sent.delivery, "acknowledge"))
    assert again.status_code == 302 and again["Location"] == received(sent.delivery)


def test_the_recipient_reads_which_child_it_is_about_and_the_release_records_it(
    sent: Any, case: Any
) -> None:
    child = case.child
    about = f"{child.first_name} {child.last_name}, born {child.date_of_birth:%-d %B %Y}"
    release = sent.delivery.release
    release.refresh_from_db()
    assert release.about_child == about
    outside = Client()
    before = outside.get(received(sent.delivery)).content.decode()
    assert child.last_name not in before
    outside.post(received(sent.delivery), {"name": "Sam Carter", "code": sent.code})
    assert about in outside.get(received(sent.delivery)).content.decode()
    lead = Client()
    lead.force_login(sent.delivery.sent_by)
    record = lead.get(reverse("safeguarding:decision_record", args=[sent.share.pk]))
    assert "The child, as the recipient read it" in record.content.decode()
