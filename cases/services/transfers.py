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
from zoneinfo import ZoneInfo

from django.utils import timezone

from permissions.audit import record_setting_change
from permissions.models import AuditAction
from permissions.rules import can_answer_file, can_see_file, can_send_file

from ..choices import DECIDING_ROLES, EDUCATION_SETTING_KINDS
from ..deadlines import school_calendar_of
from ..errors import RuleViolation, raise_if, refuse
from ..models import (
    AWAITING_ANSWER,
    Case,
    Child,
    FileRequest,
    FileRequestStatus,
    FileTransfer,
    Membership,
    Organisation,
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
    or from sending if that is later) and when its lead is reminded (two school days in).

    School days, not working days: the receiving setting's holidays (its closures) are
    skipped, so a file sent before half-term does not fall due in the holiday."""
    zone = ZoneInfo(to_setting.timezone)
    first_day = datetime.combine(starts_on, time(0, 0), tzinfo=zone)
    start = max(first_day, sent_at)
    calendar = school_calendar_of(to_setting, since=start.astimezone(zone).date())
    return (
        calendar.add_working_days(start, SCHOOL_DAYS),
        calendar.add_working_days(start, SCHOOL_DAYS // 2),
    )


def _receiving(member: Membership | None, from_setting: Any) -> Membership:
    if member is None or member.ended_at is not None or member.role not in DECIDING_ROLES:
        raise refuse("to", "Choose the lead or deputy lead of the setting the child has moved to.")
    if member.organisation_id == from_setting.pk:
        raise refuse("to", "Choose another setting: this is the child's setting already.")
    if member.organisation.kind not in EDUCATION_SETTING_KINDS:
        raise refuse(
            "to",
            "A child protection file moves only to a nursery, school or childminder. Share "
            "what another agency needs by a share, decided and recorded.",
        )
    return member


def _education_setting(organisation: Organisation) -> None:
    if organisation.kind not in EDUCATION_SETTING_KINDS:
        raise refuse(
            "__all__",
            "Child protection files move only between nurseries, schools and childminders.",
        )


def _start_errors(starts_on: date | None, field: str, said: str) -> dict[str, list[str]]:
    """A first day within a year either side of today: a real move, never a typing slip."""
    if starts_on is None:
        return {field: [f"Enter {said}."]}
    today = timezone.localdate()
    if abs((starts_on - today).days) > 366:
        return {field: [f"Enter {said}: within a year of today."]}
    return {}


@atomic_change()
def transfer_send(
    *,
    child: Child,
    to: Membership | None,
    starts_on: date | None,
    note: str,
    file: Mapping[str, Any],
    user: Person,
    request: FileRequest | None = None,
) -> FileTransfer:
    """Send the child's file, frozen as ``file`` is now, to ``to`` (a current lead or deputy
    of another setting); ``request``: the request from that setting it answers."""
    from_setting = child.organisation
    if not can_send_file(user, from_setting):
        raise refuse("__all__", "Only the setting's lead or a deputy can send a child's file.")
    _education_setting(from_setting)
    # One file at a time per child: a second click, or a second lead, waits here and then
    # finds the first (below).
    Child.objects.select_for_update().filter(pk=child.pk).first()
    errors: dict[str, list[str]] = {}
    try:
        to = _receiving(to, from_setting)
    except RuleViolation as refused:
        errors.update(refused.message_dict)
    if request is not None:
        request = FileRequest.objects.select_for_update().get(pk=request.pk)
        if request.asked_of_id != from_setting.pk:
            raise refuse("__all__", "This request was made of another setting.")
        if request.status != FileRequestStatus.OPEN:
            raise refuse("__all__", "This request has been answered already.")
        if to is not None and to.organisation_id != request.asked_for_id:
            errors["to"] = ["Send it to the lead or a deputy of the setting that asked."]
    errors.update(_start_errors(starts_on, "starts_on", "the child's first day at the new setting"))
    if len(note) > 2000:
        errors["note"] = ["Write the note in 2,000 characters or fewer."]
    raise_if(errors)
    assert to is not None and starts_on is not None
    waiting = FileTransfer.objects.filter(
        child=child, to_setting=to.organisation, status__in=sorted(AWAITING_ANSWER)
    )
    if waiting.exists():
        raise refuse(
            "__all__",
            f"{child.first_name}'s file is already with {to.organisation.name}, waiting for "
            "their answer.",
        )
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
        request=request,
    )
    if request is not None:
        request.status = FileRequestStatus.SENT
        request.answered_by, request.answered_at = user, now
        request.save(update_fields=["status", "answered_by", "answered_at"])
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
def transfer_viewed(*, transfer: FileTransfer, user: Person, how: str = "page") -> FileTransfer:
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
        detail=f"read as a {how}",
    )
    return transfer


def _still_awaiting(transfer: FileTransfer) -> None:
    if transfer.status not in AWAITING_ANSWER:
        raise refuse(
            "__all__", f"This file has been {transfer.get_status_display().lower()} already."
        )


def _child_on_roll(transfer: FileTransfer, user: Person) -> Child:
    """The child on the receiving setting's roll, found only where nothing disagrees: the
    same date of birth and either the same UPN, the same NHS number, or the same legal name
    with no identifier that differs. Anyone else is a new child on the roll (their names,
    birthday and identifiers only): a file is never attached to a child it may not be for."""
    sent = transfer.child
    same_birthday = Child.objects.filter(
        organisation=transfer.to_setting, date_of_birth=sent.date_of_birth
    )
    for identifier in ("unique_pupil_number", "nhs_number"):
        value = getattr(sent, identifier)
        if value:
            found = same_birthday.filter(**{identifier: value}).first()
            if found is not None:
                return found
    for candidate in same_birthday.filter(
        first_name__iexact=sent.first_name, last_name__iexact=sent.last_name
    ):
        conflicting = any(
            getattr(sent, identifier)
            and getattr(candidate, identifier)
            and getattr(sent, identifier) != getattr(candidate, identifier)
            for identifier in ("unique_pupil_number", "nhs_number")
        )
        if not conflicting:
            return candidate
        raise refuse(
            "__all__",
            f"{candidate} on your roll has the same name and birthday as the child in this "
            "file but a different UPN or NHS number. Check under Children which child this "
            "is, correct their record, then accept.",
        )
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


@atomic_change()
def file_request_make(
    *,
    asked_of: Organisation | None,
    asked_for: Organisation,
    user: Person,
    first_name: str,
    last_name: str,
    date_of_birth: date | None,
    starts_on: date | None,
    note: str = "",
) -> FileRequest:
    """A new setting's lead or deputy asks a child's previous setting for their file."""
    if not can_send_file(user, asked_for):
        raise refuse("__all__", "Only the setting's lead or a deputy asks for a child's file.")
    errors: dict[str, list[str]] = {}
    if asked_of is None or asked_of.pk == asked_for.pk:
        errors["asked_of"] = ["Choose the setting the child was at before."]
    first_name, last_name = first_name.strip(), last_name.strip()
    for field, value, said in (
        ("first_name", first_name, "first name"),
        ("last_name", last_name, "last name"),
    ):
        if not value:
            errors[field] = [f"Enter the child's legal {said}."]
        elif len(value) > 100:
            errors[field] = [f"The {said} has 100 characters at most."]
    if date_of_birth is None:
        errors["date_of_birth"] = ["Enter the child's date of birth."]
    errors.update(_start_errors(starts_on, "starts_on", "the child's first day with you"))
    if len(note) > 2000:
        errors["note"] = ["Write the note in 2,000 characters or fewer."]
    raise_if(errors)
    assert asked_of is not None and date_of_birth is not None and starts_on is not None
    _education_setting(asked_for)
    _education_setting(asked_of)
    request = FileRequest.objects.create(
        asked_of=asked_of,
        asked_for=asked_for,
        asked_by=user,
        first_name=first_name,
        last_name=last_name,
        date_of_birth=date_of_birth,
        starts_on=starts_on,
        note=note.strip(),
    )
    record_setting_change(
        AuditAction.FILE_REQUESTED, asked_for, actor=user, record=request, detail=asked_of.name
    )
    return request


@atomic_change()
def file_request_decline(*, request: FileRequest, user: Person, reason: str) -> FileRequest:
    """The previous setting's lead or deputy declines, saying why (no such child here, say)."""
    request = FileRequest.objects.select_for_update().select_related("asked_of").get(pk=request.pk)
    if not can_send_file(user, request.asked_of):
        raise refuse("__all__", "Only the setting's lead or a deputy answers this request.")
    if request.status != FileRequestStatus.OPEN:
        raise refuse("__all__", "This request has been answered already.")
    reason = reason.strip()
    if not reason:
        raise refuse("decline_reason", "Say why: the setting that asked reads it.")
    if len(reason) > 2000:
        raise refuse("decline_reason", "Write the reason in 2,000 characters or fewer.")
    request.status = FileRequestStatus.DECLINED
    request.answered_by, request.answered_at = user, timezone.now()
    request.decline_reason = reason
    request.save(update_fields=["status", "answered_by", "answered_at", "decline_reason"])
    record_setting_change(
        AuditAction.FILE_REQUEST_DECLINED,
        request.asked_of,
        actor=user,
        record=request,
        detail=reason,
    )
    return request
