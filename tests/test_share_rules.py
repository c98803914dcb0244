"""Submission rules: every golden rule a draft must meet, refused and accepted.

Each refusal is checked twice over: the service raises ``RuleViolation`` keyed by the field
at fault, and nothing was written (no share, or the share is still the same draft).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import choices
from cases.models import Case, Organisation, Recipient, Share, ShareItem
from cases.services import RuleViolation, case_team_add, share_update_draft
from workflows import steps
from workflows.flows import ShareFlow
from workflows.models import ShareProcess

from .factories import (
    CaseFactory,
    MembershipFactory,
    RecipientFactory,
    UserFactory,
    complete_fields,
    item,
)

C = choices

# ---------------------------------------------------------------- helpers


def violation(action: Callable[[], Any]) -> dict[str, list[str]]:
    """Run an action that must be refused; return the refusal's messages by field."""
    with pytest.raises(RuleViolation) as caught:
        action()
    return caught.value.message_dict


def special(**overrides: Any) -> dict[str, Any]:
    return item(
        category=C.ItemCategory.HEALTH,
        content="Diagnosed with asthma; inhaler not being brought in.",
        is_special_category=True,
        **overrides,
    )


def assert_nothing_proposed() -> None:
    assert Share.objects.count() == 0
    assert ShareItem.objects.count() == 0
    assert ShareProcess.objects.count() == 0
    assert Task.objects.count() == 0


def assert_still_an_open_draft(share: Share) -> None:
    share.refresh_from_db()
    assert share.status == C.ShareStatus.DRAFT
    assert share.submitted_at is None
    tasks = Task.objects.filter(process=share.process)
    assert tasks.filter(flow_task=ShareFlow.lead_review).count() == 0
    draft_task = tasks.get(flow_task=ShareFlow.draft)
    assert draft_task.status == STATUS.ASSIGNED
    assert draft_task.finished is None


def assert_submitted(share: Share) -> None:
    share.refresh_from_db()
    assert share.status == C.ShareStatus.AWAITING_REVIEW
    assert share.submitted_at is not None
    assert Task.objects.filter(process=share.process, flow_task=ShareFlow.lead_review).count() == 1


@pytest.fixture
def propose(case: Case, practitioner: Any, recipient: Recipient) -> Callable[..., Share]:
    """Propose a draft for the Oakfield case, overriding fields of a complete share."""

    def _propose(items: list[dict[str, Any]] | None = None, **overrides: Any) -> Share:
        fields = complete_fields(recipient)
        fields.update(overrides)
        return steps.propose(
            case=case,
            user=practitioner,
            fields=fields,
            items=[item()] if items is None else items,
        )

    return _propose


@pytest.fixture
def riverside_practitioner(riverside: Organisation) -> Any:
    user = UserFactory(username="rita")
    MembershipFactory(user=user, organisation=riverside, role=C.Role.PRACTITIONER)
    return user


@pytest.fixture
def riverside_case(riverside: Organisation, riverside_practitioner: Any) -> Case:
    case = CaseFactory(organisation=riverside)
    case_team_add(case=case, user=riverside_practitioner)
    return case


@pytest.fixture
def riverside_recipient(riverside: Organisation) -> Recipient:
    return RecipientFactory(organisation=riverside, person_name="Riverside contact")


# ---------------------------------------------------------------- the baseline


def test_a_complete_draft_passes_every_rule_and_goes_to_review(propose, practitioner):
    share = propose()
    assert_still_an_open_draft(share)

    steps.submit(share=share, user=practitioner)

    assert_submitted(share)


# ---------------------------------------------------------------- refused at submission

