"""Who hears of a child protection file: the receiving lead when it arrives, the sender
when it is accepted or rejected, and, on its clock, the receiving lead reminded at half
time and the setting's deputies (and the sender) once its five school days have passed."""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from cases.choices import DECIDING_ROLES
from cases.models import (
    AWAITING_ANSWER,
    FileRequest,
    FileTransfer,
    TransferEventKind,
    TransferStatus,
)
from cases.services.transfers import transfer_note_clock
from cases.transactions import atomic_change
from permissions.selectors import people_to_alert

from ..models import Notification, NotificationKind
from ..notifications.outbox import notify

logger = logging.getLogger(__name__)


def _page(transfer: FileTransfer) -> str:
    return reverse("safeguarding:child_file", args=[transfer.pk])


def _still_deciding(person: Any, setting: Any) -> list[Any]:
    """The person, while they are still a lead or deputy there; else that setting's leads and
    deputies, so that a file's news always reaches someone who can act on it."""
    leads = list(people_to_alert(setting, set(DECIDING_ROLES)))
    return [person] if person in leads else leads


def file_sent(transfer: FileTransfer) -> list[Notification]:
    return notify(
        _still_deciding(transfer.to_lead, transfer.to_setting),
        NotificationKind.FILE_RECEIVED,
        event=f"{NotificationKind.FILE_RECEIVED}:{transfer.pk}",
        link=_page(transfer),
        actor=transfer.sent_by,
        detail=f"From {transfer.from_setting.name}",
        due_at=transfer.due_at,
    )


def file_answered(transfer: FileTransfer) -> list[Notification]:
    accepted = transfer.status == TransferStatus.ACCEPTED
    kind = NotificationKind.FILE_ACCEPTED if accepted else NotificationKind.FILE_REJECTED
    assert transfer.to_setting is not None, "answered in this installation"
    return notify(
        _still_deciding(transfer.sent_by, transfer.from_setting),
        kind,
        event=f"{kind}:{transfer.pk}",
        link=_page(transfer),
        detail=f"By {transfer.to_setting.name}",
    )


def file_withdrawn(transfer: FileTransfer, by: Any) -> list[Notification]:
    """The receiving lead (or, if they have gone, the setting's leads) hears the file they
    were sent is withdrawn; a setting outside hears nothing here: its link opens nothing."""
    if transfer.to_setting is None:
        return []
    return notify(
        _still_deciding(transfer.to_lead, transfer.to_setting),
        NotificationKind.FILE_WITHDRAWN,
        event=f"{NotificationKind.FILE_WITHDRAWN}:{transfer.pk}",
        link=_page(transfer),
        actor=by,
        detail=f"From {transfer.from_setting.name}",
    )


def chase_files_due() -> int:
    """The sweep's part: files still unanswered whose reminder or deadline has come. Reads
    only those (an index on the reminder time), never every file ever sent."""
    now = timezone.now()
    due = (
        FileTransfer.objects.filter(status__in=sorted(AWAITING_ANSWER), remind_at__lte=now)
        .exclude(
            Q(events__kind=TransferEventKind.ESCALATED)
            | Q(due_at__gt=now, events__kind=TransferEventKind.REMINDED)
        )
        .select_related("to_setting", "from_setting", "to_lead", "sent_by")
        .defer("file")
    )
    chased = 0
    for transfer in due:
        try:
            chased += _chase(transfer, now)
        except Exception:  # one file's trouble must not stop the sweep for the rest
            logger.exception("Could not chase child protection file %s", transfer.pk)
    return chased


def _chase(transfer: FileTransfer, now: object) -> int:
    with atomic_change():
        if transfer.to_setting is None:
            return _chase_outside(transfer, now)
        if transfer.due_at <= now:  # type: ignore[operator]
            if not transfer_note_clock(transfer, TransferEventKind.ESCALATED):
                return 0
            people = [*people_to_alert(transfer.to_setting, set(DECIDING_ROLES))]
            notify(
                people,
                NotificationKind.FILE_OVERDUE,
                event=f"{NotificationKind.FILE_OVERDUE}:{transfer.pk}",
                link=_page(transfer),
                detail=f"From {transfer.from_setting.name}",
                due_at=transfer.due_at,
            )
            notify(
                _still_deciding(transfer.sent_by, transfer.from_setting),
                NotificationKind.FILE_OVERDUE_SENT,
                event=f"{NotificationKind.FILE_OVERDUE_SENT}:{transfer.pk}",
                link=_page(transfer),
                detail=f"Sent to {transfer.to_setting.name}",
                due_at=transfer.due_at,
            )
            return 1
        if not transfer_note_clock(transfer, TransferEventKind.REMINDED):
            return 0
        notify(
            _still_deciding(transfer.to_lead, transfer.to_setting),
            NotificationKind.FILE_REMINDER,
            event=f"{NotificationKind.FILE_REMINDER}:{transfer.pk}",
            link=_page(transfer),
            detail=f"From {transfer.from_setting.name}",
            due_at=transfer.due_at,
        )
        return 1


def _chase_outside(transfer: FileTransfer, now: object) -> int:
    """A file sent outside the installation whose receipt is not confirmed in five school
    days: nobody there can be reached here, so the sending setting's leads and deputies
    hear, to phone them (its remind time is its due time: no half-time reminder)."""
    if transfer.due_at > now or not transfer_note_clock(  # type: ignore[operator]
        transfer, TransferEventKind.ESCALATED
    ):
        return 0
    notify(
        people_to_alert(transfer.from_setting, set(DECIDING_ROLES)),
        NotificationKind.FILE_OVERDUE_SENT,
        event=f"{NotificationKind.FILE_OVERDUE_SENT}:{transfer.pk}",
        link=_page(transfer),
        detail=f"Receipt not confirmed by {transfer.to_name}: phone them",
        due_at=transfer.due_at,
    )
    return 1


def _request_page(request: FileRequest) -> str:
    return reverse("safeguarding:file_request", args=[request.pk])


def file_requested(request: FileRequest) -> list[Notification]:
    return notify(
        people_to_alert(request.asked_of, set(DECIDING_ROLES)),
        NotificationKind.FILE_REQUESTED,
        event=f"{NotificationKind.FILE_REQUESTED}:{request.pk}",
        link=_request_page(request),
        actor=request.asked_by,
        detail=f"From {request.asked_for.name}",
    )


def file_request_declined(request: FileRequest) -> list[Notification]:
    return notify(
        _still_deciding(request.asked_by, request.asked_for),
        NotificationKind.FILE_REQUEST_DECLINED,
        event=f"{NotificationKind.FILE_REQUEST_DECLINED}:{request.pk}",
        link=_request_page(request),
        actor=request.answered_by,
        detail=f"From {request.asked_of.name}",
    )
