"""Every rule broken through the web: the form comes back, explained, and nothing is saved.

Each bad POST must answer 400 with the rule's message beside the field it concerns, write
no row anywhere (shares, items, decisions, releases, the flow's process and tasks), leave
a draft being edited as it was, and give back what the person typed. People who may not
see a share get "not found" for every page of it, and never a glimpse of the child.
The test client re-raises any exception a view lets escape, so no test passes on a 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from cases import choices
from cases.models import Case, Decision, Organisation, Recipient, Release, Share
from workflows.demo import seed_demo

from .http_helpers import (
    START,
    complete_share,
    error_text,
    form_data,
    get_ok,
    item_block,
    login,
    page_text,
    sent_at_typed,
    share_from_redirect,
    snapshot,
    text_of_id,
    texts_of_class,
    url,
    user,
)
from .seeded import seeded_once

TYPED_PURPOSE = "Tell the health visitor that Maisie has lost weight again this month."
SUMMARY = "Some things need attention before this can go further."


@pytest.fixture(autouse=True)
def a_500_raises(client: Any) -> None:
    """Any exception a view lets escape fails the test instead of becoming a 500 page."""
    client.raise_request_exception = True


@pytest.fixture
def clock(time_machine: Any) -> Any:
    time_machine.move_to(START, tick=False)
    return time_machine


@pytest.fixture(scope="module")
def seeded(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """The demo, made once for the module at the tests' own moment."""

    def build() -> None:
        with time_machine.travel(START, tick=False):
            seed_demo()

    with seeded_once(django_db_blocker, build):
        yield


@pytest.fixture
def demo(db: Any, seeded: None, clock: Any) -> None:
    return None


@pytest.fixture
def maisie(demo: None) -> Case:
    return Case.objects.get(reference="OAK-001")


@pytest.fixture
def social_care(demo: None) -> Recipient:
    return Recipient.objects.get(person_name="Sam Carter")


@pytest.fixture
def propose_page(client: Any, maisie: Case) -> Any:
    login(client, "practitioner")
    return get_ok(client, url("share_propose", maisie.pk), "Propose a share for Maisie Thompson")


@pytest.fixture
def incomplete_draft(demo: None) -> Share:
    """The demo's draft: purpose and recipient only, one special-category item, no necessity."""
    return Share.objects.get(purpose="Ask the health visitor to check on weight loss.")


@pytest.fixture
def returned_draft(demo: None) -> Share:
    """The demo's complete share the lead returned for more information."""
    return Share.objects.get(status=choices.ShareStatus.DRAFT, decisions__outcome="return")


@pytest.fixture
def awaiting(demo: None) -> Share:
    return Share.objects.get(status=choices.ShareStatus.AWAITING_REVIEW, case__reference="OAK-002")


@pytest.fixture
def approved(demo: None) -> Share:
    """Approved in full; its third item names another parent."""
    return Share.objects.get(status=choices.ShareStatus.APPROVED)


def assert_refused(response: Any, field_id: str, message: str, before: dict[str, Any]) -> None:
    """400, the message beside its field, and not a row written anywhere."""
    assert response.status_code == 400
    assert message in error_text(response, field_id), page_text(response)[-3000:]
    assert snapshot() == before


def assert_kept(response: Any, **typed: Any) -> None:
    """The re-rendered form holds what the person typed."""
    again = form_data(response)
    for name, value in typed.items():
        assert again.get(name.replace("__", "-")) == value, name


def assert_all_kept(response: Any, data: dict[str, Any]) -> None:
    def as_list(value: Any) -> list[str]:
        return sorted(value) if isinstance(value, list) else [value]

    again = form_data(response)
    for name, value in data.items():
        if name != "action":
            assert as_list(again.get(name, [])) == as_list(value), name


# Proposing a share.