SUBMISSION_REFUSALS = [
    pytest.param({"lawful_basis": ""}, None, "lawful_basis", id="lawful-basis-required"),
    pytest.param(
        {"lawful_basis": C.LawfulBasis.PUBLIC_TASK, "lawful_basis_power": ""},
        None,
        "lawful_basis_power",
        id="public-task-needs-the-power",
    ),
    pytest.param(
        {"article9_condition": ""},
        [special()],
        "article9_condition",
        id="special-category-needs-art9",
    ),
    pytest.param(
        {"article9_condition": C.Article9Condition.SUBSTANTIAL_PUBLIC_INTEREST},
        [special()],
        "schedule1_paragraph",
        id="9-2-g-needs-a-schedule1-paragraph",
    ),
    pytest.param(
        {"article9_condition": C.Article9Condition.HEALTH_OR_SOCIAL_CARE},
        [special()],
        "schedule1_paragraph",
        id="9-2-h-needs-a-schedule1-paragraph",
    ),
    pytest.param(
        {
            "article9_condition": C.Article9Condition.SUBSTANTIAL_PUBLIC_INTEREST,
            "schedule1_paragraph": C.Schedule1Paragraph.PARA_2,
        },
        [special()],
        "schedule1_paragraph",
        id="9-2-g-with-para-2-mismatched",
    ),
    pytest.param(
        {
            "article9_condition": C.Article9Condition.HEALTH_OR_SOCIAL_CARE,
            "schedule1_paragraph": C.Schedule1Paragraph.PARA_6,
        },
        [special()],
        "schedule1_paragraph",
        id="9-2-h-with-para-6-mismatched",
    ),
    pytest.param(
        {
            "article9_condition": C.Article9Condition.HEALTH_OR_SOCIAL_CARE,
            "schedule1_paragraph": C.Schedule1Paragraph.PARA_18,
            "para18_reason": C.Para18Reason.CANNOT_BE_GIVEN,
        },
        [special()],
        "schedule1_paragraph",
        id="9-2-h-with-para-18-mismatched",
    ),
    pytest.param(
        {
            "article9_condition": C.Article9Condition.HEALTH_OR_SOCIAL_CARE,
            "schedule1_paragraph": C.Schedule1Paragraph.PARA_10,
        },
        [special()],
        "schedule1_paragraph",
        id="9-2-h-with-para-10-mismatched",
    ),
    pytest.param(
        {
            "article9_condition": C.Article9Condition.VITAL_INTERESTS,
            "schedule1_paragraph": C.Schedule1Paragraph.PARA_18,
            "para18_reason": C.Para18Reason.CANNOT_BE_GIVEN,
        },
        [special()],
        "schedule1_paragraph",
        id="9-2-c-takes-no-schedule1-paragraph",
    ),
    pytest.param(
        {
            "article9_condition": C.Article9Condition.SUBSTANTIAL_PUBLIC_INTEREST,
            "schedule1_paragraph": C.Schedule1Paragraph.PARA_18,
            "para18_reason": "",
        },
        [special()],
        "para18_reason",
        id="para-18-needs-its-reason",
    ),
    pytest.param({"consent_status": ""}, None, "consent_status", id="consent-status-required"),
    pytest.param(
        {"consent_status": C.ConsentStatus.NOT_SOUGHT, "consent_not_sought_reason": ""},
        None,
        "consent_not_sought_reason",
        id="not-sought-needs-a-reason",
    ),
    pytest.param(
        {"consent_status": C.ConsentStatus.REFUSED, "consent_override_justification": ""},
        None,
        "consent_override_justification",
        id="refused-consent-needs-override-justification",
    ),
    pytest.param(
        {"consent_status": C.ConsentStatus.REFUSED, "consent_override_justification": "   "},
        None,
        "consent_override_justification",
        id="blank-override-justification-is-not-a-justification",
    ),
    pytest.param({"risk_if_shared": ""}, None, "risk_if_shared", id="risk-if-shared-required"),
    pytest.param(
        {"risk_if_shared": "  \n "}, None, "risk_if_shared", id="risk-if-shared-not-blank"
    ),
    pytest.param(
        {"risk_if_not_shared": ""}, None, "risk_if_not_shared", id="risk-if-not-shared-required"
    ),
    pytest.param(
        {"risk_if_not_shared": "   "},
        None,
        "risk_if_not_shared",
        id="risk-if-not-shared-not-blank",
    ),
    pytest.param({}, [], "items", id="at-least-one-item"),
    pytest.param({}, [item(necessity="")], "items.0.necessity", id="item-needs-necessity"),
    pytest.param(
        {},
        [item(), item(necessity="   ")],
        "items.1.necessity",
        id="every-item-needs-necessity",
    ),
    pytest.param({"recipient": None}, None, "recipient", id="recipient-required"),
    pytest.param({"sending_method": ""}, None, "sending_method", id="sending-method-required"),
    pytest.param({"purpose": ""}, None, "purpose", id="purpose-required"),
    pytest.param(
        {"direction": C.Direction.INBOUND, "requested_by": ""},
        None,
        "requested_by",
        id="inbound-needs-requested-by",
    ),
]


