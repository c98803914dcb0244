"""The lead's decision: what every outcome needs, who may decide, and what is recorded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import choices
from cases.models import ApprovedItem, Case, Decision, Organisation, Recipient, Share
from cases.services import RuleViolation, decision_reconsider
from workflows import steps
from workflows.flows import ShareFlow

from .factories import (
    CaseFactory,
    MembershipFactory,
    OrganisationFactory,
    RecipientFactory,
    UserFactory,
    complete_fields,
    item,
)

C = choices
Outcome = C.Outcome


def violation(action: Callable[[], Any]) -> dict[str, list[str]]:
    with pytest.raises(RuleViolation) as caught:
        action()
    return caught.value.message_dict


def assert_undecided(share: Share) -> None:
    """No decision was kept and the share still waits for the lead, task untouched."""
    share.refresh_from_db()
    assert share.status == C.ShareStatus.AWAITING_REVIEW
    assert Decision.objects.filter(share=share).count() == 0
    assert ApprovedItem.objects.filter(decision__share=share).count() == 0
    review = Task.objects.get(process=share.process, flow_task=ShareFlow.lead_review)
    assert review.status == STATUS.NEW
    assert review.owner is None
    assert review.finished is None


@pytest.fixture
def three_items(case: Case, practitioner: Any, recipient: Recipient) -> Share:
    """A submitted share of three items."""
    share = steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(recipient),
        items=[
            item(content="First: bruise on the forearm."),
            item(category=C.ItemCategory.ATTENDANCE, content="Second: attendance 71%."),
            item(category=C.ItemCategory.FAMILY, content="Third: new partner at home."),
        ],
    )
    return steps.submit(share=share, user=practitioner)


def item_ids(share: Share) -> list[int]:
    return list(share.items.order_by("position").values_list("pk", flat=True))


# ---------------------------------------------------------------- what each outcome needs


def test_a_refusal_needs_a_coded_reason(submitted, lead):
    errors = violation(
        lambda: steps.decide(
            share=submitted, user=lead, outcome=Outcome.REFUSE, reasons="Not proportionate."
        )
    )

    assert "refusal_reason" in errors
    assert_undecided(submitted)


def test_a_refusal_needs_free_text_as_well_as_the_code(submitted, lead):
    errors = violation(
        lambda: steps.decide(
            share=submitted,
            user=lead,
            outcome=Outcome.REFUSE,
            refusal_reason=C.RefusalReason.NOT_PROPORTIONATE,
            reasons="   ",
        )
    )

    assert "reasons" in errors
    assert_undecided(submitted)


def test_a_refusal_reason_must_come_from_the_list(submitted, lead):
    errors = violation(
        lambda: steps.decide(
            share=submitted,
            user=lead,
            outcome=Outcome.REFUSE,
            refusal_reason="dont_like_it",
            reasons="Because.",
        )
    )

    assert "refusal_reason" in errors
    assert_undecided(submitted)


def test_a_refusal_with_code_and_text_is_recorded(submitted, lead):
    decision = steps.decide(
        share=submitted,
        user=lead,
        outcome=Outcome.REFUSE,
        refusal_reason=C.RefusalReason.ALREADY_HELD,
        reasons="  Social care already hold this.  ",
    )

    submitted.refresh_from_db()
    assert submitted.status == C.ShareStatus.REFUSED
    decision.refresh_from_db()
    assert decision.outcome == Outcome.REFUSE
    assert decision.refusal_reason == C.RefusalReason.ALREADY_HELD
    assert decision.reasons == "Social care already hold this."
    assert decision.decided_by == lead
    assert decision.capacity == C.DecidingCapacity.LEAD
    assert not decision.approved_items.exists()


def test_a_return_needs_a_note_of_what_is_missing(submitted, lead):
    errors = violation(
        lambda: steps.decide(share=submitted, user=lead, outcome=Outcome.RETURN, reasons="")
    )

    assert "reasons" in errors
    assert "more information" in " ".join(errors["reasons"])
    assert_undecided(submitted)


def test_a_return_with_a_note_sends_the_share_back_to_draft(submitted, lead):
    decision = steps.decide(
        share=submitted, user=lead, outcome=Outcome.RETURN, reasons="Add the dates."
    )

    submitted.refresh_from_db()
    assert submitted.status == C.ShareStatus.DRAFT
    assert decision.outcome == Outcome.RETURN
    assert decision.reasons == "Add the dates."


@pytest.mark.parametrize("outcome", [Outcome.APPROVE, Outcome.APPROVE_IN_PART, Outcome.RETURN])
def test_every_outcome_needs_reasons(three_items, lead, outcome):
    errors = violation(
        lambda: steps.decide(
            share=three_items,
            user=lead,
            outcome=outcome,
            reasons=" \n ",
            approved_item_ids=item_ids(three_items)[:1],
        )
    )

    assert "reasons" in errors
    assert_undecided(three_items)


def test_an_unknown_outcome_is_refused(submitted, lead):
    errors = violation(
        lambda: steps.decide(share=submitted, user=lead, outcome="shrug", reasons="Hmm.")
    )

    assert "outcome" in errors
    assert_undecided(submitted)


def test_oversized_reasons_are_refused(submitted, lead):
    errors = violation(
        lambda: steps.decide(
            share=submitted, user=lead, outcome=Outcome.APPROVE, reasons="r" * 4001
        )
    )

    assert "reasons" in errors
    assert_undecided(submitted)


# ---------------------------------------------------------------- approve in part


def test_approve_in_part_must_name_the_items(three_items, lead):
    errors = violation(
        lambda: steps.decide(
            share=three_items,
            user=lead,
            outcome=Outcome.APPROVE_IN_PART,
            reasons="Only some of it.",
            approved_item_ids=[],
        )
    )

    assert "approved_items" in errors
    assert_undecided(three_items)


def test_approve_in_part_may_name_only_items_of_this_share(
    three_items, lead, case, practitioner, recipient
):
    other = steps.propose(
        case=case, user=practitioner, fields=complete_fields(recipient), items=[item()]
    )
    foreign = other.items.get().pk

    errors = violation(
        lambda: steps.decide(
            share=three_items,
            user=lead,
            outcome=Outcome.APPROVE_IN_PART,
            reasons="Only some of it.",
            approved_item_ids=[item_ids(three_items)[0], foreign],
        )
    )

    assert "approved_items" in errors
    assert "this share" in " ".join(errors["approved_items"])
    assert_undecided(three_items)


def test_approve_in_part_cannot_name_every_item(three_items, lead):
    errors = violation(
        lambda: steps.decide(
            share=three_items,
            user=lead,
            outcome=Outcome.APPROVE_IN_PART,
            reasons="All of it, really.",
            approved_item_ids=item_ids(three_items),
        )
    )

    assert "approved_items" in errors
    assert_undecided(three_items)


def test_approve_in_part_records_only_the_chosen_items(three_items, lead):
    first, _second, third = item_ids(three_items)

    decision = steps.decide(
        share=three_items,
        user=lead,
        outcome=Outcome.APPROVE_IN_PART,
        reasons="The attendance figure is not needed.",
        approved_item_ids=[first, third],
    )

    three_items.refresh_from_db()
    assert three_items.status == C.ShareStatus.APPROVED_IN_PART
    assert set(
        ApprovedItem.objects.filter(decision=decision).values_list("item_id", flat=True)
    ) == {
        first,
        third,
    }


def test_approve_in_part_releases_only_the_approved_items(three_items, lead, practitioner):
    first, _second, third = item_ids(three_items)
    steps.decide(
        share=three_items,
        user=lead,
        outcome=Outcome.APPROVE_IN_PART,
        reasons="The attendance figure is not needed.",
        approved_item_ids=[first, third],
    )

    release = steps.record_release(share=three_items, user=practitioner, sent_at=timezone.now())

    assert [entry["item"] for entry in release.content] == [first, third]
    assert [entry["text"] for entry in release.content] == [
        "First: bruise on the forearm.",
        "Third: new partner at home.",
    ]


def test_a_full_approval_records_every_item(three_items, lead):
    decision = steps.decide(
        share=three_items, user=lead, outcome=Outcome.APPROVE, reasons="Necessary."
    )

    assert set(
        ApprovedItem.objects.filter(decision=decision).values_list("item_id", flat=True)
    ) == set(item_ids(three_items))
    assert set(decision.approved_items.values_list("pk", flat=True)) == set(item_ids(three_items))


def test_a_full_approval_releases_every_item(three_items, lead, practitioner):
    steps.decide(share=three_items, user=lead, outcome=Outcome.APPROVE, reasons="Necessary.")

    release = steps.record_release(share=three_items, user=practitioner, sent_at=timezone.now())

    assert [entry["item"] for entry in release.content] == item_ids(three_items)


def test_a_refusal_or_return_approves_no_items(three_items, lead):
    decision = steps.decide(
        share=three_items,
        user=lead,
        outcome=Outcome.RETURN,
        reasons="Say why the attendance is needed.",
        approved_item_ids=item_ids(three_items)[:1],
    )

    assert ApprovedItem.objects.filter(decision=decision).count() == 0


# ---------------------------------------------------------------- only once, only in review


def test_a_second_decision_on_the_same_share_is_refused(submitted, lead, deputy):
    first = steps.decide(share=submitted, user=lead, outcome=Outcome.APPROVE, reasons="Necessary.")

    # The same form POSTed twice (or a deputy deciding at the same moment) must not add a
    # second decision or change the first.
    errors = violation(
        lambda: steps.decide(
            share=submitted,
            user=deputy,
            outcome=Outcome.REFUSE,
            refusal_reason=C.RefusalReason.NOT_NECESSARY,
            reasons="Not needed.",
        )
    )

    assert "__all__" in errors
    assert "may already have been decided" in " ".join(errors["__all__"])
    assert list(Decision.objects.filter(share=submitted)) == [first]
    submitted.refresh_from_db()
    assert submitted.status == C.ShareStatus.APPROVED


def test_a_decision_posted_twice_by_the_same_lead_is_refused(submitted, lead):
    steps.decide(share=submitted, user=lead, outcome=Outcome.APPROVE, reasons="Necessary.")

    errors = violation(
        lambda: steps.decide(
            share=submitted, user=lead, outcome=Outcome.APPROVE, reasons="Necessary."
        )
    )

    assert "not awaiting review" in " ".join(errors["__all__"])
    assert Decision.objects.filter(share=submitted).count() == 1
    assert ApprovedItem.objects.filter(decision__share=submitted).count() == 1


def test_a_draft_cannot_be_decided(draft, lead):
    errors = violation(
        lambda: steps.decide(share=draft, user=lead, outcome=Outcome.APPROVE, reasons="Fine.")
    )

    assert "__all__" in errors
    draft.refresh_from_db()
    assert draft.status == C.ShareStatus.DRAFT
    assert not Decision.objects.filter(share=draft).exists()


def test_a_returned_share_cannot_be_decided_again_until_resubmitted(submitted, lead):
    steps.decide(share=submitted, user=lead, outcome=Outcome.RETURN, reasons="Add the dates.")

    errors = violation(
        lambda: steps.decide(
            share=submitted, user=lead, outcome=Outcome.APPROVE, reasons="Fine now."
        )
    )

    assert "__all__" in errors
    submitted.refresh_from_db()
    assert submitted.status == C.ShareStatus.DRAFT
    assert Decision.objects.filter(share=submitted).count() == 1


# ---------------------------------------------------------------- who may decide


@pytest.mark.parametrize(
    "persona", ["practitioner", "colleague", "manager", "auditor", "other_lead"]
)
def test_only_a_lead_or_deputy_of_the_setting_can_decide(request, submitted, persona):
    user = request.getfixturevalue(persona)

    errors = violation(
        lambda: steps.decide(
            share=submitted, user=user, outcome=Outcome.APPROVE, reasons="Looks fine."
        )
    )

    assert "__all__" in errors
    assert_undecided(submitted)


def test_a_lead_decides_in_the_capacity_of_lead(submitted, lead):
    decision = steps.decide(
        share=submitted, user=lead, outcome=Outcome.APPROVE, reasons="Necessary."
    )

    assert decision.decided_by == lead
    assert decision.capacity == C.DecidingCapacity.LEAD


def test_a_deputys_decision_is_recorded_as_on_behalf_of_the_lead(submitted, deputy):
    decision = steps.decide(
        share=submitted, user=deputy, outcome=Outcome.APPROVE, reasons="Necessary."
    )

    decision.refresh_from_db()
    assert decision.decided_by == deputy
    assert decision.capacity == C.DecidingCapacity.DEPUTY
    submitted.refresh_from_db()
    assert submitted.status == C.ShareStatus.APPROVED


def test_the_review_task_belongs_to_whoever_decided(submitted, deputy):
    steps.decide(share=submitted, user=deputy, outcome=Outcome.APPROVE, reasons="Necessary.")

    review = Task.objects.get(process=submitted.process, flow_task=ShareFlow.lead_review)
    assert review.owner == deputy
    assert review.status == STATUS.DONE


@pytest.fixture
def leads_own_share(case: Case, lead: Any, recipient: Recipient) -> Share:
    share = steps.propose(case=case, user=lead, fields=complete_fields(recipient), items=[item()])
    return steps.submit(share=share, user=lead)


def test_a_lead_cannot_decide_a_share_they_proposed(leads_own_share, lead):
    errors = violation(
        lambda: steps.decide(
            share=leads_own_share,
            user=lead,
            outcome=Outcome.APPROVE,
            reasons="Necessary.",
            self_approval_rationale="Nobody else is here.",
        )
    )

    assert "__all__" in errors
    assert "another lead or deputy" in " ".join(errors["__all__"])
    assert_undecided(leads_own_share)


def test_a_deputy_may_decide_a_share_the_lead_proposed(leads_own_share, deputy):
    decision = steps.decide(
        share=leads_own_share, user=deputy, outcome=Outcome.APPROVE, reasons="Necessary."
    )

    assert decision.capacity == C.DecidingCapacity.DEPUTY
    leads_own_share.refresh_from_db()
    assert leads_own_share.status == C.ShareStatus.APPROVED


# ---------------------------------------------------------------- one-person setting


@pytest.fixture
def childminder_setting(db: Any) -> Organisation:
    return OrganisationFactory(name="Little Acorns", kind=C.OrganisationKind.CHILDMINDER)


@pytest.fixture
def childminder(childminder_setting: Organisation) -> Any:
    user = UserFactory(username="cara")
    MembershipFactory(user=user, organisation=childminder_setting, role=C.Role.LEAD)
    return user


@pytest.fixture
def childminders_share(childminder_setting: Organisation, childminder: Any) -> Share:
    case = CaseFactory(organisation=childminder_setting)
    recipient = RecipientFactory(organisation=childminder_setting)
    share = steps.propose(
        case=case, user=childminder, fields=complete_fields(recipient), items=[item()]
    )
    return steps.submit(share=share, user=childminder)


@pytest.mark.parametrize("rationale", ["", "   "])
def test_a_childminder_deciding_their_own_share_must_write_why(
    childminders_share, childminder, rationale
):
    errors = violation(
        lambda: steps.decide(
            share=childminders_share,
            user=childminder,
            outcome=Outcome.APPROVE,
            reasons="Necessary.",
            self_approval_rationale=rationale,
        )
    )

    assert "self_approval_rationale" in errors
    assert_undecided(childminders_share)


def test_a_childminder_may_decide_their_own_share_as_sole_practitioner(
    childminders_share, childminder
):
    decision = steps.decide(
        share=childminders_share,
        user=childminder,
        outcome=Outcome.APPROVE,
        reasons="Necessary.",
        self_approval_rationale="I am the only person in this setting.",
    )

    decision.refresh_from_db()
    assert decision.capacity == C.DecidingCapacity.SOLE_PRACTITIONER
    assert decision.self_approval_rationale == "I am the only person in this setting."
    assert decision.decided_by == childminder
    childminders_share.refresh_from_db()
    assert childminders_share.status == C.ShareStatus.APPROVED


def test_a_childminder_refusing_their_own_share_also_writes_why(childminders_share, childminder):
    errors = violation(
        lambda: steps.decide(
            share=childminders_share,
            user=childminder,
            outcome=Outcome.REFUSE,
            refusal_reason=C.RefusalReason.NOT_NECESSARY,
            reasons="On reflection, not needed.",
        )
    )

    assert "self_approval_rationale" in errors
    assert_undecided(childminders_share)


# ---------------------------------------------------------------- consent refused


@pytest.fixture
def against_refusal(case: Case, practitioner: Any, recipient: Recipient) -> Share:
    share = steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(
            recipient,
            consent_status=C.ConsentStatus.REFUSED,
            consent_not_sought_reason="",
            consent_override_justification="Mother refused; the risk of harm outweighs it.",
        ),
        items=[item()],
    )
    return steps.submit(share=share, user=practitioner)


def test_a_share_against_a_consent_refusal_can_be_approved_by_the_lead(against_refusal, lead):
    decision = steps.decide(
        share=against_refusal, user=lead, outcome=Outcome.APPROVE, reasons="Justified."
    )

    against_refusal.refresh_from_db()
    assert against_refusal.status == C.ShareStatus.APPROVED
    assert decision.capacity == C.DecidingCapacity.LEAD


@pytest.mark.parametrize("persona", ["practitioner", "manager"])
def test_a_share_against_a_consent_refusal_cannot_be_approved_by_anyone_else(
    request, against_refusal, persona
):
    user = request.getfixturevalue(persona)

    errors = violation(
        lambda: steps.decide(
            share=against_refusal, user=user, outcome=Outcome.APPROVE, reasons="Justified."
        )
    )

    assert "__all__" in errors
    assert_undecided(against_refusal)


def test_conditions_are_kept_on_an_approval(submitted, lead):
    decision = steps.decide(
        share=submitted,
        user=lead,
        outcome=Outcome.APPROVE,
        reasons="Necessary.",
        conditions="  Send only to the named social worker.  ",
    )

    decision.refresh_from_db()
    assert decision.conditions == "Send only to the named social worker."


# ---------------------------------------------------------------- the law, again on approval
# A share may have been submitted before a rule of law tightened; a lead must not approve
# it in breach of the rule as it stands.


def made_a_public_authority(organisation: Organisation) -> None:
    """The setting is recorded as a public authority after its share on Art 6(1)(f) went in."""
    organisation.is_public_authority = True
    organisation.save(update_fields=["is_public_authority"])


@pytest.mark.parametrize("outcome", [Outcome.APPROVE, Outcome.APPROVE_IN_PART])
def test_a_share_on_legitimate_interests_cannot_be_approved_for_a_public_authority(
    three_items, lead, oakfield, outcome
):
    assert three_items.lawful_basis == C.LawfulBasis.LEGITIMATE_INTERESTS
    made_a_public_authority(oakfield)

    errors = violation(
        lambda: steps.decide(
            share=three_items,
            user=lead,
            outcome=outcome,
            reasons="Necessary.",
            approved_item_ids=item_ids(three_items)[:1],
        )
    )

    assert errors == {
        "outcome": [
            "It cannot be approved as it stands. Oakfield is a public authority, so it cannot "
            "rely on Art 6(1)(f) legitimate interests for its tasks. Use Art 6(1)(e) public "
            "task (naming the power, for example Children Act 2004 s11) or Art 6(1)(c) legal "
            "obligation.",
            "Return it to the proposer to put this right, or refuse it.",
        ]
    }
    assert_undecided(three_items)


def test_a_share_approvable_no_longer_may_still_be_returned(three_items, lead, oakfield):
    made_a_public_authority(oakfield)

    steps.decide(share=three_items, user=lead, outcome=Outcome.RETURN, reasons="Use (e).")

    three_items.refresh_from_db()
    assert three_items.status == C.ShareStatus.DRAFT


def test_a_health_item_submitted_unticked_blocks_approval_but_not_approval_without_it(
    three_items, lead
):
    first, second, third = item_ids(three_items)
    # As stored before health counted as special category whatever its box said.
    three_items.items.filter(pk=third).update(
        category=C.ItemCategory.HEALTH, is_special_category=False
    )

    errors = violation(
        lambda: steps.decide(
            share=three_items, user=lead, outcome=Outcome.APPROVE, reasons="Necessary."
        )
    )
    assert errors["outcome"][0].startswith(
        "It cannot be approved as it stands. This share includes special category data: "
        "choose the Article 9 condition"
    )
    assert "Item 3 (Health or development)" in errors["outcome"][0]
    assert_undecided(three_items)

    decision = steps.decide(
        share=three_items,
        user=lead,
        outcome=Outcome.APPROVE_IN_PART,
        reasons="The health information is not ours to send without an Art 9 condition.",
        approved_item_ids=[first, second],
    )

    assert set(decision.approved_items.values_list("pk", flat=True)) == {first, second}


def test_a_refusal_cannot_be_reconsidered_into_an_approval_in_breach(three_items, lead, oakfield):
    steps.decide(
        share=three_items,
        user=lead,
        outcome=Outcome.REFUSE,
        refusal_reason=C.RefusalReason.NOT_PROPORTIONATE,
        reasons="Not proportionate.",
    )
    made_a_public_authority(oakfield)

    errors = violation(
        lambda: decision_reconsider(
            share=three_items, user=lead, outcome=Outcome.APPROVE, reasons="Looked again."
        )
    )

    assert errors["outcome"][-1] == (
        "Let the refusal stand; the proposer can propose a new share that puts this right."
    )
    assert three_items.decisions.count() == 1


def test_an_emergency_release_on_a_basis_refused_cannot_be_endorsed(
    case, practitioner, recipient, lead, oakfield
):
    share = steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(recipient, urgency=C.Urgency.IMMEDIATE),
        items=[item()],
    )
    steps.release_in_emergency(
        share=share,
        user=practitioner,
        justification="Afraid to go home; no lead reachable.",
        sent_at=timezone.now(),
    )
    made_a_public_authority(oakfield)

    errors = violation(
        lambda: steps.decide(share=share, user=lead, outcome=Outcome.APPROVE, reasons="Fine.")
    )

    assert errors["outcome"][-1] == (
        "Refuse, to record that it should not have been shared on this basis."
    )
    share.refresh_from_db()
    assert share.status == C.ShareStatus.RELEASED_IN_EMERGENCY
    assert share.decisions.count() == 0