SUBMISSION_RULES = [
    pytest.param(
        {"lawful_basis": ""},
        "id_lawful_basis",
        "Choose the lawful basis (UK GDPR Article 6) this share relies on.",
        id="missing-lawful-basis",
    ),
    pytest.param(
        {"lawful_basis": choices.LawfulBasis.PUBLIC_TASK},
        "id_lawful_basis_power",
        "Name the power or duty the public task rests on",
        id="public-task-without-power",
    ),
    pytest.param(
        {"items-0-is_special_category": "on"},
        "id_article9_condition",
        "This share includes special category data: choose the Article 9 condition",
        id="special-category-without-art9",
    ),
    pytest.param(
        {"items-0-category": choices.ItemCategory.HEALTH},
        "id_article9_condition",
        "Item 1 (Health or development): information of that kind is always special category "
        "data, whether or not its box is ticked.",
        id="health-item-unticked-without-art9",
    ),
    pytest.param(
        {"items-0-is_special_category": "on", "article9_condition": "9_2_g"},
        "id_schedule1_paragraph",
        "Choose the DPA 2018 Schedule 1 paragraph that goes with this Article 9 condition.",
        id="art9g-without-schedule1",
    ),
    pytest.param(
        {
            "items-0-is_special_category": "on",
            "article9_condition": "9_2_h",
            "schedule1_paragraph": "para_18",
        },
        "id_schedule1_paragraph",
        "This Schedule 1 paragraph does not go with the Article 9 condition chosen.",
        id="art9h-with-para18",
    ),
    pytest.param(
        {
            "items-0-is_special_category": "on",
            "article9_condition": "9_2_g",
            "schedule1_paragraph": "para_18",
        },
        "id_para18_reason",
        "Paragraph 18 applies only when consent cannot be given",
        id="para18-without-reason",
    ),
    pytest.param(
        {"consent_status": "", "consent_not_sought_reason": ""},
        "id_consent_status",
        "Record the consent status: given, refused, or not sought.",
        id="missing-consent",
    ),
    pytest.param(
        {"consent_not_sought_reason": ""},
        "id_consent_not_sought_reason",
        "Say why consent was not sought.",
        id="consent-not-sought-without-reason",
    ),
    pytest.param(
        {"consent_status": choices.ConsentStatus.REFUSED, "consent_not_sought_reason": ""},
        "id_consent_override_justification",
        "Consent was refused: explain why sharing is still justified.",
        id="consent-refused-without-justification",
    ),
    pytest.param(
        {"risk_if_shared": "   "},
        "id_risk_if_shared",
        "Describe the risk to the child or others if this information is shared.",
        id="missing-risk-if-shared",
    ),
    pytest.param(
        {"risk_if_not_shared": ""},
        "id_risk_if_not_shared",
        "Describe the risk to the child or others if it is not shared.",
        id="missing-risk-if-not-shared",
    ),
    pytest.param(
        {"recipient": ""},
        "id_recipient",
        "Choose the named person, at a named organisation, who will receive this.",
        id="missing-recipient",
    ),
    pytest.param(
        {"sending_method": ""},
        "id_sending_method",
        "Choose the secure method of sending.",
        id="missing-sending-method",
    ),
    pytest.param(
        {"direction": choices.Direction.INBOUND},
        "id_requested_by",
        "Say who asked for this information.",
        id="inbound-without-who-asked",
    ),
    pytest.param(
        {"items-0-necessity": ""},
        "id_items-0-necessity",
        "Say why this item is needed for the purpose.",
        id="item-without-necessity",
    ),
    pytest.param(
        {"items-0-identifies_third_party": "on", "items-0-third_party_details": " "},
        "id_items-0-third_party_details",
        "Say who this item identifies: the names, addresses or other details to take out",
        id="item-identifying-someone-without-who",
    ),
]


@pytest.mark.parametrize(("changes", "field_id", "message"), SUBMISSION_RULES)
def test_submitting_a_proposal_that_breaks_a_rule(
    client, propose_page, maisie, social_care, changes, field_id, message
):
    before = snapshot()
    data = complete_share(propose_page, social_care.pk, purpose=TYPED_PURPOSE, **changes)
    response = client.post(url("share_propose", maisie.pk), data)
    assert_refused(response, field_id, message, before)
    assert SUMMARY in page_text(response)
    # Everything typed comes back: every field, every item, every ticked box.
    assert_kept(response, purpose=TYPED_PURPOSE)
    assert_all_kept(response, data)


def test_risk_errors_are_each_beside_their_own_field(client, propose_page, maisie, social_care):
    before = snapshot()
    data = complete_share(
        propose_page,
        social_care.pk,
        purpose=TYPED_PURPOSE,
        risk_if_shared="",
        risk_if_not_shared="",
    )
    response = client.post(url("share_propose", maisie.pk), data)
    assert_refused(response, "id_risk_if_shared", "if this information is shared", before)
    assert "if it is not shared" in error_text(response, "id_risk_if_not_shared")
    assert "if it is not shared" not in error_text(response, "id_risk_if_shared")
    assert_kept(response, purpose=TYPED_PURPOSE)


def test_submitting_the_empty_propose_form(client, propose_page, maisie):
    """The page posted back exactly as it was rendered, with nothing filled in."""
    before = snapshot()
    response = client.post(
        url("share_propose", maisie.pk), form_data(propose_page, action="submit")
    )
    assert response.status_code == 400
    assert snapshot() == before
    expected = {
        "id_purpose": "Say what the share is for.",
        "id_lawful_basis": "Choose the lawful basis",
        "id_consent_status": "Record the consent status",
        "id_risk_if_shared": "if this information is shared",
        "id_risk_if_not_shared": "if it is not shared",
        "id_recipient": "Choose the named person",
        "id_sending_method": "Choose the secure method of sending.",
    }
    for field_id, message in expected.items():
        assert message in error_text(response, field_id), field_id
    assert "Add at least one item" in text_of_id(response, "items-errors")
    assert SUMMARY in page_text(response)


def test_posting_nothing_at_all_to_the_propose_page(client, propose_page, maisie):
    before = snapshot()
    response = client.post(url("share_propose", maisie.pk), {})
    assert response.status_code == 400
    assert snapshot() == before
    assert "This field is required." in error_text(response, "id_direction")
    assert "ManagementForm data is missing" in text_of_id(response, "items-errors")