@pytest.mark.parametrize(("overrides", "items", "key"), SUBMISSION_REFUSALS)
def test_a_draft_breaking_a_submission_rule_is_refused_and_stays_a_draft(
    propose, practitioner, overrides, items, key
):
    share = propose(items=items, **overrides)  # drafts may be incomplete

    errors = violation(lambda: steps.submit(share=share, user=practitioner))

    assert key in errors
    assert all(message.strip() for message in errors[key])
    assert_still_an_open_draft(share)


def test_every_broken_rule_is_reported_at_once(propose, practitioner):
    share = propose(
        items=[],
        lawful_basis="",
        consent_status="",
        risk_if_shared="",
        risk_if_not_shared="",
        recipient=None,
        sending_method="",
    )

    errors = violation(lambda: steps.submit(share=share, user=practitioner))

    assert {
        "lawful_basis",
        "consent_status",
        "risk_if_shared",
        "risk_if_not_shared",
        "recipient",
        "sending_method",
        "items",
    } <= set(errors)
    assert_still_an_open_draft(share)


# ---------------------------------------------------------------- accepted at submission

SUBMISSION_ACCEPTANCES = [
    pytest.param({"lawful_basis": C.LawfulBasis.LEGAL_OBLIGATION}, None, id="legal-obligation"),
    pytest.param(
        {
            "lawful_basis": C.LawfulBasis.PUBLIC_TASK,
            "lawful_basis_power": "Children Act 2004 s11",
        },
        None,
        id="public-task-with-power",
    ),
    pytest.param(
        {
            "article9_condition": C.Article9Condition.SUBSTANTIAL_PUBLIC_INTEREST,
            "schedule1_paragraph": C.Schedule1Paragraph.PARA_18,
            "para18_reason": C.Para18Reason.WOULD_PREJUDICE_PROTECTION,
        },
        [special()],
        id="9-2-g-para-18-with-reason",
    ),
    pytest.param(
        {
            "article9_condition": C.Article9Condition.SUBSTANTIAL_PUBLIC_INTEREST,
            "schedule1_paragraph": C.Schedule1Paragraph.PARA_6,
        },
        [special()],
        id="9-2-g-para-6",
    ),
    pytest.param(
        {
            "article9_condition": C.Article9Condition.SUBSTANTIAL_PUBLIC_INTEREST,
            "schedule1_paragraph": C.Schedule1Paragraph.PARA_10,
        },
        [special()],
        id="9-2-g-para-10-for-a-police-request",
    ),
    pytest.param(
        {
            "article9_condition": C.Article9Condition.HEALTH_OR_SOCIAL_CARE,
            "schedule1_paragraph": C.Schedule1Paragraph.PARA_2,
        },
        [special()],
        id="9-2-h-para-2",
    ),
    pytest.param(
        {"article9_condition": C.Article9Condition.VITAL_INTERESTS},
        [special()],
        id="9-2-c-stands-alone",
    ),
    pytest.param(
        {
            "article9_condition": C.Article9Condition.EXPLICIT_CONSENT,
            "consent_status": C.ConsentStatus.GIVEN,
        },
        [special()],
        id="9-2-a-stands-alone",
    ),
    pytest.param({}, [item(), item(category=C.ItemCategory.ATTENDANCE)], id="two-items"),
    pytest.param({"consent_status": C.ConsentStatus.GIVEN}, None, id="consent-given"),
    pytest.param(
        {
            "consent_status": C.ConsentStatus.REFUSED,
            "consent_override_justification": "Sharing is needed to protect the child.",
        },
        None,
        id="consent-refused-with-justification",
    ),
    pytest.param(
        {"direction": C.Direction.INBOUND, "requested_by": "Sam Carter, duty social worker"},
        None,
        id="inbound-with-requested-by",
    ),
    pytest.param(
        {"statutory_gateways": [C.StatutoryGateway.CA1989_S47, C.StatutoryGateway.CA2004_S11]},
        None,
        id="known-gateways",
    ),
]


