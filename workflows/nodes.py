"""A human task that keeps honest timings, and gateways and ends without needless savepoints.

viewflow 2.4 never writes ``Task.assigned`` and overwrites ``Task.started`` at every
execution, so "how long did the lead take to pick this up" cannot be answered from the
stock node. This node stamps the time of assignment and keeps the first time the task's
page was opened.

viewflow runs each gateway's condition and each end's bookkeeping in a savepoint of its
own. That savepoint matters only when viewflow keeps a failure on the task instead of
raising it (its ``propagate_exception`` context set to False): the transaction must then
stay usable. When the failure is raised, as in every step here, it leaves the step's
transaction, which ``atomic_change`` has already made whole or given its own savepoint; a
second one only costs two round trips. The nodes below keep viewflow's savepoint for the
first case and drop it in the second.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from django.db import transaction
from django.utils.timezone import now
from viewflow.workflow import flow
from viewflow.workflow.activation import Activation
from viewflow.workflow.context import context
from viewflow.workflow.exceptions import FlowRuntimeError
from viewflow.workflow.models import Task
from viewflow.workflow.nodes.end import EndActivation
from viewflow.workflow.nodes.if_gate import IfActivation
from viewflow.workflow.nodes.switch import SwitchActivation
from viewflow.workflow.nodes.view import ViewActivation
from viewflow.workflow.signals import flow_finished, task_finished, task_started
from viewflow.workflow.status import STATUS

from cases.transactions import atomic_change


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


def _node_block() -> AbstractContextManager[Any]:
    """Where a gateway's condition or an end's bookkeeping runs (see the module's note)."""
    if context.propagate_exception:
        return atomic_change()
    return transaction.atomic(savepoint=True)


class GatewayIfActivation(IfActivation):
    @Activation.status.super()
    def activate(self) -> None:
        with self.exception_guard(), _node_block():
            self._condition_result = self.flow_task._condition(self)


class If(flow.If):
    activation_class = GatewayIfActivation


class GatewaySwitchActivation(SwitchActivation):
    @Activation.status.super()
    def activate(self) -> None:
        # viewflow's own loop: the first case whose condition holds, else the default.
        with self.exception_guard(), _node_block():
            for node, cond in self.flow_task._branches:
                if cond:
                    if cond(self):
                        self.next_task = node
                        break
                else:
                    self.next_task = node
            if not self.next_task:
                raise FlowRuntimeError(f"No next task available for {self.flow_task.name}")


class Switch(flow.Switch):
    activation_class = GatewaySwitchActivation


class QuietEndActivation(EndActivation):
    @Activation.status.super()
    def activate(self) -> None:
        # viewflow's own end: the process finishes when no other task of it is open.
        with self.exception_guard(), _node_block():
            self.task.started = now()
            task_started.send(sender=self.flow_class, process=self.process, task=self.task)
            still_open = (
                self.flow_class.task_class._default_manager.filter(
                    process=self.process, finished__isnull=True
                )
                .exclude(pk=self.task.pk)
                .count()
            )
            if still_open == 0:
                self.process.status = STATUS.DONE
                self.process.finished = now()
                # Only the process's own columns: its share never changes.
                self.process.save(update_fields=["status", "finished"])
            task_finished.send(sender=self.flow_class, process=self.process, task=self.task)
            if still_open == 0:
                flow_finished.send(sender=self.flow_class, process=self.process, task=self.task)


class End(flow.End):
    activation_class = QuietEndActivation