def test_submitting_without_items(client, propose_page, maisie, social_care):
    before = snapshot()
    data = complete_share(
        propose_page,
        social_care.pk,
        purpose=TYPED_PURPOSE,
        **{"items-0-category": "", "items-0-content": "", "items-0-necessity": ""},
    )
    response = client.post(url("share_propose", maisie.pk), data)
    assert response.status_code == 400
    assert snapshot() == before
    assert (
        text_of_id(response, "items-errors")
        == "Add at least one item: choose each piece of information on its own."
    )
    assert_kept(response, purpose=TYPED_PURPOSE)


def test_deleting_the_only_item_then_submitting(client, propose_page, maisie, social_care):
    before = snapshot()
    data = complete_share(
        propose_page, social_care.pk, purpose=TYPED_PURPOSE, **{"items-0-DELETE": "on"}
    )
    response = client.post(url("share_propose", maisie.pk), data)
    assert response.status_code == 400
    assert snapshot() == before
    assert "Add at least one item" in text_of_id(response, "items-errors")


def test_an_item_error_is_shown_in_that_items_own_block(client, propose_page, maisie, social_care):
    """Three item forms: the first deleted, the third missing its necessity."""
    before = snapshot()
    third = "Attendance fell to 60% over the half term."
    data = complete_share(
        propose_page,
        social_care.pk,
        purpose=TYPED_PURPOSE,
        **{
            "items-TOTAL_FORMS": "3",
            "items-0-DELETE": "on",
            "items-1-category": choices.ItemCategory.OBSERVATION,
            "items-1-content": "Bruise on the forearm.",
            "items-1-necessity": "Needed for the assessment.",
            "items-2-category": choices.ItemCategory.ATTENDANCE,
            "items-2-content": third,
            "items-2-necessity": "",
        },
    )
    response = client.post(url("share_propose", maisie.pk), data)
    message = "Say why this item is needed for the purpose."
    assert_refused(response, "id_items-2-necessity", message, before)
    assert message in item_block(response, 3)
    assert message not in item_block(response, 1)
    assert message not in item_block(response, 2)
    assert_kept(response, purpose=TYPED_PURPOSE, items__2__content=third)


# Input no person could type in the rendered page: refused by the form, on save and submit.

FORM_RULES = [
    pytest.param(
        {"purpose": "p" * 5000},
        "id_purpose",
        "Ensure this value has at most 2000 characters (it has 5000).",
        id="oversized-purpose",
    ),
    pytest.param(
        {"risk_if_shared": "r" * 4001},
        "id_risk_if_shared",
        "at most 4000 characters (it has 4001)",
        id="oversized-risk",
    ),
    pytest.param(
        {"items-0-content": "c" * 8001},
        "id_items-0-content",
        "at most 8000 characters (it has 8001)",
        id="oversized-item",
    ),
    pytest.param(
        {"lawful_basis": "zzz"},
        "id_lawful_basis",
        "Select a valid choice. zzz is not one of the available choices.",
        id="unknown-lawful-basis",
    ),
    pytest.param(
        {"urgency": "yesterday"},
        "id_urgency",
        "Select a valid choice. yesterday is not one of the available choices.",
        id="unknown-urgency",
    ),
    pytest.param(
        {"statutory_gateways": ["ca1989_s47", "magna_carta"]},
        "id_statutory_gateways",
        "Select a valid choice. magna_carta is not one of the available choices.",
        id="unknown-gateway",
    ),
    pytest.param(
        {"items-0-category": "nope"},
        "id_items-0-category",
        "Select a valid choice. nope is not one of the available choices.",
        id="unknown-item-category",
    ),
    pytest.param(
        {"requested_on": "next Tuesday"},
        "id_requested_on",
        "Enter a valid date.",
        id="garbage-date",
    ),
    pytest.param(
        {"requested_on": "2025-02-30"},
        "id_requested_on",
        "Enter a valid date.",
        id="impossible-date",
    ),
    pytest.param(
        {"recipient": "999999"},
        "id_recipient",
        "Select a valid choice.",
        id="unknown-recipient",
    ),
]


@pytest.mark.parametrize("action", ["save", "submit"])
@pytest.mark.parametrize(("changes", "field_id", "message"), FORM_RULES)
def test_proposing_with_input_the_form_refuses(
    client, propose_page, maisie, social_care, action, changes, field_id, message
):
    before = snapshot()
    typed = {"purpose": TYPED_PURPOSE, **changes, "action": action}
    data = complete_share(propose_page, social_care.pk, **typed)
    response = client.post(url("share_propose", maisie.pk), data)
    assert_refused(response, field_id, message, before)
    assert_kept(response, purpose=data["purpose"])
    assert data["purpose"] in response.content.decode()


@pytest.mark.parametrize("action", ["save", "submit"])
def test_a_recipient_from_another_setting_is_refused(
    client, propose_page, maisie, social_care, action
):
    mash = Recipient.objects.get(organisation__name="Riverside Primary School")
    before = snapshot()
    data = complete_share(
        propose_page, social_care.pk, purpose=TYPED_PURPOSE, recipient=str(mash.pk), action=action
    )
    response = client.post(url("share_propose", maisie.pk), data)
    assert_refused(response, "id_recipient", "Select a valid choice.", before)
    assert "Jordan Lee" not in page_text(response)  # not offered, not echoed back
    assert_kept(response, purpose=TYPED_PURPOSE)


