"""Moving a child protection file from one setting to another in the same installation.

The sending lead (or deputy) chooses the child and the receiving setting's lead or deputy;
the file goes as it stands at that moment (``file``: built by the caller from the child's
chronology and records, frozen here). The receiving lead opens it, then accepts it, which
attaches it to a case for the child in their setting (opened then, if none is open), or
rejects it with a reason. Its clock is five school days from the child's first day there
(or from sending, if later), on the receiving setting's calendar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from typing import Any

from django.utils import timezone

from permissions.audit import record_setting_change
from permissions.models import AuditAction
from permissions.rules import can_answer_file, can_see_file, can_send_file

from ..choices import DECIDING_ROLES
from ..deadlines import calendar_of
from ..errors import RuleViolation, raise_if, refuse
from ..models import (
    AWAITING_ANSWER,
    Case,
    Child,
    FileTransfer,
    Membership,
    TransferEvent,
    TransferEventKind,
    TransferStatus,
)
from ..people import Person, display_name
from ..transactions import atomic_change
from .children import case_open, child_add

# Keeping Children Safe in Education: within five school days of the child starting.
SCHOOL_DAYS = 5
# The fields of a child copied to the new setting's roll when it accepts the file.
_CHILD_FIELDS = (
    "first_name",
    "last_name",
    "known_as",
    "date_of_birth",
    "nhs_number",
    "unique_pupil_number",
)


def transfer_due(to_setting: Any, starts_on: date, sent_at: datetime) -> tuple[datetime, datetime]:
    """When the file must be answered by (five school days from the child's first day there,
    or from sending if that is later) and when its lead is reminded (half way)."""
    calendar = calendar_of(to_setting)
    first_day = datetime.combine(starts_on, time(0, 0), tzinfo=calendar.zone)
    start = max(first_day, sent_at)
    due = calendar.add_working_days(start, SCHOOL_DAYS)
    return due, start + (due - start) / 2


def _receiving(member: Membership | None, from_setting: Any) -> Membership:
    if member is None or member.ended_at is not None or member.role not in DECIDING_ROLES:
        raise refuse("to", "Choose the lead or deputy lead of the setting the child has moved to.")
    if member.organisation_id == from_setting.pk:
        raise refuse("to", "Choose another setting: this is the child's setting already.")
    return member


@atomic_change()
def transfer_send(
    *,
    child: Child,
    to: Membership | None,
    starts_on: date | None,
    note: str,
    file: Mapping[str, Any],
    user: Person,
) -> FileTransfer:
    """Send the child's file, frozen as ``file`` is now, to ``to`` (a current lead or deputy
    of another setting)."""
    from_setting = child.organisation
    if not can_send_file(user, from_setting):
        raise refuse("__all__", "Only the setting's lead or a deputy can send a child's file.")
    errors: dict[str, list[str]] = {}
    try:
        to = _receiving(to, from_setting)
    except RuleViolation as refused:
        errors.update(refused.message_dict)
    if starts_on is None:
        errors["starts_on"] = ["Enter the child's first day at the new setting."]
    if len(note) > 2000:
        errors["note"] = ["Write the note in 2,000 characters or fewer."]
    raise_if(errors)
    assert to is not None and starts_on is not None
    now = timezone.now()
    due, remind = transfer_due(to.organisation, starts_on, now)
    transfer = FileTransfer.objects.create(
        child=child,
        from_setting=from_setting,
        to_setting=to.organisation,
        to_lead=to.user,
        sent_by=user,
        sent_at=now,
        starts_on=starts_on,
        due_at=due,
        remind_at=remind,
        note=note.strip(),
        file=dict(file),
    )
    TransferEvent.objects.create(transfer=transfer, kind=TransferEventKind.SENT, by=user)
    record_setting_change(
        AuditAction.FILE_SENT,
        from_setting,
        actor=user,
        record=transfer,
        detail=f"to {to.organisation.name}, {display_name(to.user)}",
    )
    return transfer


def _locked(transfer: FileTransfer) -> FileTransfer:
    return (
        FileTransfer.objects.select_for_update(of=("self",))
        .select_related("child", "from_setting", "to_setting", "to_lead", "sent_by")
        .get(pk=transfer.pk)
    )


@atomic_change()
def transfer_viewed(*, transfer: FileTransfer, user: Person) -> FileTransfer:
    """Someone who may see the file opened it: logged each time, in their own setting's
    audit chain; the first time the receiving lead or a deputy opens it, it moves from
    sent to viewed."""
    transfer = _locked(transfer)
    if not can_see_file(user, transfer):
        raise refuse("__all__", "This file is not open to you.")
    answers = can_answer_file(user, transfer)
    if answers and transfer.status == TransferStatus.SENT:
        transfer.status = TransferStatus.VIEWED
        transfer.save(update_fields=["status"])
        TransferEvent.objects.create(transfer=transfer, kind=TransferEventKind.VIEWED, by=user)
    sender_side = not answers and can_send_file(user, transfer.from_setting)
    record_setting_change(
        AuditAction.FILE_VIEWED,
        transfer.from_setting if sender_side else transfer.to_setting,
        actor=user,
        record=transfer,
        detail="",
    )
    return transfer


def _still_awaiting(transfer: FileTransfer) -> None:
    if transfer.status not in AWAITING_ANSWER:
        raise refuse(
            "__all__", f"This file has been {transfer.get_status_display().lower()} already."
        )


def _child_on_roll(transfer: FileTransfer, user: Person) -> Child:
    """The child on the receiving setting's roll: found by UPN, or name and birthday, or
    added from the file's child (their names, birthday and identifiers only)."""
    sent = transfer.child
    roll = Child.objects.filter(organisation=transfer.to_setting)
    found = None
    if sent.unique_pupil_number:
        found = roll.filter(unique_pupil_number=sent.unique_pupil_number).first()
    if found is None:
        found = roll.filter(
            first_name__iexact=sent.first_name,
            last_name__iexact=sent.last_name,
            date_of_birth=sent.date_of_birth,
        ).first()
    if found is not None:
        return found
    fields = {name: getattr(sent, name) for name in _CHILD_FIELDS}
    return child_add(organisation=transfer.to_setting, by=user, fields=fields)