@pytest.mark.parametrize(("overrides", "items"), SUBMISSION_ACCEPTANCES)
def test_a_draft_meeting_the_rule_is_submitted(propose, practitioner, overrides, items):
    share = propose(items=items, **overrides)

    steps.submit(share=share, user=practitioner)

    assert_submitted(share)


@pytest.mark.parametrize(
    "condition",
    [C.Article9Condition.SUBSTANTIAL_PUBLIC_INTEREST, C.Article9Condition.HEALTH_OR_SOCIAL_CARE],
)
def test_a_missing_schedule1_paragraph_is_asked_for_not_called_a_mismatch(
    propose, practitioner, condition
):
    share = propose(items=[special()], article9_condition=condition, schedule1_paragraph="")

    errors = violation(lambda: steps.submit(share=share, user=practitioner))

    assert errors["schedule1_paragraph"] == [
        "Choose the DPA 2018 Schedule 1 paragraph that goes with this Article 9 condition."
    ]
    assert_still_an_open_draft(share)


def test_a_non_special_share_needs_no_article9_condition(propose, practitioner):
    share = propose(items=[item(is_special_category=False)], article9_condition="")

    steps.submit(share=share, user=practitioner)

    assert_submitted(share)


# ---------------------------------------------------------------- special category by nature

SPECIAL_BY_NATURE = sorted(C.SPECIAL_CATEGORY_BY_NATURE)


def test_health_and_development_is_special_category_by_nature():
    assert C.ItemCategory.HEALTH in C.SPECIAL_CATEGORY_BY_NATURE
    assert C.ItemCategory.ETHNICITY_RELIGION_OR_SEXUALITY in C.SPECIAL_CATEGORY_BY_NATURE
    # A concern or an observation may or may not reveal such things: its box says.
    assert C.ItemCategory.CONCERN not in C.SPECIAL_CATEGORY_BY_NATURE


@pytest.mark.parametrize("category", SPECIAL_BY_NATURE)
def test_an_item_special_by_nature_needs_art9_though_its_box_is_unticked(
    propose, practitioner, category
):
    share = propose(
        items=[item(), item(category=category, is_special_category=False)], article9_condition=""
    )

    errors = violation(lambda: steps.submit(share=share, user=practitioner))

    message = " ".join(errors["article9_condition"])
    assert "choose the Article 9 condition" in message
    label = C.ItemCategory(category).label
    assert f"Item 2 ({label}): information of that kind is always special category" in message
    assert_still_an_open_draft(share)


@pytest.mark.parametrize("category", SPECIAL_BY_NATURE)
def test_an_item_special_by_nature_needs_its_schedule1_paragraph_too(
    propose, practitioner, category
):
    share = propose(
        items=[item(category=category, is_special_category=False)],
        article9_condition=C.Article9Condition.SUBSTANTIAL_PUBLIC_INTEREST,
        schedule1_paragraph="",
    )

    errors = violation(lambda: steps.submit(share=share, user=practitioner))

    assert "schedule1_paragraph" in errors
    assert_still_an_open_draft(share)


def test_an_item_special_by_nature_is_stored_as_special_category(propose):
    share = propose(items=[item(category=C.ItemCategory.HEALTH, is_special_category=False), item()])

    assert list(share.items.values_list("is_special_category", flat=True)) == [True, False]


def test_a_health_item_saved_unticked_before_the_rule_counts_and_is_submitted_as_special(
    propose, practitioner
):
    share = propose(items=[item(category=C.ItemCategory.HEALTH)], article9_condition="")
    # As it was stored before health counted whatever the box said.
    ShareItem.objects.filter(share=share).update(is_special_category=False)

    errors = violation(lambda: steps.submit(share=share, user=practitioner))
    assert "article9_condition" in errors
    assert_still_an_open_draft(share)

    Share.objects.filter(pk=share.pk).update(
        article9_condition=C.Article9Condition.SUBSTANTIAL_PUBLIC_INTEREST,
        schedule1_paragraph=C.Schedule1Paragraph.PARA_18,
        para18_reason=C.Para18Reason.WOULD_PREJUDICE_PROTECTION,
    )
    steps.submit(share=share, user=practitioner)

    assert_submitted(share)
    frozen = share.versions.get().content["items"][0]
    assert frozen["is_special_category"] is True


