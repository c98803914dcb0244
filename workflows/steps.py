"""Each human step of ShareFlow: run a ``cases`` service and move the flow on, atomically.

The flow lock is taken first and the transaction opened inside it, as viewflow's own task
views do, so two people acting on one share at once are serialised and the second one
finds the share has moved on (and is told so by the service).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.db.models import QuerySet
from viewflow.workflow.exceptions import FlowLockFailed
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import services
from cases.errors import refuse
from cases.models import Case, Consultation, Decision, ReconsiderationRequest, Release, Share
from cases.people import Person
from cases.services.deliveries import SentLink
from cases.transactions import atomic_change

from .flows import ShareFlow, seed_share
from .nodes import mark_opened
from .notifications import events
from .notifications.emergency import alert_leads_to_emergency_release
from .tasks import queue_link_email

T = TypeVar("T")


class StepUnavailable(RuntimeError):
    """The share's records and its process disagree; never expected in normal use."""


_OPEN = (STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED)


def _open_tasks(share: Share, node: Any) -> QuerySet[Task]:
    return Task.objects.filter(
        process__shareprocess__share=share, flow_task=node, status__in=_OPEN
    ).order_by("-pk")


def open_task(share: Share, node: Any) -> Task | None:
    """The share's open task at this node, if the flow is waiting there."""
    return _open_tasks(share, node).first()


# The task with its process and that process's ShareProcess row in one round trip:
# viewflow's activation reads ``task.process.coerced``, which then finds both loaded instead
# of asking for each in turn.
_WITH_PROCESS = "process__shareprocess"


def _saved_share(result: Any) -> Share | None:
    """The share a step's service locked, changed and saved, from what the step returned."""
    if isinstance(result, Share):
        return result
    share = getattr(result, "share", None)
    return share if isinstance(share, Share) else None


def note_opened(share: Share, node: Any, user: Person) -> None:
    """Someone who may do this step opened its page: stamp it for the timing reports."""
    task = open_task(share, node)
    if task is not None:
        mark_opened(task, user)


def _complete(
    share: Share, node: Any, user: Person, work: Callable[[], T], *, lock_held: bool = False
) -> T:
    """Do ``work`` and complete the flow's step at ``node`` with it, under the flow lock.

    ``lock_held``: the caller took the flow lock for this share's process earlier in the
    same, still open, transaction (``propose``), so it is held until that ends.
    """
    if lock_held:
        with atomic_change():
            return _complete_locked(share, node, user, work, _open_with_process(share, node))
    task = open_task(share, node)
    if task is None:
        # The flow is not waiting here: the service explains why in the user's own terms.
        with atomic_change():
            work()
            raise StepUnavailable(f"Share #{share.pk} has no open {node.name} step.")
    try:
        # Begun outside any transaction (a page's step), the lock's transaction is the
        # step's, and a refusal rolls it all back: no savepoints (cases.transactions).
        with ShareFlow.lock(task.process_id), atomic_change():
            # Read again under the lock: whoever held it before may have moved the task on.
            fresh = Task.objects.select_related(_WITH_PROCESS).get(pk=task.pk)
            return _complete_locked(share, node, user, work, fresh)
    except FlowLockFailed:
        # Someone else's step on this share held the lock for longer than the wait allows:
        # nothing was done here, and saying so beats an error page.
        raise refuse(
            "__all__",
            "Someone else is working on this share at this moment, so nothing was saved. "
            "Open the share again in a moment to see where it is now.",
        ) from None


def _open_with_process(share: Share, node: Any) -> Task | None:
    return _open_tasks(share, node).select_related(_WITH_PROCESS).first()


def _complete_locked(
    share: Share, node: Any, user: Person, work: Callable[[], T], task: Task | None
) -> T:
    """The step itself, under the flow lock and inside the step's transaction."""
    if task is None:
        work()
        raise StepUnavailable(f"Share #{share.pk} has no open {node.name} step.")
    activation = node.activation_class(task)
    result = work()
    saved = _saved_share(result)
    if saved is not None:
        # The nodes that follow (a gateway, the next step's assignee) read the share
        # the service has just saved under its row lock, not the database again.
        seed_share(activation.process, saved)
    # The task's owner is whoever actually did the step, so timings name the right
    # person.
    if task.status == STATUS.NEW:
        activation.assign(user)
    elif task.owner_id != user.pk:
        activation.reassign(user)
    activation.start(None)
    activation.execute()
    return result