@atomic_change()
def transfer_accept(
    *, transfer: FileTransfer, user: Person, team: Sequence[Person] = ()
) -> FileTransfer:
    """Accept the file: it is attached, read-only, to the child's open case in this setting,
    or to a case opened for them now with the team the lead chooses."""
    transfer = _locked(transfer)
    if not can_answer_file(user, transfer):
        raise refuse("__all__", "Only the receiving setting's lead or a deputy accepts this file.")
    _still_awaiting(transfer)
    child = _child_on_roll(transfer, user)
    case = Case.objects.filter(child=child, closed_at__isnull=True).first()
    if case is None:
        case = case_open(child=child, by=user, team=team)
    transfer.status = TransferStatus.ACCEPTED
    transfer.case = case
    transfer.save(update_fields=["status", "case"])
    TransferEvent.objects.create(transfer=transfer, kind=TransferEventKind.ACCEPTED, by=user)
    record_setting_change(
        AuditAction.FILE_ACCEPTED,
        transfer.to_setting,
        actor=user,
        record=transfer,
        detail=f"attached to case {case.reference}",
    )
    return transfer


@atomic_change()
def transfer_reject(*, transfer: FileTransfer, user: Person, reason: str) -> FileTransfer:
    """Reject the file with a reason the sender reads (the child never started here, say)."""
    transfer = _locked(transfer)
    if not can_answer_file(user, transfer):
        raise refuse("__all__", "Only the receiving setting's lead or a deputy rejects this file.")
    reason = reason.strip()
    if not reason:
        raise refuse("reason", "Say why the file is rejected: the sender reads it.")
    if len(reason) > 2000:
        raise refuse("reason", "Write the reason in 2,000 characters or fewer.")
    _still_awaiting(transfer)
    transfer.status = TransferStatus.REJECTED
    transfer.save(update_fields=["status"])
    TransferEvent.objects.create(
        transfer=transfer, kind=TransferEventKind.REJECTED, by=user, reason=reason
    )
    record_setting_change(
        AuditAction.FILE_REJECTED, transfer.to_setting, actor=user, record=transfer, detail=reason
    )
    return transfer


@atomic_change()
def transfer_note_clock(transfer: FileTransfer, kind: str) -> bool:
    """Record, once, that the file's lead was reminded or its deputies brought in; False
    when that was done already or the file has been answered meanwhile."""
    transfer = _locked(transfer)
    if transfer.status not in AWAITING_ANSWER or transfer.events.filter(kind=kind).exists():
        return False
    TransferEvent.objects.create(transfer=transfer, kind=kind)
    return True