def test_a_stand_alone_condition_is_told_to_leave_the_paragraph_empty(propose, practitioner):
    share = propose(
        items=[special()],
        article9_condition=C.Article9Condition.EXPLICIT_CONSENT,
        schedule1_paragraph=C.Schedule1Paragraph.PARA_10,
        consent_status=C.ConsentStatus.GIVEN,
    )

    errors = violation(lambda: steps.submit(share=share, user=practitioner))

    assert errors["schedule1_paragraph"] == [
        "Art 9(2)(a) explicit consent stands alone: it needs no DPA 2018 Schedule 1 "
        "paragraph, so leave the paragraph empty."
    ]
    assert_still_an_open_draft(share)


# ---------------------------------------------------------------- Art 6(1)(ea) and (f)


@pytest.mark.parametrize(
    "basis", [C.LawfulBasis.RECOGNISED_LEGITIMATE_INTEREST, C.LawfulBasis.LEGITIMATE_INTERESTS]
)
def test_legitimate_interests_of_either_kind_are_refused_for_a_public_authority(
    riverside_case, riverside_practitioner, riverside_recipient, basis
):
    share = steps.propose(
        case=riverside_case,
        user=riverside_practitioner,
        fields=complete_fields(riverside_recipient, lawful_basis=basis),
        items=[item()],
    )

    errors = violation(lambda: steps.submit(share=share, user=riverside_practitioner))

    assert errors["lawful_basis"] == [
        f"Riverside is a public authority, so it cannot rely on {basis.label} for its tasks. "
        "Use Art 6(1)(e) public task (naming the power, for example Children Act 2004 s11) "
        "or Art 6(1)(c) legal obligation."
    ]
    assert_still_an_open_draft(share)


def test_a_public_authority_may_rely_on_its_public_task(
    riverside_case, riverside_practitioner, riverside_recipient
):
    share = steps.propose(
        case=riverside_case,
        user=riverside_practitioner,
        fields=complete_fields(
            riverside_recipient,
            lawful_basis=C.LawfulBasis.PUBLIC_TASK,
            lawful_basis_power="Children Act 2004 s11",
        ),
        items=[item()],
    )

    steps.submit(share=share, user=riverside_practitioner)

    assert_submitted(share)


@pytest.mark.parametrize(
    "basis", [C.LawfulBasis.RECOGNISED_LEGITIMATE_INTEREST, C.LawfulBasis.LEGITIMATE_INTERESTS]
)
def test_legitimate_interests_of_either_kind_are_accepted_for_a_non_public_setting(
    propose, practitioner, oakfield, basis
):
    assert not oakfield.is_public_authority
    share = propose(lawful_basis=basis)

    steps.submit(share=share, user=practitioner)

    assert_submitted(share)


def test_public_task_with_a_blank_power_is_refused(propose, practitioner):
    share = propose(lawful_basis=C.LawfulBasis.PUBLIC_TASK, lawful_basis_power="   ")

    errors = violation(lambda: steps.submit(share=share, user=practitioner))

    assert "lawful_basis_power" in errors
    assert_still_an_open_draft(share)


# ---------------------------------------------------------------- refused when proposed


