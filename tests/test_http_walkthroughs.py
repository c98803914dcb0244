"""Every path of a share, walked through the web pages as the demo personas would.

Each walkthrough signs in, opens each page first (it must render, with the right content),
then posts the form as the page rendered it, with only what a person would type changed.
The clock is fixed so that the time a release was sent can be typed to the minute.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from cases import choices
from cases.models import Case, Decision, Release, Share
from workflows.demo import seed_demo

from .http_helpers import (
    ITEM_1,
    ITEM_2,
    PURPOSE,
    START,
    complete_share,
    error_text,
    form_data,
    form_field_names,
    get_ok,
    login,
    page_text,
    sent_at_typed,
    share_from_redirect,
    text_of_id,
    url,
    user,
)


@pytest.fixture(autouse=True)
def a_500_raises(client: Any) -> None:
    """Any exception a view lets escape fails the test instead of becoming a 500 page."""
    client.raise_request_exception = True


@pytest.fixture
def clock(time_machine: Any) -> Any:
    time_machine.move_to(START, tick=False)
    return time_machine


@pytest.fixture
def demo(db: Any, clock: Any) -> dict[str, int]:
    return seed_demo()


def propose_and_submit(client: Any, case: Case, **changes: Any) -> Share:
    """As the signed-in practitioner: open the case, propose a complete share, submit it."""
    case_page = get_ok(
        client,
        url("case_detail", case.pk),
        f"{case.child} — case {case.reference}",
        "Propose a share",
    )
    assert url("share_propose", case.pk) in case_page.content.decode()
    page = get_ok(client, url("share_propose", case.pk), f"Propose a share for {case.child}")
    recipient = case.organisation.recipients.get(person_name="Sam Carter")
    response = client.post(
        url("share_propose", case.pk), complete_share(page, recipient.pk, **changes)
    )
    share = share_from_redirect(response)
    assert share.status == choices.ShareStatus.AWAITING_REVIEW
    assert share.case == case
    assert share.proposed_by == user("practitioner")
    return share


def decide(client: Any, share: Share, **typed: Any) -> Any:
    """As the signed-in lead or deputy: find the share in the queue, open it, decide."""
    queue = get_ok(client, url("review_queue"), "Shares awaiting your decision")
    assert f"Review share #{share.pk}" in page_text(queue)
    assert url("lead_review", share.pk) in queue.content.decode()
    page = get_ok(client, url("lead_review", share.pk), f"Review share #{share.pk}", share.purpose)
    return client.post(url("lead_review", share.pk), form_data(page, **typed))


def record_release(client: Any, share: Share, clock: Any, **typed: Any) -> Any:
    detail = get_ok(client, url("share_detail", share.pk), "Record the release")
    assert url("record_release", share.pk) in detail.content.decode()
    page = get_ok(
        client, url("record_release", share.pk), f"Record the release of share #{share.pk}"
    )
    decision = share.decisions.latest("decided_at", "pk")
    data = form_data(page, sent_at=sent_at_typed(clock, decision.decided_at), **typed)
    return page, client.post(url("record_release", share.pk), data)


def released_texts(share: Share) -> list[str]:
    return [entry["text"] for entry in Release.objects.get(share=share).content]


# (a) Propose, approve, release.


def test_practitioner_proposes_lead_approves_practitioner_releases(client, demo, clock):
    maisie = Case.objects.get(reference="OAK-001")
    login(client, "practitioner")
    get_ok(client, url("case_list"), "OAK-001", "Maisie Thompson", "OAK-002", "Leo Okafor")
    page = client.get(url("share_propose", maisie.pk))
    assert {
        "purpose",
        "lawful_basis",
        "consent_status",
        "risk_if_shared",
        "risk_if_not_shared",
        "recipient",
        "sending_method",
        "items-TOTAL_FORMS",
        "items-INITIAL_FORMS",
        "items-0-category",
        "items-0-content",
        "items-0-necessity",
        "items-0-is_special_category",
        "items-0-identifies_third_party",
        "items-0-third_party_details",
        "action",
    } <= form_field_names(page)

    share = propose_and_submit(
        client,
        maisie,
        **{
            "items-TOTAL_FORMS": "2",
            "items-1-category": choices.ItemCategory.CONCERN,
            "items-1-content": ITEM_2,
            "items-1-necessity": "The child's own words about how the bruise happened.",
        },
    )
    assert [i.content for i in share.items.all()] == [ITEM_1, ITEM_2]
    assert share.submitted_at == timezone.now()
    detail = get_ok(
        client,
        url("share_detail", share.pk),
        "Submitted for lead review.",
        "Awaiting lead review",
        PURPOSE,
        ITEM_1,
        ITEM_2,
    )
    assert url("lead_review", share.pk) not in detail.content.decode()

    login(client, "lead")
    response = decide(
        client,
        share,
        outcome=choices.Outcome.APPROVE,
        reasons="Necessary and proportionate: the bruising needs assessment today.",
    )
    assert share_from_redirect(response) == share
    share.refresh_from_db()
    assert share.status == choices.ShareStatus.APPROVED
    decision = Decision.objects.get(share=share)
    assert decision.outcome == choices.Outcome.APPROVE
    assert decision.decided_by == user("lead")
    assert decision.capacity == choices.DecidingCapacity.LEAD
    assert set(decision.approved_items.all()) == set(share.items.all())
    get_ok(
        client,
        url("share_detail", share.pk),
        "Decision recorded: Approve.",
        "Approved, awaiting release",
    )
    assert f"Review share #{share.pk}" not in page_text(client.get(url("review_queue")))

    login(client, "practitioner")
    page, response = record_release(client, share, clock, note="Sent to the duty inbox.")
    assert ITEM_1 in page_text(page) and ITEM_2 in page_text(page)
    assert share_from_redirect(response) == share
    share.refresh_from_db()
    assert share.status == choices.ShareStatus.RELEASED
    release = Release.objects.get(share=share)
    assert release.released_by == user("practitioner")
    assert release.recipient_name == "Sam Carter"
    assert release.sending_method == choices.SendingMethod.SECURE_EMAIL
    assert release.note == "Sent to the duty inbox."
    assert released_texts(share) == [ITEM_1, ITEM_2]

    detail = get_ok(
        client, url("share_detail", share.pk), "The release is recorded.", "Exactly what was sent"
    )
    assert share.get_status_display() == "Released"
    heading = text_of_id(detail, "release-heading")
    assert heading == "Release"
    text = page_text(detail)
    assert f"Share #{share.pk} Released" in text
    assert f"Observation : {ITEM_1}" in text
    assert f"Concern or disclosure : {ITEM_2}" in text
    assert "Sent 2 Jun 2025 09:02 to Sam Carter, Northshire Children's Social Care" in text
    # Nothing more can be done with it.
    assert url("record_release", share.pk) not in detail.content.decode()


# (b) Approve in part: only the chosen items are sent.


def test_deputy_approves_in_part_and_only_those_items_are_released(client, demo, clock):
    leo = Case.objects.get(reference="OAK-002")
    login(client, "practitioner")
    share = propose_and_submit(
        client,
        leo,
        purpose="Tell social care about Leo's injury and attendance.",
        **{
            "items-TOTAL_FORMS": "2",
            "items-1-category": choices.ItemCategory.FAMILY,
            "items-1-content": "Mum's new partner has moved in; his name is on the pick-up list.",
            "items-1-necessity": "May be relevant to who is caring for Leo.",
        },
    )
    first, second = share.items.all()

    login(client, "deputy")
    page = get_ok(client, url("lead_review", share.pk), "1. Observation", "2. Family circumstances")
    assert {"outcome", "approved_items", "refusal_reason", "reasons"} <= form_field_names(page)
    response = decide(
        client,
        share,
        outcome=choices.Outcome.APPROVE_IN_PART,
        approved_items=[str(first.pk)],
        reasons="The injury must go; the partner's details are not needed yet.",
        conditions="Mark the email OFFICIAL-SENSITIVE.",
    )
    share_from_redirect(response)
    share.refresh_from_db()
    assert share.status == choices.ShareStatus.APPROVED_IN_PART
    decision = Decision.objects.get(share=share)
    assert decision.capacity == choices.DecidingCapacity.DEPUTY
    assert list(decision.approved_items.all()) == [first]
    get_ok(
        client,
        url("share_detail", share.pk),
        "Decision recorded: Approve in part.",
        "Items approved 1. Observation",
        "Conditions Mark the email OFFICIAL-SENSITIVE.",
    )

    login(client, "practitioner")
    page, response = record_release(client, share, clock)
    assert "Only these items may be sent" in page_text(page)
    assert ITEM_1 in page_text(page)
    assert second.content not in page_text(page)
    share_from_redirect(response)
    share.refresh_from_db()
    assert share.status == choices.ShareStatus.RELEASED
    assert released_texts(share) == [ITEM_1]

    detail = get_ok(client, url("share_detail", share.pk), "Released", f"Observation : {ITEM_1}")
    sent = page_text(detail).split("Exactly what was sent", 1)[1]
    assert second.content not in sent


# (c) Refuse, with a coded reason and the lead's own words.


def test_lead_refuses_with_a_coded_reason_and_free_text(client, demo, clock):
    maisie = Case.objects.get(reference="OAK-001")
    login(client, "practitioner")
    share = propose_and_submit(client, maisie)

    login(client, "lead")
    page = get_ok(client, url("lead_review", share.pk), "Main reason for refusing")
    assert 'value="already_held"' in page.content.decode()
    response = decide(
        client,
        share,
        outcome=choices.Outcome.REFUSE,
        refusal_reason=choices.RefusalReason.ALREADY_HELD,
        reasons="Social care were told by the health visitor yesterday.",
    )
    share_from_redirect(response)
    share.refresh_from_db()
    assert share.status == choices.ShareStatus.REFUSED
    decision = Decision.objects.get(share=share)
    assert decision.refusal_reason == choices.RefusalReason.ALREADY_HELD
    assert not decision.approved_items.exists()

    login(client, "practitioner")
    detail = get_ok(
        client,
        url("share_detail", share.pk),
        f"Share #{share.pk} Refused",
        "Refuse by Grace Lead (Designated Safeguarding Lead)",
        "Reason code The recipient already holds this information",
        "Reasons Social care were told by the health visitor yesterday.",
    )
    assert "Record the release" not in page_text(detail)
    assert client.get(url("record_release", share.pk)).status_code == 302
    assert not Release.objects.filter(share=share).exists()


# (d) Return for more information, then edit, resubmit and approve.


def test_returned_share_is_edited_resubmitted_and_approved(client, demo, clock):
    maisie = Case.objects.get(reference="OAK-001")
    login(client, "practitioner")
    share = propose_and_submit(client, maisie)
    note = "Add what Maisie said about the bruise, in her own words."

    login(client, "lead")
    share_from_redirect(decide(client, share, outcome=choices.Outcome.RETURN, reasons=note))
    share.refresh_from_db()
    assert share.status == choices.ShareStatus.DRAFT
    assert f"Review share #{share.pk}" not in page_text(client.get(url("review_queue")))

    login(client, "practitioner")
    detail = get_ok(
        client, url("share_detail", share.pk), "Draft", "Return for more information", note
    )
    assert url("share_edit", share.pk) in detail.content.decode()
    page = get_ok(
        client, url("share_edit", share.pk), "Returned by the lead", note, PURPOSE, ITEM_1
    )
    data = form_data(
        page,
        **{
            "items-TOTAL_FORMS": "2",
            "items-1-category": choices.ItemCategory.CONCERN,
            "items-1-content": ITEM_2,
            "items-1-necessity": "Her own account, as the lead asked.",
            "action": "submit",
        },
    )
    # The page carried the existing item, its id and every saved answer.
    assert data["items-INITIAL_FORMS"] == "1"
    assert data["items-0-id"] == str(share.items.get().pk)
    assert data["purpose"] == PURPOSE
    assert data["consent_not_sought_reason"] == choices.ConsentNotSoughtReason.WOULD_INCREASE_RISK
    assert data["statutory_gateways"] == choices.StatutoryGateway.CA1989_S47
    response = client.post(url("share_edit", share.pk), data)
    assert share_from_redirect(response) == share
    share.refresh_from_db()
    assert share.status == choices.ShareStatus.AWAITING_REVIEW
    assert [i.content for i in share.items.all()] == [ITEM_1, ITEM_2]

    login(client, "lead")
    share_from_redirect(
        decide(client, share, outcome=choices.Outcome.APPROVE, reasons="Now complete; share both.")
    )
    share.refresh_from_db()
    assert share.status == choices.ShareStatus.APPROVED
    assert list(share.decisions.values_list("outcome", flat=True)) == [
        choices.Outcome.RETURN,
        choices.Outcome.APPROVE,
    ]
    detail = get_ok(
        client,
        url("share_detail", share.pk),
        "Return for more information",
        "Approve by Grace Lead",
    )
    assert note in page_text(detail)


# (e) Withdraw a draft, with a reason.


def test_practitioner_withdraws_a_draft_with_a_reason(client, demo, clock):
    maisie = Case.objects.get(reference="OAK-001")
    login(client, "practitioner")
    page = get_ok(client, url("share_propose", maisie.pk))
    response = client.post(
        url("share_propose", maisie.pk),
        form_data(page, purpose="Ask the health visitor about Maisie's weight.", action="save"),
    )
    assert response.status_code == 302
    share = Share.objects.get(purpose="Ask the health visitor about Maisie's weight.")
    assert response["Location"] == url("share_edit", share.pk)
    assert share.status == choices.ShareStatus.DRAFT

    detail = get_ok(client, url("share_detail", share.pk), "Draft", "Withdraw")
    assert url("share_withdraw", share.pk) in detail.content.decode()
    page = get_ok(client, url("share_withdraw", share.pk), "Why is this share being withdrawn?")
    reason = "The family have moved away; the new nursery will refer."
    response = client.post(url("share_withdraw", share.pk), form_data(page, reason=reason))
    assert share_from_redirect(response) == share
    share.refresh_from_db()
    assert share.status == choices.ShareStatus.WITHDRAWN
    assert share.withdrawn_reason == reason
    detail = get_ok(
        client,
        url("share_detail", share.pk),
        "The share was withdrawn. The reason is on the record.",
        f"Share #{share.pk} Withdrawn",
        f"Withdrawn {reason}",
    )
    assert url("share_edit", share.pk) not in detail.content.decode()
    # Its step in the flow is over: the edit page now only says where the share is.
    assert client.get(url("share_edit", share.pk))["Location"] == url("share_detail", share.pk)


# A third-party item must be redacted or confirmed before release.


def test_third_party_item_must_be_redacted_or_confirmed_on_release(client, demo, clock):
    maisie = Case.objects.get(reference="OAK-001")
    witness = "Another parent, Ms J. Rowe, said she heard shouting from the flat."
    login(client, "practitioner")
    share = propose_and_submit(
        client,
        maisie,
        **{
            "items-TOTAL_FORMS": "2",
            "items-1-category": choices.ItemCategory.CONCERN,
            "items-1-content": witness,
            "items-1-necessity": "A second account from outside the nursery.",
            "items-1-identifies_third_party": "on",
            "items-1-third_party_details": "Ms J. Rowe",
        },
    )
    flagged = share.items.get(identifies_third_party=True)
    login(client, "lead")
    share_from_redirect(
        decide(client, share, outcome=choices.Outcome.APPROVE, reasons="Both needed.")
    )

    login(client, "practitioner")
    page = get_ok(client, url("record_release", share.pk), "Item 2 identifies someone else")
    handling, redacted = f"handling_{flagged.pk}", f"redacted_{flagged.pk}"
    assert {handling, redacted, "sent_at", "note"} <= form_field_names(page)
    sent_at = sent_at_typed(clock, share.decisions.get().decided_at)

    # Neither redacted nor confirmed: refused, and the message is beside that item's choice.
    response = client.post(url("record_release", share.pk), form_data(page, sent_at=sent_at))
    assert response.status_code == 400
    assert "redact it, or confirm it must be sent as written" in error_text(
        response, f"id_{handling}"
    )
    assert not Release.objects.filter(share=share).exists()
    share.refresh_from_db()
    assert share.status == choices.ShareStatus.APPROVED

    # Redacted, with the name taken out.
    redacted_text = "Another parent said she heard shouting from the flat."
    response = client.post(
        url("record_release", share.pk),
        form_data(response, sent_at=sent_at, **{handling: "redacted", redacted: redacted_text}),
    )
    share_from_redirect(response)
    release = Release.objects.get(share=share)
    assert [e["text"] for e in release.content] == [ITEM_1, redacted_text]
    assert [e["redacted"] for e in release.content] == [False, True]
    flagged.refresh_from_db()
    assert flagged.third_party_handling == choices.ThirdPartyHandling.REDACTED
    assert flagged.content == witness  # the original stays on the record

    detail = get_ok(
        client,
        url("share_detail", share.pk),
        "Released",
        f"Concern or disclosure (redacted): {redacted_text}",
    )
    sent = page_text(detail).split("Exactly what was sent", 1)[1]
    assert "Ms J. Rowe" not in sent


def test_a_release_sent_in_the_minute_it_was_approved_can_be_recorded(client, demo, clock):
    """Regression: times sent are typed to the minute, so the approval's minute must count."""
    awaiting = Share.objects.get(
        status=choices.ShareStatus.AWAITING_REVIEW, case__reference="OAK-002"
    )
    login(client, "lead")
    clock.move_to(START + timedelta(seconds=30), tick=False)  # approved at 09:00:30
    share_from_redirect(
        decide(client, awaiting, outcome=choices.Outcome.APPROVE, reasons="Share it now.")
    )

    login(client, "practitioner")
    clock.move_to(START + timedelta(seconds=50), tick=False)  # sent and recorded at 09:00:50
    page = get_ok(client, url("record_release", awaiting.pk))
    # The minute before the approval is still refused...
    response = client.post(
        url("record_release", awaiting.pk), form_data(page, sent_at="2025-06-02T08:59")
    )
    assert response.status_code == 400
    assert "cannot be before the share was approved" in error_text(response, "id_sent_at")
    # ...but the minute of the approval itself, the true time to the minute, is accepted.
    response = client.post(
        url("record_release", awaiting.pk), form_data(page, sent_at="2025-06-02T09:00")
    )
    assert response.status_code == 302, error_text(response, "id_sent_at")
    awaiting.refresh_from_db()
    assert awaiting.status == choices.ShareStatus.RELEASED