@pytest.mark.parametrize(
    "basis",
    [choices.LawfulBasis.RECOGNISED_LEGITIMATE_INTEREST, choices.LawfulBasis.LEGITIMATE_INTERESTS],
)
def test_a_public_authority_cannot_rely_on_legitimate_interests_of_either_kind(client, demo, basis):
    riverside_case = Case.objects.get(reference="RIV-002")
    login(client, "otherlead")
    page = get_ok(client, url("share_propose", riverside_case.pk), "Propose a share for Ella")
    mash = Recipient.objects.get(person_name="Jordan Lee")
    before = snapshot()
    data = complete_share(page, mash.pk, purpose=TYPED_PURPOSE, lawful_basis=basis)
    response = client.post(url("share_propose", riverside_case.pk), data)
    assert_refused(
        response,
        "id_lawful_basis",
        f"Riverside Primary School is a public authority, so it cannot rely on {basis.label} "
        "for its tasks. Use Art 6(1)(e) public task",
        before,
    )
    assert_kept(response, purpose=TYPED_PURPOSE)


def test_the_special_category_box_says_which_items_always_count_and_shows_them_ticked(
    client, incomplete_draft
):
    item = incomplete_draft.items.get()
    assert item.category == choices.ItemCategory.HEALTH
    # As stored before health counted whatever its box said.
    incomplete_draft.items.update(is_special_category=False)
    login(client, "practitioner")

    page = get_ok(client, url("share_edit", incomplete_draft.pk), "Weight has dropped")

    assert form_data(page)["items-0-is_special_category"] == "on"
    help_text = text_of_id(page, "id_items-0-is_special_category-help")
    assert "“Health or development”" in help_text
    assert "is always special category data" in help_text
    assert 'aria-describedby="id_items-0-is_special_category-help"' in page.content.decode()
    shown = get_ok(client, url("share_detail", incomplete_draft.pk), "Weight has dropped")
    assert "special category" in texts_of_class(shown, "ss-flag")


# Editing a draft: a refused edit leaves the draft exactly as it was.


def test_submitting_an_incomplete_draft_keeps_its_old_values(client, incomplete_draft):
    login(client, "practitioner")
    page = get_ok(client, url("share_edit", incomplete_draft.pk), "Weight has dropped")
    before = snapshot()
    data = form_data(page, purpose=TYPED_PURPOSE, action="submit")
    response = client.post(url("share_edit", incomplete_draft.pk), data)
    assert_refused(response, "id_lawful_basis", "Choose the lawful basis", before)
    assert "choose the Article 9 condition" in error_text(response, "id_article9_condition")
    necessity = "Say why this item is needed for the purpose."
    assert necessity in error_text(response, "id_items-0-necessity")
    assert necessity in item_block(response, 1)
    incomplete_draft.refresh_from_db()
    assert incomplete_draft.purpose == "Ask the health visitor to check on weight loss."
    assert incomplete_draft.status == choices.ShareStatus.DRAFT
    assert_kept(response, purpose=TYPED_PURPOSE)


@pytest.mark.parametrize("action", ["save", "submit"])
@pytest.mark.parametrize(("changes", "field_id", "message"), FORM_RULES)
def test_editing_a_draft_with_input_the_form_refuses(
    client, incomplete_draft, action, changes, field_id, message
):
    login(client, "practitioner")
    page = get_ok(client, url("share_edit", incomplete_draft.pk))
    before = snapshot()
    data = form_data(page, **{"purpose": TYPED_PURPOSE, **changes, "action": action})
    response = client.post(url("share_edit", incomplete_draft.pk), data)
    assert_refused(response, field_id, message, before)
    assert_kept(response, purpose=data["purpose"])
    incomplete_draft.refresh_from_db()
    assert incomplete_draft.purpose == "Ask the health visitor to check on weight loss."


@pytest.mark.parametrize(("changes", "field_id", "message"), SUBMISSION_RULES)
def test_resubmitting_a_returned_draft_that_breaks_a_rule(
    client, returned_draft, changes, field_id, message
):
    login(client, "practitioner")
    page = get_ok(client, url("share_edit", returned_draft.pk), "Returned by the lead")
    old_purpose = returned_draft.purpose
    before = snapshot()
    data = form_data(page, **{"purpose": TYPED_PURPOSE, **changes, "action": "submit"})
    response = client.post(url("share_edit", returned_draft.pk), data)
    assert_refused(response, field_id, message, before)
    assert_kept(response, purpose=TYPED_PURPOSE)
    # The lead's note is still shown above the form.
    assert "Add what Maisie said about the bruise" in page_text(response)
    returned_draft.refresh_from_db()
    assert returned_draft.purpose == old_purpose
    assert returned_draft.status == choices.ShareStatus.DRAFT


# The lead's decision.