PROPOSAL_REFUSALS = [
    pytest.param({"lawful_basis": "zzz"}, None, "lawful_basis", id="unknown-lawful-basis"),
    pytest.param({"article9_condition": "9_9_z"}, None, "article9_condition", id="unknown-art9"),
    pytest.param(
        {"schedule1_paragraph": "para_99"},
        None,
        "schedule1_paragraph",
        id="unknown-schedule1-paragraph",
    ),
    pytest.param({"para18_reason": "because"}, None, "para18_reason", id="unknown-para18"),
    pytest.param(
        {"statutory_gateways": ["nope"]}, None, "statutory_gateways", id="unknown-gateway"
    ),
    pytest.param(
        {"statutory_gateways": [C.StatutoryGateway.CA2004_S11, "nope"]},
        None,
        "statutory_gateways",
        id="one-unknown-gateway-among-known",
    ),
    pytest.param(
        {"statutory_gateways": "ca2004_s11"},
        None,
        "statutory_gateways",
        id="gateways-must-be-a-list",
    ),
    pytest.param({"consent_status": "maybe"}, None, "consent_status", id="unknown-consent"),
    pytest.param(
        {"consent_not_sought_reason": "forgot"},
        None,
        "consent_not_sought_reason",
        id="unknown-not-sought-reason",
    ),
    pytest.param({"sending_method": "carrier_pigeon"}, None, "sending_method", id="unknown-method"),
    pytest.param({"direction": "sideways"}, None, "direction", id="unknown-direction"),
    pytest.param({"urgency": "whenever"}, None, "urgency", id="unknown-urgency"),
    pytest.param({}, [item(category="gossip")], "items.0.category", id="unknown-item-category"),
    pytest.param({"purpose": "x" * 2001}, None, "purpose", id="purpose-over-2000"),
    pytest.param(
        {"risk_if_shared": "x" * 4001}, None, "risk_if_shared", id="risk-if-shared-over-4000"
    ),
    pytest.param(
        {"consent_override_justification": "x" * 4001},
        None,
        "consent_override_justification",
        id="override-justification-over-4000",
    ),
    pytest.param(
        {"lawful_basis_power": "x" * 301}, None, "lawful_basis_power", id="power-over-300"
    ),
    pytest.param({}, [item(content="x" * 8001)], "items.0.content", id="item-content-over-8000"),
    pytest.param(
        {}, [item(), item(necessity="x" * 2001)], "items.1.necessity", id="necessity-over-2000"
    ),
    pytest.param({}, [item(content="")], "items.0.content", id="item-content-required"),
]


@pytest.mark.parametrize(("overrides", "items", "key"), PROPOSAL_REFUSALS)
def test_a_proposal_with_an_unknown_or_oversized_value_is_refused_and_nothing_is_saved(
    propose, overrides, items, key
):
    errors = violation(lambda: propose(items=items, **overrides))

    assert key in errors
    assert_nothing_proposed()


def test_oversized_text_is_refused_with_a_message_giving_the_limit_and_the_length(propose):
    errors = violation(lambda: propose(purpose="x" * 2001))

    assert any("2000" in message and "2001" in message for message in errors["purpose"])
    assert_nothing_proposed()


def test_oversized_item_content_is_refused_with_a_message_giving_the_limit(propose):
    errors = violation(lambda: propose(items=[item(content="y" * 8001)]))

    assert any("8000" in message and "8001" in message for message in errors["items.0.content"])
    assert_nothing_proposed()


def test_text_at_its_limit_is_accepted(propose, practitioner):
    share = propose(purpose="p" * 2000, items=[item(content="c" * 8000)])

    steps.submit(share=share, user=practitioner)

    assert_submitted(share)
    assert len(share.purpose) == 2000
    assert len(share.items.get().content) == 8000


def test_a_recipient_from_another_settings_address_book_is_refused(propose, riverside):
    outsider = RecipientFactory(organisation=riverside)

    errors = violation(lambda: propose(recipient=outsider))

    assert "recipient" in errors
    assert "address book" in " ".join(errors["recipient"])
    assert_nothing_proposed()


def test_a_recipient_no_longer_in_the_settings_address_book_is_refused_at_submission(
    propose, practitioner, recipient, riverside
):
    share = propose()
    recipient.organisation = riverside  # the address-book entry moved to another setting
    recipient.save()

    errors = violation(lambda: steps.submit(share=share, user=practitioner))

    assert "address book" in " ".join(errors["recipient"])
    assert_still_an_open_draft(share)


def test_a_proposal_cannot_set_fields_outside_the_form_such_as_status(propose):
    errors = violation(lambda: propose(status=C.ShareStatus.APPROVED))

    assert "__all__" in errors
    assert_nothing_proposed()


# ---------------------------------------------------------------- who may propose


def test_a_practitioner_on_the_case_team_may_propose(case, practitioner, recipient):
    share = steps.propose(
        case=case, user=practitioner, fields=complete_fields(recipient), items=[item()]
    )

    assert share.proposed_by == practitioner
    assert share.status == C.ShareStatus.DRAFT
    assert Task.objects.get(process=share.process, flow_task=ShareFlow.draft).owner == (
        practitioner
    )


