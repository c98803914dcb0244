"""The route a proposed share takes. Routing only: every rule lives in ``cases.services``."""

from __future__ import annotations

from typing import Any

from viewflow import this
from viewflow.workflow import flow

from cases.choices import ShareStatus
from cases.models import Share
from permissions.selectors import share_list_for

from .locking import waiting_lock
from .models import ShareProcess, ShareTask
from .nodes import TimedView


def _share_id(process: Any) -> int:
    """The share a process routes. Read once per process object: the flow asks several times
    while it moves (the assignee, each gateway), and viewflow's ``coerced`` goes to the
    database on every call."""
    if "_share_id" not in process.__dict__:
        share_id = getattr(process, "share_id", None)
        if share_id is None:
            share_id = ShareProcess.objects.values_list("share_id", flat=True).get(pk=process.pk)
        process.__dict__["_share_id"] = share_id
    return int(process.__dict__["_share_id"])


def _share(process: Any) -> Share:
    if "_share" not in process.__dict__:
        process.__dict__["_share"] = Share.objects.select_related(
            "proposed_by", "case__organisation"
        ).get(pk=_share_id(process))
    return process.__dict__["_share"]


def _proposer(activation: Any) -> Any:
    return _share(activation.process).proposed_by


def _setting(process: Any) -> Any:
    """The setting whose leads may take the review (viewflow passes the base Process)."""
    return _share(process).case.organisation


def seed_share(process: Any, share: Share) -> None:
    """Give the process the share its step has just saved in this transaction, under the
    share's row lock (``cases.services.shares.locked``) or as a row just inserted, which no
    one else sees yet: what the nodes that follow read of it (the gateway's status, the next
    assignee, the setting) is then what the database holds, and nobody can change it before
    the transaction ends."""
    process.__dict__["_share_id"] = share.pk
    process.__dict__["_share"] = share
    process.__dict__["_share_saved"] = True


def _share_status(activation: Any) -> str:
    process = activation.process
    if process.__dict__.get("_share_saved"):
        # The step's own saved, locked share (seed_share): its status is the row's.
        return str(process.__dict__["_share"].status)
    # Otherwise read afresh at each gateway: the step just done has changed it.
    return Share.objects.values_list("status", flat=True).get(pk=_share_id(process))


def _is(*statuses: str) -> Any:
    return lambda activation: _share_status(activation) in statuses


class ShareFlow(flow.Flow):
    process_class = ShareProcess
    task_class = ShareTask
    lock_impl = waiting_lock
    process_title = "Share"
    process_description = "From a proposed share to a timely release or a documented refusal."

    start = flow.StartHandle(this.start_share).Annotation(title="Proposed").Next(this.draft)

    draft = (
        TimedView(this.task_page)
        .Annotation(title="Prepare the share")
        .Assign(_proposer)
        .Next(this.after_draft)
    )

    after_draft = (
        flow.If(_is(ShareStatus.WITHDRAWN))
        .Annotation(title="Withdrawn, or on to the lead")
        .Then(this.withdrawn)
        .Else(this.lead_review)
    )

    lead_review = (
        TimedView(this.task_page)
        .Annotation(title="Lead review")
        .Permission("cases.decide_shares", obj=_setting)
        # Its escalation (remind, deputies, manager) runs beside it, outside the flow: the
        # timer sweep reads the share's escalation_due_at (workflows.escalation).
        .Next(this.route_decision)
    )

    route_decision = (
        flow.Switch()
        .Annotation(title="On, by the decision")
        .Case(this.record_release, _is(ShareStatus.APPROVED, ShareStatus.APPROVED_IN_PART))
        .Case(this.refused, _is(ShareStatus.REFUSED))
        # A retrospective review of an emergency release: whatever its view, it was sent.
        .Case(this.released, _is(ShareStatus.RELEASED))
        .Default(this.draft)
    )

    record_release = (
        TimedView(this.task_page)
        .Annotation(title="Record the release")
        .Assign(_proposer)
        .Next(this.released)
    )

    released = flow.End().Annotation(title="Released")
    refused = flow.End().Annotation(title="Refused")
    withdrawn = flow.End().Annotation(title="Withdrawn")

    def has_view_permission(self, user: Any, obj: Any = None) -> bool:
        # Lists are narrowed per share (ShareTaskQuerySet, workflows.viewsets), so seeing the
        # flow at all needs only a signed-in user; a single process needs its share visible.
        if not user.is_authenticated:
            return False
        return obj is None or share_list_for(user).filter(process__pk=obj.pk).exists()

    def has_manage_permission(self, user: Any, obj: Any = None) -> bool:
        # Cancelling or undoing steps by hand would part a share from its record: nobody may.
        return False

    def start_share(self, activation: Any, share: Share) -> ShareProcess:
        activation.process.share = share
        # The draft just written in this transaction: the draft step's assignee (its
        # proposer) is read from it rather than from the database again.
        seed_share(activation.process, share)
        return activation.process

    def task_page(self, request: Any, process_pk: int, **kwargs: Any) -> Any:
        # Human steps are worked from the share's own pages, which drive the task through
        # workflows.steps; viewflow's generic task URL only points there.
        from .views import share_page_for_process

        return share_page_for_process(request, process_pk)