DECISION_RULES = [
    pytest.param(
        {"outcome": "maybe"},
        "id_outcome",
        "Select a valid choice. maybe is not one of the available choices.",
        id="unknown-outcome",
    ),
    pytest.param({"outcome": None}, "id_outcome", "This field is required.", id="no-outcome"),
    pytest.param(
        {"outcome": "refuse"},
        "id_refusal_reason",
        "Choose the main reason for refusing.",
        id="refuse-without-reason-code",
    ),
    pytest.param(
        {"outcome": "refuse", "refusal_reason": "whim"},
        "id_refusal_reason",
        "Select a valid choice. whim is not one of the available choices.",
        id="unknown-reason-code",
    ),
    pytest.param(
        {"outcome": "refuse", "refusal_reason": "not_necessary", "reasons": ""},
        "id_reasons",
        "Explain the refusal in your own words; it is kept on the record.",
        id="refuse-without-free-text",
    ),
    pytest.param(
        {"outcome": "return", "reasons": " "},
        "id_reasons",
        "Say what more information is needed.",
        id="return-without-note",
    ),
    pytest.param(
        {"outcome": "approve", "reasons": ""},
        "id_reasons",
        "Record the reasons for this decision.",
        id="approve-without-reasons",
    ),
    pytest.param(
        {"outcome": "approve_in_part"},
        "id_approved_items",
        "Choose the items that may be released.",
        id="in-part-without-items",
    ),
    pytest.param(
        {"outcome": "approve_in_part", "approved_items": "all"},
        "id_approved_items",
        "Every item is chosen: approve the share in full instead.",
        id="in-part-with-every-item",
    ),
    pytest.param(
        {"outcome": "approve_in_part", "approved_items": "other"},
        "id_approved_items",
        "is not one of the available choices.",
        id="in-part-with-another-shares-item",
    ),
    pytest.param(
        {"outcome": "approve", "reasons": "r" * 4001},
        "id_reasons",
        "Ensure this value has at most 4000 characters (it has 4001).",
        id="oversized-reasons",
    ),
    pytest.param(
        {"outcome": "approve", "conditions": "c" * 2001},
        "id_conditions",
        "Ensure this value has at most 2000 characters (it has 2001).",
        id="oversized-conditions",
    ),
]


@pytest.mark.parametrize(("changes", "field_id", "message"), DECISION_RULES)
def test_a_decision_that_breaks_a_rule(client, awaiting, changes, field_id, message):
    login(client, "lead")
    page = get_ok(client, url("lead_review", awaiting.pk), "Your decision")
    items = [str(pk) for pk in awaiting.items.values_list("pk", flat=True)]
    other = Share.objects.exclude(pk=awaiting.pk).filter(items__isnull=False).first()
    picks = {"all": items, "other": [str(other.items.first().pk)]}
    typed = {"reasons": "Thought about this carefully.", **changes}
    if "approved_items" in typed:
        typed["approved_items"] = picks[typed["approved_items"]]
    before = snapshot()
    response = client.post(url("lead_review", awaiting.pk), form_data(page, **typed))
    assert_refused(response, field_id, message, before)
    awaiting.refresh_from_db()
    assert awaiting.status == choices.ShareStatus.AWAITING_REVIEW
    if typed.get("reasons"):
        assert_kept(response, reasons=typed["reasons"])
    # Still the review page, with the share on it.
    assert "Your decision" in page_text(response)
    assert awaiting.purpose in page_text(response)


def test_a_share_on_a_basis_a_public_authority_may_not_use_cannot_be_approved(client, awaiting):
    # Submitted on Art 6(1)(f) before its setting was recorded as a public authority.
    assert awaiting.lawful_basis == choices.LawfulBasis.LEGITIMATE_INTERESTS
    Organisation.objects.filter(pk=awaiting.case.organisation_id).update(is_public_authority=True)
    login(client, "lead")
    page = get_ok(client, url("lead_review", awaiting.pk), "Your decision")
    before = snapshot()

    response = client.post(
        url("lead_review", awaiting.pk), form_data(page, outcome="approve", reasons="Necessary.")
    )

    assert_refused(
        response,
        "id_outcome",
        "It cannot be approved as it stands. Oakfield Nursery is a public authority, so it "
        "cannot rely on Art 6(1)(f) legitimate interests for its tasks.",
        before,
    )
    assert "Return it to the proposer to put this right, or refuse it." in error_text(
        response, "id_outcome"
    )
    awaiting.refresh_from_db()
    assert awaiting.status == choices.ShareStatus.AWAITING_REVIEW


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"outcome": "approve"}, {"outcome": "approve"}),
        ({"outcome": "approve"}, {"outcome": "refuse", "refusal_reason": "other"}),
        ({"outcome": "return"}, {"outcome": "approve"}),
        ({"outcome": "refuse", "refusal_reason": "already_held"}, {"outcome": "approve"}),
    ],
    ids=["approve-twice", "approve-then-refuse", "return-then-approve", "refuse-then-approve"],
)
def test_a_decision_posted_twice(client, awaiting, first, second):
    login(client, "lead")
    page = get_ok(client, url("lead_review", awaiting.pk))
    reasons = "Decided on the evidence."
    share_from_redirect(
        client.post(url("lead_review", awaiting.pk), form_data(page, reasons=reasons, **first))
    )
    awaiting.refresh_from_db()
    status_after_first = awaiting.status
    before = snapshot()
    response = client.post(
        url("lead_review", awaiting.pk), form_data(page, reasons=reasons, **second)
    )
    assert response.status_code == 400
    summary = " ".join(texts_of_class(response, "ss-error-summary"))
    assert "not awaiting review" in summary
    assert "it may already have been decided" in summary
    assert snapshot() == before
    assert Decision.objects.filter(share=awaiting).count() == 1
    awaiting.refresh_from_db()
    assert awaiting.status == status_after_first