def test_a_practitioner_not_on_the_case_team_cannot_propose_for_the_case(
    case, colleague, recipient
):
    errors = violation(
        lambda: steps.propose(
            case=case, user=colleague, fields=complete_fields(recipient), items=[item()]
        )
    )

    assert "__all__" in errors
    assert_nothing_proposed()


def test_the_lead_of_another_setting_cannot_propose_for_the_case(case, other_lead, recipient):
    errors = violation(
        lambda: steps.propose(
            case=case, user=other_lead, fields=complete_fields(recipient), items=[item()]
        )
    )

    assert "__all__" in errors
    assert_nothing_proposed()


@pytest.mark.parametrize("persona", ["manager", "auditor"])
def test_a_manager_or_auditor_cannot_propose(request, case, recipient, persona):
    user = request.getfixturevalue(persona)

    errors = violation(
        lambda: steps.propose(
            case=case, user=user, fields=complete_fields(recipient), items=[item()]
        )
    )

    assert "__all__" in errors
    assert_nothing_proposed()


def test_no_share_can_be_proposed_for_a_closed_case(case, practitioner, recipient):
    from django.utils import timezone

    case.closed_at = timezone.now()
    case.save()

    errors = violation(
        lambda: steps.propose(
            case=case, user=practitioner, fields=complete_fields(recipient), items=[item()]
        )
    )

    assert "__all__" in errors
    assert_nothing_proposed()


# ---------------------------------------------------------------- editing a draft


def test_the_proposer_may_edit_their_draft(draft, practitioner, recipient):
    share_update_draft(
        share=draft,
        user=practitioner,
        fields={"purpose": "A clearer purpose."},
        items=[item(content="Revised observation.")],
    )

    draft.refresh_from_db()
    assert draft.purpose == "A clearer purpose."
    assert list(draft.items.values_list("content", flat=True)) == ["Revised observation."]


@pytest.mark.parametrize("persona", ["colleague", "lead", "deputy"])
def test_only_the_proposer_may_edit_a_draft(request, draft, persona):
    user = request.getfixturevalue(persona)
    before_items = list(draft.items.values_list("pk", "content"))

    errors = violation(
        lambda: share_update_draft(
            share=draft,
            user=user,
            fields={"purpose": "Hijacked."},
            items=[item(content="Something else.")],
        )
    )

    assert "__all__" in errors
    draft.refresh_from_db()
    assert draft.purpose == "Refer a concern to children's social care."
    assert list(draft.items.values_list("pk", "content")) == before_items


def test_an_edit_breaking_a_limit_changes_nothing(draft, practitioner):
    before_items = list(draft.items.values_list("pk", "content"))

    errors = violation(
        lambda: share_update_draft(
            share=draft,
            user=practitioner,
            fields={"purpose": "z" * 2001},
            items=[item(content="Changed.")],
        )
    )

    assert "purpose" in errors
    draft.refresh_from_db()
    assert draft.purpose == "Refer a concern to children's social care."
    assert list(draft.items.values_list("pk", "content")) == before_items


def test_a_submitted_share_cannot_be_edited(submitted, practitioner):
    errors = violation(
        lambda: share_update_draft(
            share=submitted,
            user=practitioner,
            fields={"purpose": "Changed after submission."},
            items=[item()],
        )
    )

    assert "__all__" in errors
    submitted.refresh_from_db()
    assert submitted.status == C.ShareStatus.AWAITING_REVIEW
    assert submitted.purpose == "Refer a concern to children's social care."


def test_an_approved_share_cannot_be_edited(approved, practitioner):
    errors = violation(
        lambda: share_update_draft(
            share=approved, user=practitioner, fields={"purpose": "Changed."}, items=[item()]
        )
    )

    assert "__all__" in errors
    approved.refresh_from_db()
    assert approved.status == C.ShareStatus.APPROVED
    assert approved.purpose == "Refer a concern to children's social care."


# ---------------------------------------------------------------- submitting


@pytest.mark.parametrize("persona", ["colleague", "lead"])
def test_only_the_proposer_may_submit_a_draft(request, draft, persona):
    user = request.getfixturevalue(persona)

    errors = violation(lambda: steps.submit(share=draft, user=user))

    assert "__all__" in errors
    assert_still_an_open_draft(draft)


