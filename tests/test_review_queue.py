from datetime import UTC, datetime

import time_machine

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


# A Tuesday morning in term: an immediate share's hour runs out before an urgent share's end
# of the working day. (Late in the afternoon the urgent share falls due first, and is first.)
TUESDAY_10AM = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)


@time_machine.travel(TUESDAY_10AM, tick=False)
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


@time_machine.travel(datetime(2026, 3, 3, 17, 30, tzinfo=UTC), tick=False)
def test_late_in_the_day_the_share_due_first_is_first_whatever_its_urgency(
    case, practitioner, recipient, lead
):
    immediate = _submitted(case, practitioner, recipient, choices.Urgency.IMMEDIATE)
    urgent = _submitted(case, practitioner, recipient, choices.Urgency.URGENT)

    # Due at 18:00, the end of the working day, before the immediate share's 18:30.
    assert list(review_queue_for(lead)) == [urgent, immediate]


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