def test_a_practitioner_cannot_use_the_lead_review_page(client, awaiting):
    login(client, "practitioner")
    get_ok(client, url("share_detail", awaiting.pk))  # they may see the share they proposed
    assert client.get(url("lead_review", awaiting.pk)).status_code == 403
    before = snapshot()
    data = {"outcome": "approve", "reasons": "I am sure it is fine."}
    response = client.post(url("lead_review", awaiting.pk), data)
    assert response.status_code == 403
    assert snapshot() == before


def test_a_lead_cannot_decide_a_share_they_proposed(client, demo):
    ava = Case.objects.get(reference="OAK-003")
    social_care = Recipient.objects.get(person_name="Sam Carter")
    login(client, "lead")
    page = get_ok(client, url("share_propose", ava.pk))
    share = share_from_redirect(
        client.post(url("share_propose", ava.pk), complete_share(page, social_care.pk))
    )
    # The review page sends them back to the share, saying who decides; a post is not taken.
    opened = client.get(url("lead_review", share.pk), follow=True)
    assert opened.redirect_chain == [(url("share_detail", share.pk), 302)]
    assert "another lead or deputy decides it" in page_text(opened)
    before = snapshot()
    response = client.post(
        url("lead_review", share.pk), {"outcome": "approve", "reasons": "Mine, agreed."}
    )
    assert response.status_code == 302
    assert snapshot() == before


# Recording the release.


# Stands for a time just before the approval, which the demo's story sets.
BEFORE_APPROVAL = "before-approval"


def release_page(client: Any, share: Share) -> Any:
    login(client, "practitioner")
    return get_ok(client, url("record_release", share.pk), "Record the release")


def confirmed(share: Share) -> dict[str, str]:
    """The flagged item confirmed, so only the field under test is wrong."""
    flagged = share.items.get(identifies_third_party=True)
    return {f"handling_{flagged.pk}": "confirmed"}


@pytest.mark.parametrize(
    ("sent_at", "message"),
    [
        pytest.param("garbage", "Enter a valid date/time.", id="garbage"),
        pytest.param("2025-06-31T10:00", "Enter a valid date/time.", id="impossible-date"),
        pytest.param("", "Enter the date and time the information was sent.", id="missing"),
        pytest.param("2099-01-01T09:00", "The time sent cannot be in the future.", id="future"),
        pytest.param(
            BEFORE_APPROVAL,
            "The time sent cannot be before the share was approved.",
            id="before-approval",
        ),
        pytest.param(
            "2025-03-30T01:30", "couldn’t be interpreted in time zone Europe/London", id="dst-gap"
        ),
    ],
)
def test_release_with_a_bad_time_sent(client, clock, approved, sent_at, message):
    if sent_at == BEFORE_APPROVAL:  # ten minutes before the demo's own approval
        approval = approved.decisions.get().decided_at - timedelta(minutes=10)
        sent_at = timezone.localtime(approval).strftime("%Y-%m-%dT%H:%M")
    page = release_page(client, approved)
    clock.move_to(START + timedelta(hours=2), tick=False)
    note = "Sent from the office laptop."
    before = snapshot()
    response = client.post(
        url("record_release", approved.pk),
        form_data(page, sent_at=sent_at, note=note, **confirmed(approved)),
    )
    assert_refused(response, "id_sent_at", message, before)
    assert_kept(response, note=note, sent_at=sent_at)
    approved.refresh_from_db()
    assert approved.status == choices.ShareStatus.APPROVED


def test_release_without_redacting_or_confirming_a_flagged_item(client, clock, approved):
    page = release_page(client, approved)
    flagged = approved.items.get(identifies_third_party=True)
    before = snapshot()
    data = form_data(page, sent_at=sent_at_typed(clock, START), note="Typed note.")
    response = client.post(url("record_release", approved.pk), data)
    assert_refused(
        response,
        f"id_handling_{flagged.pk}",
        "redact it, or confirm it must be sent as written.",
        before,
    )
    assert_kept(response, note="Typed note.")


