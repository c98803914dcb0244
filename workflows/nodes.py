"""A human task that keeps honest timings.

viewflow 2.4 never writes ``Task.assigned`` and overwrites ``Task.started`` at every
execution, so "how long did the lead take to pick this up" cannot be answered from the
stock node. This node stamps the time of assignment and keeps the first time the task's
page was opened.
"""

from __future__ import annotations

from typing import Any

from django.utils.timezone import now
from viewflow.workflow import flow
from viewflow.workflow.activation import Activation
from viewflow.workflow.models import Task
from viewflow.workflow.nodes.view import ViewActivation
from viewflow.workflow.status import STATUS


class TimedViewActivation(ViewActivation):
    @classmethod
    def create(
        cls, flow_task: Any, prev_activation: Any, token: Any, data: Any = None, seed: Any = None
    ) -> TimedViewActivation:
        activation = super().create(flow_task, prev_activation, token, data=data, seed=seed)
        task = activation.task
        if task.owner_id and task.assigned is None:
            # Auto-assigned at creation: it was assigned the moment it existed.
            task.assigned = task.created
            Task.objects.filter(pk=task.pk).update(assigned=task.assigned)
        return activation

    # "Assigned" is when someone first took the task; handing it to a colleague later
    # changes the owner, not when the work was picked up.
    @Activation.status.super()
    def assign(self, user: Any) -> None:
        if self.task.assigned is None:
            self.task.assigned = now()
        super().assign.original(user)

    @Activation.status.super()
    def start(self, request: Any) -> None:
        first_opened = self.task.started
        super().start.original(request)
        if first_opened is not None:
            self.task.started = first_opened


class TimedView(flow.View):
    """A human step whose created, assigned, first-opened and finished times are all kept."""

    activation_class = TimedViewActivation

    def can_unassign(self, user: Any, task: Task) -> bool:
        # A step is never handed back to a pool: an unowned draft or release would be open
        # for anyone to take. Whoever actually does a step becomes its owner (steps.py).
        return False


def mark_opened(task: Task, user: Any) -> None:
    """Record that someone who may do this step opened its page.

    Opening an unclaimed task picks it up: it is assigned to the opener from that moment.
    Only the first opening counts as started; later visits change nothing. Conditional
    updates, so two people opening at once cannot both claim it.
    """
    moment = now()
    Task.objects.filter(pk=task.pk, status=STATUS.NEW, owner__isnull=True).update(
        owner=user, status=STATUS.ASSIGNED, assigned=moment
    )
    Task.objects.filter(pk=task.pk, started__isnull=True).update(started=moment)
