"""ShareFlow driven in code along every path, and the honesty of its task timings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import PROCESS, STATUS

from cases import choices
from cases.models import Case, Recipient, Share
from cases.services import RuleViolation
from workflows import steps
from workflows.flows import ShareFlow
from workflows.models import ShareProcess

from .factories import complete_fields, item

C = choices
Outcome = C.Outcome
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def tasks(share: Share) -> list[Task]:
    """The route's tasks; the lead review's escalation timers are tested in test_escalation."""
    return list(
        Task.objects.filter(process=share.process).exclude(flow_task_type="TIMER").order_by("pk")
    )


def path(share: Share) -> list[Any]:
    """The nodes the process passed through, in order."""
    return [task.flow_task for task in tasks(share)]


def only(share: Share, node: Any) -> Task:
    return Task.objects.get(process=share.process, flow_task=node)


def process(share: Share) -> ShareProcess:
    return ShareProcess.objects.get(share=share)


def assert_finished_at(share: Share, end: Any) -> None:
    proc = process(share)
    assert proc.status == PROCESS.DONE
    assert proc.finished is not None
    ends = [t for t in tasks(share) if t.flow_task_type == "END"]
    assert [t.flow_task for t in ends] == [end]
    assert all(t.status == STATUS.DONE for t in tasks(share))


def human_tasks(share: Share) -> list[Task]:
    return [t for t in tasks(share) if t.flow_task_type == "HUMAN"]


def assert_honest_timings(share: Share) -> None:
    finished = [t for t in human_tasks(share) if t.status == STATUS.DONE]
    assert finished
    for task in finished:
        stamps = (task.created, task.assigned, task.started, task.finished)
        assert None not in stamps, f"{task.flow_task.name}: {stamps}"
        assert task.created <= task.assigned <= task.started <= task.finished, (
            f"{task.flow_task.name}: created {task.created}, assigned {task.assigned}, "
            f"started {task.started}, finished {task.finished}"
        )


def decide(share: Share, user: Any, outcome: str = Outcome.APPROVE, **extra: Any) -> None:
    steps.decide(share=share, user=user, outcome=outcome, reasons="Recorded reasons.", **extra)


@pytest.fixture
def traveller():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def two_items(case: Case, practitioner: Any, recipient: Recipient) -> Share:
    share = steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(recipient),
        items=[item(content="Kept."), item(content="Left out.")],
    )
    return steps.submit(share=share, user=practitioner)


# ---------------------------------------------------------------- the start


def test_proposing_starts_a_process_waiting_at_a_draft_task_for_the_proposer(draft, practitioner):
    proc = process(draft)
    assert draft.process == proc
    assert proc.status == PROCESS.NEW
    assert path(draft) == [ShareFlow.start, ShareFlow.draft]
    task = only(draft, ShareFlow.draft)
    assert task.status == STATUS.ASSIGNED
    assert task.owner == practitioner
    assert task.flow_task_type == "HUMAN"


def test_submitting_opens_an_unassigned_lead_review(submitted):
    assert path(submitted) == [
        ShareFlow.start,
        ShareFlow.draft,
        ShareFlow.after_draft,
        ShareFlow.lead_review,
    ]
    assert only(submitted, ShareFlow.draft).status == STATUS.DONE
    review = only(submitted, ShareFlow.lead_review)
    assert review.status == STATUS.NEW
    assert review.owner is None
    assert process(submitted).status == PROCESS.NEW


# ---------------------------------------------------------------- every path


def test_the_approve_path_ends_at_released(submitted, lead, practitioner):
    decide(submitted, lead)

    release_task = only(submitted, ShareFlow.record_release)
    assert release_task.status == STATUS.ASSIGNED
    assert release_task.owner == practitioner
    assert process(submitted).status == PROCESS.NEW

    steps.record_release(share=submitted, user=practitioner, sent_at=timezone.now())

    assert path(submitted) == [
        ShareFlow.start,
        ShareFlow.draft,
        ShareFlow.after_draft,
        ShareFlow.lead_review,
        ShareFlow.route_decision,
        ShareFlow.record_release,
        ShareFlow.released,
    ]
    assert_finished_at(submitted, ShareFlow.released)
    assert only(submitted, ShareFlow.lead_review).owner == lead
    assert only(submitted, ShareFlow.record_release).owner == practitioner
    submitted.refresh_from_db()
    assert submitted.status == C.ShareStatus.RELEASED


def test_the_approve_in_part_path_ends_at_released(two_items, lead, practitioner):
    kept = two_items.items.get(content="Kept.")
    decide(two_items, lead, Outcome.APPROVE_IN_PART, approved_item_ids=[kept.pk])
    two_items.refresh_from_db()
    assert two_items.status == C.ShareStatus.APPROVED_IN_PART
    assert only(two_items, ShareFlow.record_release).owner == practitioner

    steps.record_release(share=two_items, user=practitioner, sent_at=timezone.now())

    assert path(two_items)[-2:] == [ShareFlow.record_release, ShareFlow.released]
    assert_finished_at(two_items, ShareFlow.released)
    assert only(two_items, ShareFlow.lead_review).owner == lead


def test_the_refuse_path_ends_at_refused(submitted, lead):
    decide(submitted, lead, Outcome.REFUSE, refusal_reason=C.RefusalReason.RISK_OUTWEIGHS)

    assert path(submitted) == [
        ShareFlow.start,
        ShareFlow.draft,
        ShareFlow.after_draft,
        ShareFlow.lead_review,
        ShareFlow.route_decision,
        ShareFlow.refused,
    ]
    assert_finished_at(submitted, ShareFlow.refused)
    assert only(submitted, ShareFlow.lead_review).owner == lead


def test_the_withdraw_path_ends_at_withdrawn(draft, practitioner):
    steps.withdraw(share=draft, user=practitioner, reason="No longer needed.")

    assert path(draft) == [
        ShareFlow.start,
        ShareFlow.draft,
        ShareFlow.after_draft,
        ShareFlow.withdrawn,
    ]
    assert_finished_at(draft, ShareFlow.withdrawn)
    assert only(draft, ShareFlow.draft).owner == practitioner


def test_the_return_path_gives_the_proposer_a_new_draft_then_goes_round_again(
    submitted, lead, deputy, practitioner
):
    decide(submitted, lead, Outcome.RETURN)

    drafts = Task.objects.filter(process=submitted.process, flow_task=ShareFlow.draft)
    first_draft, second_draft = drafts.order_by("pk")
    assert first_draft.status == STATUS.DONE
    assert second_draft.status == STATUS.ASSIGNED
    assert second_draft.owner == practitioner
    assert process(submitted).status == PROCESS.NEW
    submitted.refresh_from_db()
    assert submitted.status == C.ShareStatus.DRAFT

    steps.submit(share=submitted, user=practitioner)
    decide(submitted, deputy)
    steps.record_release(share=submitted, user=practitioner, sent_at=timezone.now())

    assert path(submitted) == [
        ShareFlow.start,
        ShareFlow.draft,
        ShareFlow.after_draft,
        ShareFlow.lead_review,
        ShareFlow.route_decision,
        ShareFlow.draft,
        ShareFlow.after_draft,
        ShareFlow.lead_review,
        ShareFlow.route_decision,
        ShareFlow.record_release,
        ShareFlow.released,
    ]
    assert_finished_at(submitted, ShareFlow.released)
    first_review, second_review = Task.objects.filter(
        process=submitted.process, flow_task=ShareFlow.lead_review
    ).order_by("pk")
    assert first_review.owner == lead
    assert second_review.owner == deputy


def test_a_returned_share_may_then_be_withdrawn(submitted, lead, practitioner):
    decide(submitted, lead, Outcome.RETURN)

    steps.withdraw(share=submitted, user=practitioner, reason="Family moved away.")

    assert_finished_at(submitted, ShareFlow.withdrawn)


def test_a_refused_step_does_not_move_the_flow(submitted, colleague):
    before = [(t.pk, t.status, t.owner_id) for t in tasks(submitted)]

    with pytest.raises(RuleViolation):
        decide(submitted, colleague)

    assert [(t.pk, t.status, t.owner_id) for t in tasks(submitted)] == before


def test_a_release_recorded_by_the_lead_is_owned_by_the_lead(approved, lead):
    steps.record_release(share=approved, user=lead, sent_at=timezone.now())

    assert only(approved, ShareFlow.record_release).owner == lead
    assert_finished_at(approved, ShareFlow.released)


# ---------------------------------------------------------------- timings


def test_every_finished_human_task_has_ordered_timings_on_the_approve_path(
    traveller, case, practitioner, recipient, lead
):
    share = steps.propose(
        case=case, user=practitioner, fields=complete_fields(recipient), items=[item()]
    )
    traveller.shift(5 * MINUTE)
    steps.note_opened(share, ShareFlow.draft, practitioner)
    traveller.shift(10 * MINUTE)
    steps.submit(share=share, user=practitioner)
    traveller.shift(30 * MINUTE)
    decide(share, lead)
    traveller.shift(20 * MINUTE)
    steps.record_release(share=share, user=practitioner, sent_at=timezone.now())

    assert_honest_timings(share)
    draft = only(share, ShareFlow.draft)
    assert (draft.created, draft.assigned, draft.started, draft.finished) == (
        T0,
        T0,
        T0 + 5 * MINUTE,
        T0 + 15 * MINUTE,
    )
    review = only(share, ShareFlow.lead_review)
    assert review.created == T0 + 15 * MINUTE
    assert review.finished == T0 + 45 * MINUTE
    release = only(share, ShareFlow.record_release)
    assert (release.created, release.assigned, release.finished) == (
        T0 + 45 * MINUTE,
        T0 + 45 * MINUTE,
        T0 + 65 * MINUTE,
    )


def test_timings_are_ordered_on_the_return_path(traveller, submitted, lead, practitioner):
    traveller.shift(10 * MINUTE)
    decide(submitted, lead, Outcome.RETURN)
    traveller.shift(60 * MINUTE)
    steps.note_opened(submitted, ShareFlow.draft, practitioner)
    traveller.shift(15 * MINUTE)
    steps.submit(share=submitted, user=practitioner)
    traveller.shift(5 * MINUTE)
    decide(submitted, lead, Outcome.REFUSE, refusal_reason=C.RefusalReason.NOT_NECESSARY)

    assert_honest_timings(submitted)
    second_draft = Task.objects.filter(process=submitted.process, flow_task=ShareFlow.draft).latest(
        "pk"
    )
    assert second_draft.created == second_draft.assigned == T0 + 10 * MINUTE
    assert second_draft.started == T0 + 70 * MINUTE
    assert second_draft.finished == T0 + 85 * MINUTE


def test_opening_the_lead_review_records_the_first_opening_only(traveller, submitted, lead):
    traveller.shift(20 * MINUTE)
    steps.note_opened(submitted, ShareFlow.lead_review, lead)
    assert only(submitted, ShareFlow.lead_review).started == T0 + 20 * MINUTE

    traveller.shift(40 * MINUTE)
    steps.note_opened(submitted, ShareFlow.lead_review, lead)
    assert only(submitted, ShareFlow.lead_review).started == T0 + 20 * MINUTE

    traveller.shift(15 * MINUTE)
    decide(submitted, lead)

    review = only(submitted, ShareFlow.lead_review)
    assert review.started == T0 + 20 * MINUTE  # execution keeps the first-opened time
    assert review.finished == T0 + 75 * MINUTE
    assert review.owner == lead


def test_noting_a_step_the_flow_is_not_waiting_at_changes_nothing(
    traveller, submitted, practitioner
):
    draft_started = only(submitted, ShareFlow.draft).started

    traveller.shift(MINUTE)
    steps.note_opened(submitted, ShareFlow.draft, practitioner)
    steps.note_opened(submitted, ShareFlow.record_release, practitioner)

    assert only(submitted, ShareFlow.draft).started == draft_started
    assert not Task.objects.filter(
        process=submitted.process, flow_task=ShareFlow.record_release
    ).exists()


def test_a_lead_review_never_opened_is_started_when_decided(traveller, submitted, lead):
    traveller.shift(90 * MINUTE)
    decide(submitted, lead)

    review = only(submitted, ShareFlow.lead_review)
    assert review.assigned == review.started == review.finished == T0 + 90 * MINUTE
    assert_honest_timings(submitted)


def test_a_lead_review_opened_before_it_is_decided_keeps_ordered_timings(
    traveller, submitted, lead
):
    traveller.shift(20 * MINUTE)
    steps.note_opened(submitted, ShareFlow.lead_review, lead)  # the lead opens the page
    traveller.shift(15 * MINUTE)
    decide(submitted, lead)  # and decides a quarter of an hour later

    review = only(submitted, ShareFlow.lead_review)
    assert review.started == T0 + 20 * MINUTE
    assert review.assigned <= review.started


def test_a_release_opened_by_the_proposer_and_recorded_by_the_lead_keeps_ordered_timings(
    traveller, approved, lead
):
    traveller.shift(5 * MINUTE)
    steps.note_opened(approved, ShareFlow.record_release, approved.proposed_by)
    traveller.shift(5 * MINUTE)
    steps.record_release(share=approved, user=lead, sent_at=timezone.now())

    assert_honest_timings(approved)