def propose(
    *,
    case: Case,
    user: Person,
    fields: dict[str, Any],
    items: list[dict[str, Any]],
    submit: bool = False,
) -> Share:
    """Create the draft and the process that will route it; the draft task goes to the proposer.

    ``submit``: submit it for review at once, in the same transaction (refused, not even the
    draft is kept).
    """
    with atomic_change():
        share = services.share_propose(case=case, proposed_by=user, fields=fields, items=items)
        ShareFlow.start.run(share=share)
        if submit:
            # viewflow's start took the flow lock for this new process inside this
            # transaction, which is still open: a savepoint it may have used was released,
            # not rolled back (any error would have left this block), and a lock taken in a
            # released savepoint is held until the transaction ends. Nobody else can see
            # the process before then anyway.
            _complete(
                share, ShareFlow.draft, user, lambda: _submit_and_tell(share, user), lock_held=True
            )
    return share


def _submit_and_tell(share: Share, user: Person) -> Share:
    submitted = services.share_submit(share=share, user=user)
    events.share_submitted(submitted, user)
    return submitted


def submit(*, share: Share, user: Person) -> Share:
    return _complete(share, ShareFlow.draft, user, lambda: _submit_and_tell(share, user))


def save_and_submit(
    *,
    share: Share,
    user: Person,
    fields: dict[str, Any],
    items: list[dict[str, Any]],
    based_on: str | None = None,
) -> Share:
    def work() -> Share:
        services.share_update_draft(
            share=share, user=user, fields=fields, items=items, based_on=based_on
        )
        return _submit_and_tell(share, user)

    return _complete(share, ShareFlow.draft, user, work)


def withdraw(*, share: Share, user: Person, reason: str) -> Share:
    return _complete(
        share,
        ShareFlow.draft,
        user,
        lambda: services.share_withdraw(share=share, user=user, reason=reason),
    )


def release_in_emergency(*, share: Share, user: Person, **release: Any) -> Release:
    """Release the draft at once; the flow goes on to the (now retrospective) lead review.

    No lead signed it off, so every lead and deputy is told at once, in the same
    transaction: a release that is refused alerts nobody, and one that is made always does.
    """

    def work() -> Release:
        made = services.release_in_emergency(share=share, user=user, **release)
        alert_leads_to_emergency_release(made)
        return made

    return _complete(share, ShareFlow.draft, user, work)


def decide(*, share: Share, user: Person, **decision: Any) -> Decision:
    def work() -> Decision:
        made = services.decision_record(share=share, user=user, **decision)
        events.share_decided(made)
        return made

    return _complete(share, ShareFlow.lead_review, user, work)


@atomic_change()
def reconsider(*, share: Share, user: Person, **decision: Any) -> Decision:
    """A refusal looked at again: not a flow step (the process ended at "refused")."""
    made = services.decision_reconsider(share=share, user=user, **decision)
    events.share_decided(made)
    return made


@atomic_change()
def ask_reconsideration(*, share: Share, user: Person, reason: str) -> ReconsiderationRequest:
    request = services.reconsideration_ask(share=share, user=user, reason=reason)
    events.reconsideration_requested(request)
    return request


def _approved_on_reconsideration(share: Share) -> bool:
    latest = share.decisions.order_by("-decided_at", "-pk").first()
    return latest is not None and latest.reconsiders_id is not None


def record_release(*, share: Share, user: Person, **release: Any) -> Release:
    """Record what was sent, completing the flow's release step.

    A refusal reconsidered into an approval came after the process had ended at "refused";
    that process stays as it ended, and the release is recorded on the decision alone.
    """

    def work() -> Release:
        return services.release_record(share=share, user=user, **release)

    if _approved_on_reconsideration(share):
        with atomic_change():
            return work()
    return _complete(share, ShareFlow.record_release, user, work)


def send_securely(*, share: Share, user: Person, **release: Any) -> SentLink:
    """Send the approved items by secure link, completing the flow's release step as
    recording a release does: the release is written as the link is made."""

    def work() -> SentLink:
        return services.delivery_send(share=share, user=user, **release)

    if _approved_on_reconsideration(share):
        with atomic_change():
            sent = work()
    else:
        sent = _complete(share, ShareFlow.record_release, user, work)
    queue_link_email(sent.delivery)
    return sent


@atomic_change()
def ask_advice(*, share: Share, user: Person, adviser: Any, question: str) -> Consultation:
    consultation = services.advice_ask(share=share, user=user, adviser=adviser, question=question)
    events.advice_asked(consultation)
    return consultation


@atomic_change()
def give_advice(*, consultation: Consultation, user: Person, advice: str) -> Consultation:
    answered = services.advice_give(consultation=consultation, user=user, advice=advice)
    events.advice_given(answered)
    return answered