def test_a_share_cannot_be_submitted_twice(submitted, practitioner):
    first_submitted_at = Share.objects.get(pk=submitted.pk).submitted_at

    errors = violation(lambda: steps.submit(share=submitted, user=practitioner))

    assert "__all__" in errors
    submitted.refresh_from_db()
    assert submitted.status == C.ShareStatus.AWAITING_REVIEW
    assert submitted.submitted_at == first_submitted_at
    assert (
        Task.objects.filter(process=submitted.process, flow_task=ShareFlow.lead_review).count() == 1
    )


def test_save_and_submit_refused_keeps_neither_the_edit_nor_the_submission(draft, practitioner):
    errors = violation(
        lambda: steps.save_and_submit(
            share=draft,
            user=practitioner,
            fields={"purpose": "Edited then submitted.", "risk_if_shared": ""},
            items=[item()],
        )
    )

    assert "risk_if_shared" in errors
    assert_still_an_open_draft(draft)
    assert draft.purpose == "Refer a concern to children's social care."
    assert draft.risk_if_shared == "The family may disengage."


# ---------------------------------------------------------------- withdrawing


def test_the_proposer_may_withdraw_a_draft_with_a_reason(draft, practitioner):
    steps.withdraw(share=draft, user=practitioner, reason="  Parent moved away.  ")

    draft.refresh_from_db()
    assert draft.status == C.ShareStatus.WITHDRAWN
    assert draft.withdrawn_reason == "Parent moved away."


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_withdrawing_needs_a_reason(draft, practitioner, reason):
    errors = violation(lambda: steps.withdraw(share=draft, user=practitioner, reason=reason))

    assert "withdrawn_reason" in errors
    assert_still_an_open_draft(draft)
    assert draft.withdrawn_reason == ""


def test_an_oversized_withdrawal_reason_is_refused(draft, practitioner):
    errors = violation(lambda: steps.withdraw(share=draft, user=practitioner, reason="w" * 2001))

    assert "withdrawn_reason" in errors
    assert_still_an_open_draft(draft)


@pytest.mark.parametrize("persona", ["colleague", "lead"])
def test_only_the_proposer_may_withdraw_a_draft(request, draft, persona):
    user = request.getfixturevalue(persona)

    errors = violation(lambda: steps.withdraw(share=draft, user=user, reason="Not needed."))

    assert "__all__" in errors
    assert_still_an_open_draft(draft)
    assert draft.withdrawn_reason == ""


def test_a_submitted_share_cannot_be_withdrawn(submitted, practitioner):
    errors = violation(
        lambda: steps.withdraw(share=submitted, user=practitioner, reason="Changed my mind.")
    )

    assert "__all__" in errors
    submitted.refresh_from_db()
    assert submitted.status == C.ShareStatus.AWAITING_REVIEW
    assert submitted.withdrawn_reason == ""


def test_an_approved_share_cannot_be_withdrawn(approved, practitioner):
    errors = violation(
        lambda: steps.withdraw(share=approved, user=practitioner, reason="Changed my mind.")
    )

    assert "__all__" in errors
    approved.refresh_from_db()
    assert approved.status == C.ShareStatus.APPROVED
    assert approved.withdrawn_reason == ""


def test_an_answer_left_from_a_choice_since_changed_is_dropped(propose, practitioner):
    """Consent first "not sought (it would increase the risk)", then "refused": the record
    must not say both. The same for the family told or not, and an inbound request."""
    share = propose(
        consent_status=choices.ConsentStatus.NOT_SOUGHT,
        consent_not_sought_reason=choices.ConsentNotSoughtReason.WOULD_INCREASE_RISK,
        family_informed=choices.FamilyInformed.NOT_TOLD,
        family_not_told_reason=choices.FamilyNotToldReason.INCREASE_RISK,
    )
    share_update_draft(
        share=share,
        user=practitioner,
        fields={
            "consent_status": choices.ConsentStatus.REFUSED,
            "consent_override_justification": "She is at risk tonight.",
            "family_informed": choices.FamilyInformed.TOLD,
            "family_informed_by": "Priya",
        },
        items=[item()],
    )
    share.refresh_from_db()
    assert share.consent_not_sought_reason == ""
    assert share.consent_override_justification == "She is at risk tonight."
    assert (share.family_not_told_reason, share.family_not_told_detail) == ("", "")
    assert share.family_informed_by == "Priya"
