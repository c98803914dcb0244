from cases import choices
from permissions.selectors import review_queue_for
from workflows import steps

from .factories import complete_fields, item


def _submitted(case, practitioner, recipient, urgency):
    share = steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(recipient, urgency=urgency),
        items=[item()],
    )
    return steps.submit(share=share, user=practitioner)


def test_the_queue_lists_the_most_urgent_first_then_the_longest_waiting(
    case, practitioner, recipient, lead
):
    routine = _submitted(case, practitioner, recipient, choices.Urgency.ROUTINE)
    urgent = _submitted(case, practitioner, recipient, choices.Urgency.URGENT)
    immediate = _submitted(case, practitioner, recipient, choices.Urgency.IMMEDIATE)
    older_urgent = urgent
    newer_urgent = _submitted(case, practitioner, recipient, choices.Urgency.URGENT)

    queue = list(review_queue_for(lead))

    assert queue == [immediate, older_urgent, newer_urgent, routine]


def test_the_queue_holds_only_shares_awaiting_review_in_the_leads_own_setting(
    submitted, case, recipient, lead, other_lead, deputy, practitioner
):
    still_a_draft = steps.propose(
        case=case, user=practitioner, fields=complete_fields(recipient), items=[item()]
    )
    assert still_a_draft.status == choices.ShareStatus.DRAFT
    assert list(review_queue_for(lead)) == [submitted]
    assert list(review_queue_for(deputy)) == [submitted]
    assert list(review_queue_for(other_lead)) == []
    assert list(review_queue_for(practitioner)) == []