def test_release_redacted_without_redacted_text(client, clock, approved):
    page = release_page(client, approved)
    flagged = approved.items.get(identifies_third_party=True)
    before = snapshot()
    data = form_data(
        page,
        sent_at=sent_at_typed(clock, START),
        **{f"handling_{flagged.pk}": "redacted", f"redacted_{flagged.pk}": "  "},
    )
    response = client.post(url("record_release", approved.pk), data)
    assert_refused(
        response, f"id_redacted_{flagged.pk}", "Enter the redacted text that will be sent.", before
    )


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        pytest.param(
            "Another parent, Ms J. Rowe, reported shouting heard from the flat.",
            "This is the original text: take out what identifies someone else",
            id="the-original",
        ),
        pytest.param(
            "Another parent, Ms Rowe, reported shouting heard from the flat.",
            "The redacted text still contains “Rowe”",
            id="the-surname-left-in",
        ),
    ],
)
def test_release_redacted_with_nothing_taken_out(client, clock, approved, typed, message):
    """The redacted text starts empty; the original, or one still naming the person the
    proposer flagged, is refused beside it, with what was typed kept and nothing written."""
    page = release_page(client, approved)
    flagged = approved.items.get(identifies_third_party=True)
    name = f"redacted_{flagged.pk}"
    assert form_data(page)[name] == ""
    assert "without: Ms J. Rowe" in page_text(page)
    before = snapshot()
    data = form_data(
        page,
        sent_at=sent_at_typed(clock, START),
        note="Typed note.",
        **{f"handling_{flagged.pk}": "redacted", name: typed},
    )
    response = client.post(url("record_release", approved.pk), data)
    assert_refused(response, f"id_{name}", message, before)
    assert_kept(response, note="Typed note.", **{name: typed})


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("handling", "shrug", "Select a valid choice. shrug is not one of the available choices."),
        ("redacted", "x" * 8001, "at most 8000 characters (it has 8001)"),
        ("note", "n" * 2001, "at most 2000 characters (it has 2001)"),
    ],
)
def test_release_with_input_the_form_refuses(client, clock, approved, field, value, message):
    page = release_page(client, approved)
    flagged = approved.items.get(identifies_third_party=True)
    name = field if field == "note" else f"{field}_{flagged.pk}"
    typed = {
        f"handling_{flagged.pk}": "redacted",
        f"redacted_{flagged.pk}": "Redacted.",
        name: value,
    }
    before = snapshot()
    response = client.post(
        url("record_release", approved.pk),
        form_data(page, sent_at=sent_at_typed(clock, START), **typed),
    )
    assert_refused(response, f"id_{name}", message, before)


def test_a_release_posted_twice(client, clock, approved):
    page = release_page(client, approved)
    data = form_data(page, sent_at=sent_at_typed(clock, START), **confirmed(approved))
    share_from_redirect(client.post(url("record_release", approved.pk), data))
    release = Release.objects.get(share=approved)
    before = snapshot()
    response = client.post(url("record_release", approved.pk), data)
    assert response.status_code == 400
    assert "This share is released; only an approved share can be released." in texts_of_class(
        response, "ss-error-summary"
    )
    assert snapshot() == before
    assert list(Release.objects.filter(share=approved)) == [release]


def post_release_out_of_turn(client: Any, share: Share, username: str) -> Any:
    login(client, username)
    before = snapshot()
    response = client.post(
        url("record_release", share.pk),
        {"sent_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"), "note": "Out of turn."},
    )
    assert response.status_code == 400
    assert (
        f"This share is {share.get_status_display().lower()}; only an approved share can be "
        "released." in texts_of_class(response, "ss-error-summary")
    )
    assert snapshot() == before
    return response


@pytest.mark.parametrize("username", ["practitioner", "lead"])
@pytest.mark.parametrize(
    "which",
    [
        pytest.param("refused", id="refused"),
        pytest.param("returned", id="returned-draft"),
        pytest.param("released", id="released"),
        pytest.param("awaiting", id="awaiting-review"),
        pytest.param("draft", id="never-submitted-draft"),
        pytest.param("withdrawn", id="withdrawn"),
    ],
)
def test_a_release_posted_for_a_share_that_is_not_approved(client, clock, demo, which, username):
    """A stale tab or a crafted POST: refused with the service's message, never a 500.

    Regression: a share never decided (awaiting review, a first draft, withdrawn) used to
    crash the re-rendered page on its missing decision.
    """
    oakfield = Share.objects.filter(case__organisation__name="Oakfield Nursery")
    share = {
        "refused": lambda: oakfield.get(status="refused"),
        "returned": lambda: oakfield.get(status="draft", decisions__outcome="return"),
        "released": lambda: oakfield.get(status="released"),
        "awaiting": lambda: oakfield.get(status="awaiting_review"),
        "draft": lambda: oakfield.get(status="draft", decisions__isnull=True),
        "withdrawn": lambda: oakfield.get(status="withdrawn"),
    }[which]()
    # The page itself only says where the share is now.
    login(client, username)
    assert client.get(url("record_release", share.pk))["Location"] == url("share_detail", share.pk)
    post_release_out_of_turn(client, share, username)


# Withdrawing a draft.


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        pytest.param(None, "This field is required.", id="no-reason"),
        pytest.param("", "This field is required.", id="blank-reason"),
        pytest.param("   \n ", "This field is required.", id="whitespace-reason"),
        pytest.param(
            "w" * 2001, "Ensure this value has at most 2000 characters (it has 2001).", id="long"
        ),
    ],
)
def test_withdrawing_without_a_proper_reason(client, incomplete_draft, reason, message):
    login(client, "practitioner")
    page = get_ok(client, url("share_withdraw", incomplete_draft.pk), "Withdraw share")
    before = snapshot()
    data = form_data(page) if reason is None else form_data(page, reason=reason)
    if reason is None:
        data.pop("reason", None)
    response = client.post(url("share_withdraw", incomplete_draft.pk), data)
    assert_refused(response, "id_reason", message, before)
    if reason and reason.strip():
        assert_kept(response, reason=reason)
    incomplete_draft.refresh_from_db()
    assert incomplete_draft.status == choices.ShareStatus.DRAFT
    assert incomplete_draft.withdrawn_reason == ""


def test_a_withdrawal_posted_twice(client, incomplete_draft):
    login(client, "practitioner")
    page = get_ok(client, url("share_withdraw", incomplete_draft.pk))
    share_from_redirect(
        client.post(url("share_withdraw", incomplete_draft.pk), form_data(page, reason="First."))
    )
    before = snapshot()
    response = client.post(
        url("share_withdraw", incomplete_draft.pk), form_data(page, reason="Second.")
    )
    assert response.status_code == 302
    assert response["Location"] == url("share_detail", incomplete_draft.pk)
    assert snapshot() == before
    incomplete_draft.refresh_from_db()
    assert incomplete_draft.withdrawn_reason == "First."
    assert "This share is now withdrawn." in page_text(client.get(response["Location"]))


@pytest.mark.parametrize("name", ["share_edit", "share_withdraw"])
def test_only_the_proposer_may_change_or_withdraw_a_draft(client, incomplete_draft, name):
    login(client, "lead")
    get_ok(client, url("share_detail", incomplete_draft.pk))  # the lead may read it
    assert client.get(url(name, incomplete_draft.pk)).status_code == 403
    before = snapshot()
    response = client.post(
        url(name, incomplete_draft.pk), {"reason": "Not needed.", "purpose": "x", "action": "save"}
    )
    assert response.status_code == 403
    assert snapshot() == before


# People who may not see the share: "not found" for every page of it, and nothing of the child.

OUTSIDERS = ["colleague", "otherlead", "manager", "auditor"]
SHARE_PAGES = ["share_detail", "share_edit", "share_withdraw", "lead_review", "record_release"]
OAKFIELD_CHILDREN = ["Maisie", "Thompson", "Okafor", "Ava Patel", "Leo Okafor"]


def everything_a_post_could_carry(share: Share) -> dict[str, Any]:
    item_ids = [str(pk) for pk in share.items.values_list("pk", flat=True)]
    data: dict[str, Any] = {
        "action": "submit",
        "purpose": "Overwritten by someone who should not be here.",
        "direction": "outbound",
        "urgency": "routine",
        "items-TOTAL_FORMS": "0",
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "50",
        "reason": "Withdrawn by an outsider.",
        "outcome": "approve",
        "reasons": "Approved by an outsider.",
        "approved_items": item_ids,
        "sent_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
    }
    for pk in item_ids:
        data[f"handling_{pk}"] = "confirmed"
    return data


def assert_not_found(response: Any) -> None:
    assert response.status_code == 404
    body = response.content.decode()
    for name in OAKFIELD_CHILDREN:
        assert name not in body, name


@pytest.mark.parametrize("username", OUTSIDERS)
@pytest.mark.parametrize("status", choices.ShareStatus.values)
def test_outsiders_get_not_found_for_every_page_of_an_oakfield_share(
    client, clock, demo, username, status
):
    share = Share.objects.filter(case__organisation__name="Oakfield Nursery", status=status).first()
    assert share is not None, status
    client.force_login(user(username))
    before = snapshot()
    clock.move_to(START + timedelta(hours=1), tick=False)
    data = everything_a_post_could_carry(share)
    for name in SHARE_PAGES:
        assert_not_found(client.get(url(name, share.pk)))
        if name == "share_detail":
            # A read-only page takes no POST from anyone: 405, exactly as for a share that
            # does not exist, so the answer says nothing about this one.
            response = client.post(url(name, share.pk), data)
            assert response.status_code == 405
            assert client.post(url(name, 999999), data).status_code == 405
            assert not any(child in response.content.decode() for child in OAKFIELD_CHILDREN)
        else:
            assert_not_found(client.post(url(name, share.pk), data))
    assert snapshot() == before


@pytest.mark.parametrize("username", OUTSIDERS)
@pytest.mark.parametrize("reference", ["OAK-001", "OAK-002", "OAK-003"])
def test_outsiders_get_not_found_for_an_oakfield_case(client, demo, username, reference):
    case = Case.objects.get(reference=reference)
    login(client, username)
    social_care = Recipient.objects.get(person_name="Sam Carter")
    before = snapshot()
    assert_not_found(client.get(url("case_detail", case.pk)))
    assert_not_found(client.get(url("share_propose", case.pk)))
    data = {
        "action": "submit",
        "purpose": "Proposed by an outsider.",
        "direction": "outbound",
        "urgency": "routine",
        "recipient": str(social_care.pk),
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "0",
        "items-0-category": "observation",
        "items-0-content": "Something seen.",
        "items-0-necessity": "Because.",
    }
    for action in ("save", "submit"):
        assert_not_found(client.post(url("share_propose", case.pk), {**data, "action": action}))
    assert snapshot() == before


@pytest.mark.parametrize("username", OUTSIDERS)
def test_outsiders_lists_show_no_oakfield_child(client, demo, username):
    login(client, username)
    for name in ("case_list", "my_shares", "review_queue"):
        response = get_ok(client, url(name))
        body = response.content.decode()
        for child in OAKFIELD_CHILDREN:
            assert child not in body, (name, child)
