"""Moving a child protection file from one setting to another: in this installation, or
outside it by secure link.

The sending lead (or deputy) chooses the child and the receiving setting's lead or deputy;
the file goes as it stands at that moment (``file``: built by the caller from the child's
chronology and records, frozen here). The receiving lead opens it, then accepts it, which
attaches it to a case for the child in their setting (opened then, if none is open), or
rejects it with a reason. Its clock is five school days from the child's first day there
(or from sending, if later), on the receiving setting's calendar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from permissions.audit import record_setting_change, setting_entry
from permissions.audit_chain import append, hold_chains
from permissions.models import AuditAction
from permissions.rules import can_answer_file, can_see_file, can_send_file

from ..choices import DECIDING_ROLES, EDUCATION_SETTING_KINDS
from ..deadlines import school_calendar_of
from ..errors import RuleViolation, raise_if, refuse
from ..models import (
    AWAITING_ANSWER,
    Case,
    Child,
    Delivery,
    FileRequest,
    FileRequestStatus,
    FileTransfer,
    Membership,
    Organisation,
    Recipient,
    TransferEvent,
    TransferEventKind,
    TransferStatus,
)
from ..people import Person, display_name
from ..transactions import atomic_change
from .children import case_open, child_add
from .deliveries import (
    SentLink,
    file_link_send,
    link_state,
    secure_address_errors,
)
from .memberships import case_team_add

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


@dataclass(frozen=True)
class SentFile:
    """A file just sent and, outside the installation, its link with the code to pass on."""

    transfer: FileTransfer
    link: SentLink | None


def transfer_due(setting: Any, starts_on: date, sent_at: datetime) -> tuple[datetime, datetime]:
    """When the file must be answered by, and when its lead is reminded (``_clock``)."""
    due, remind, _ = _clock(setting, starts_on, sent_at)
    return due, remind


def _clock(setting: Any, starts_on: date, sent_at: datetime) -> tuple[datetime, datetime, bool]:
    """A file's clock on ``setting``'s calendar (the receiving setting's, or the sender's
    own for a setting outside the installation, whose calendar is not known here): due five
    school days from the child's first day there, or from sending if that is later; its lead
    reminded two school days in; and whether it was sent late, after the child's fifth
    school day there, when the sender's own five days (Keeping Children Safe in Education)
    had passed.

    School days, not working days: the setting's holidays (its closures) are skipped, so a
    file sent before half-term does not fall due in the holiday."""
    first_day = datetime.combine(starts_on, time(0, 0), tzinfo=ZoneInfo(setting.timezone))
    start = max(first_day, sent_at)
    calendar = school_calendar_of(setting, since=starts_on)
    return (
        calendar.add_working_days(start, SCHOOL_DAYS),
        calendar.add_working_days(start, SCHOOL_DAYS // 2),
        sent_at > calendar.add_working_days(first_day, SCHOOL_DAYS),
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


def _outside(recipient: Recipient | None, from_setting: Organisation) -> dict[str, list[str]]:
    if recipient is None or recipient.organisation_id != from_setting.pk:
        return {"to_outside": ["Choose the new setting's lead from your address book."]}
    if recipient.agency_kind not in EDUCATION_SETTING_KINDS:
        return {
            "to_outside": [
                f"{recipient.agency_name} is not in your address book as a nursery, school or "
                "childminder: a child protection file goes only to the child's new setting. "
                "Another agency is sent what it needs by a share."
            ]
        }
    return {"to_outside": messages} if (messages := _address_errors(recipient)) else {}


def _address_errors(recipient: Recipient) -> list[str]:
    found = secure_address_errors(recipient, otherwise="")
    return [message for messages in found.values() for message in messages]


def _requested_child_errors(child: Child, request: FileRequest) -> dict[str, list[str]]:
    """The child sent must be the child asked for: the same date of birth, and the same
    first or last name (one may have changed: adoption, say). Anyone else is refused, so a
    file never answers a request for another child; the lead declines, saying why."""
    same_name = child.first_name.casefold() == request.first_name.casefold() or (
        child.last_name.casefold() == request.last_name.casefold()
    )
    if child.date_of_birth == request.date_of_birth and same_name:
        return {}
    asked = f"{request.first_name} {request.last_name}, born {request.date_of_birth:%-d %B %Y}"
    return {
        "child": [
            f"The request is for {asked}; {child.first_name} {child.last_name} was born "
            f"{child.date_of_birth:%-d %B %Y}. Choose the child asked for, or decline the "
            "request and say why."
        ]
    }


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
    of another setting here); ``request``: the request from that setting it answers."""
    return _send(child, to, None, starts_on, note, file, user, request, outside=False).transfer


@atomic_change()
def transfer_send_outside(
    *,
    child: Child,
    to_outside: Recipient | None,
    starts_on: date | None,
    note: str,
    file: Mapping[str, Any],
    user: Person,
) -> SentFile:
    """Send the child's file to a setting outside this installation: to its lead in the
    sender's address book, at their confirmed secure address, by secure link. The code that
    opens the link comes back once, for the sender to give them by phone."""
    return _send(child, None, to_outside, starts_on, note, file, user, None, outside=True)


def _send(
    child: Child,
    to: Membership | None,
    to_outside: Recipient | None,
    starts_on: date | None,
    note: str,
    file: Mapping[str, Any],
    user: Person,
    request: FileRequest | None,
    *,
    outside: bool,
) -> SentFile:
    from_setting = child.organisation
    if not can_send_file(user, from_setting):
        raise refuse("__all__", "Only the setting's lead or a deputy can send a child's file.")
    _education_setting(from_setting)
    # One file at a time per child: a second click, or a second lead, waits here and then
    # finds the first (below).
    Child.objects.select_for_update().filter(pk=child.pk).first()
    errors: dict[str, list[str]] = {}
    if outside:
        errors.update(_outside(to_outside, from_setting))
    else:
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
        errors.update(_requested_child_errors(child, request))
    errors.update(_start_errors(starts_on, "starts_on", "the child's first day at the new setting"))
    if len(note) > 2000:
        errors["note"] = ["Write the note in 2,000 characters or fewer."]
    raise_if(errors)
    assert starts_on is not None and (to is not None or to_outside is not None)
    receiving: dict[str, Any] = (
        {"to_recipient": to_outside} if to is None else {"to_setting": to.organisation}
    )
    waiting = FileTransfer.objects.filter(
        child=child, status__in=sorted(AWAITING_ANSWER), **receiving
    )
    if waiting.exists():
        where = to.organisation.name if to is not None else str(to_outside)
        raise refuse(
            "__all__",
            f"{child.first_name}'s file is already with {where}, waiting for their answer.",
        )
    now = timezone.now()
    # Outside the installation the new setting's calendar is not known: the sender's own.
    clock_setting = from_setting if to is None else to.organisation
    due, remind, late = _clock(clock_setting, starts_on, now)
    transfer = FileTransfer.objects.create(
        child=child,
        from_setting=from_setting,
        to_setting=None if to is None else to.organisation,
        to_lead=None if to is None else to.user,
        to_recipient=to_outside,
        to_name=str(to_outside) if to_outside is not None else "",
        sent_by=user,
        sent_at=now,
        starts_on=starts_on,
        due_at=due,
        # Outside, nobody here is reminded: the link tells its sender when it has not been
        # opened, and the sender's leads hear when the five days have passed.
        remind_at=remind if to is not None else due,
        sent_late=late,
        note=note.strip(),
        file=dict(file),
        request=request,
    )
    if request is not None:
        request.status = FileRequestStatus.SENT
        request.answered_by, request.answered_at = user, now
        request.save(update_fields=["status", "answered_by", "answered_at"])
    TransferEvent.objects.create(transfer=transfer, kind=TransferEventKind.SENT, by=user)
    receiver = transfer.receiver
    record_setting_change(
        AuditAction.FILE_SENT,
        from_setting,
        actor=user,
        record=transfer,
        detail=f"to {receiver}" + (" by secure link" if to is None else ""),
    )
    if to is not None:
        return SentFile(transfer, None)
    return SentFile(transfer, file_link_send(transfer=transfer, user=user, now=now))


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
    if sender_side or transfer.to_setting is None:
        record_setting_change(
            AuditAction.FILE_VIEWED,
            transfer.from_setting,
            actor=user,
            record=transfer,
            detail=f"read as a {how}",
        )
    else:
        # Once accepted, a reading belongs to the case the file is attached to: its lead
        # sees it among who has looked at the case.
        record_setting_change(
            AuditAction.FILE_VIEWED,
            transfer.to_setting,
            actor=user,
            record=transfer,
            case=transfer.case,
            detail=f"read as a {how}",
        )
    return transfer


def _receiving_setting(transfer: FileTransfer) -> Organisation:
    assert transfer.to_setting is not None, "answered only in this installation"
    return transfer.to_setting


def _reopen_request(transfer: FileTransfer) -> FileRequest | None:
    """A withdrawn file no longer answers the request it was sent for: the request is open
    again, for the right child's file (or a decline), and the file keeps its history."""
    if transfer.request_id is None:
        return None
    request = FileRequest.objects.select_for_update().get(pk=transfer.request_id)
    request.status = FileRequestStatus.OPEN
    request.answered_by = request.answered_at = None
    request.save(update_fields=["status", "answered_by", "answered_at"])
    transfer.request = None
    transfer.save(update_fields=["request"])
    return request


def _reason(reason: str, field: str, missing: str) -> str:
    """A reason the other setting reads: required, and within its 2,000 characters."""
    reason = reason.strip()
    if not reason:
        raise refuse(field, missing)
    if len(reason) > 2000:
        raise refuse(field, "Write the reason in 2,000 characters or fewer.")
    return reason


def _move(transfer: FileTransfer, status: str, kind: str, user: Person, reason: str = "") -> None:
    """The file's new status (and the case it is attached to, if set), and its event."""
    transfer.status = status
    transfer.save(update_fields=["status", "case"])
    TransferEvent.objects.create(transfer=transfer, kind=kind, by=user, reason=reason)


def _still_awaiting(transfer: FileTransfer) -> None:
    if transfer.status not in AWAITING_ANSWER:
        raise refuse("__all__", f"This file has been {transfer.answered_as} already.")


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
    return child_add(organisation=_receiving_setting(transfer), by=user, fields=fields)


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
    receiving = _receiving_setting(transfer)
    # Accepting writes the receiving setting's chain (a child added, a case opened) and
    # then both settings' chains: their locks are taken here first, in the one order every
    # append uses, after the setting's row (which opening a case locks before its chain).
    Organisation.objects.select_for_update(no_key=True).filter(pk=receiving.pk).first()
    hold_chains([receiving.pk, transfer.from_setting_id])
    child = _child_on_roll(transfer, user)
    case = Case.objects.filter(child=child, closed_at__isnull=True).first()
    if case is None:
        case = case_open(child=child, by=user, team=team)
    else:
        # The child's case here already has a team; those chosen join it, so the people
        # the lead chose to see the file do.
        on_team = set(case.team.values_list("pk", flat=True))
        for member in team:
            if member.pk not in on_team:
                case_team_add(case=case, user=member, by=user)
    transfer.case = case
    _move(transfer, TransferStatus.ACCEPTED, TransferEventKind.ACCEPTED, user)
    _in_both_chains(
        AuditAction.FILE_ACCEPTED,
        transfer,
        user,
        f"attached to case {case.reference}",
        acting=case.organisation,
        other=transfer.from_setting,
        case=case,
    )
    return transfer


def _in_both_chains(
    action: str,
    transfer: FileTransfer,
    user: Person,
    detail: str,
    *,
    acting: Organisation,
    other: Organisation | None,
    case: Case | None = None,
) -> None:
    """An answer to a file (or its withdrawal) is one setting's act and the other's proof:
    each setting's own chain holds it, so neither depends on the other's record. Appended
    together, so the two chains' locks are taken in the one order every append uses."""
    entries = [setting_entry(action, acting, actor=user, record=transfer, case=case, detail=detail)]
    if other is not None:
        entries.append(
            setting_entry(
                action,
                other,
                actor=user,
                record=transfer,
                basis=f"lead at {acting.name}"[:60],
                detail=f"by {acting.name}: {detail}",
            )
        )
    append(entries)


@atomic_change()
def transfer_reject(*, transfer: FileTransfer, user: Person, reason: str) -> FileTransfer:
    """Reject the file with a reason the sender reads (the child never started here, say)."""
    transfer = _locked(transfer)
    if not can_answer_file(user, transfer):
        raise refuse("__all__", "Only the receiving setting's lead or a deputy rejects this file.")
    reason = _reason(reason, "reason", "Say why the file is rejected: the sender reads it.")
    _still_awaiting(transfer)
    _move(transfer, TransferStatus.REJECTED, TransferEventKind.REJECTED, user, reason)
    _in_both_chains(
        AuditAction.FILE_REJECTED,
        transfer,
        user,
        reason,
        acting=_receiving_setting(transfer),
        other=transfer.from_setting,
    )
    return transfer


@atomic_change()
def transfer_withdraw(*, transfer: FileTransfer, user: Person, reason: str) -> FileTransfer:
    """The sending setting's lead or deputy takes back a file not yet answered (sent to the
    wrong setting, say), with a reason the receiving lead reads. Its contents leave the
    receiving setting; a secure link that carries it opens nothing more."""
    # The links first, then the file: the order in which the recipient's acknowledgement
    # takes them, so the two never wait on each other. Once it is withdrawn, no link to the
    # file opens (``LinkState.withdrawn``): nothing is written on the links themselves.
    list(Delivery.objects.select_for_update().filter(transfer=transfer).order_by("pk"))
    transfer = _locked(transfer)
    if not can_send_file(user, transfer.from_setting):
        raise refuse("__all__", "Only the sending setting's lead or a deputy withdraws a file.")
    reason = _reason(
        reason, "withdraw_reason", "Say why the file is withdrawn: it stays in its history."
    )
    _still_awaiting(transfer)
    _move(transfer, TransferStatus.WITHDRAWN, TransferEventKind.WITHDRAWN, user, reason)
    reopened = _reopen_request(transfer)
    _in_both_chains(
        AuditAction.FILE_WITHDRAWN,
        transfer,
        user,
        reason + (f" (request #{reopened.pk} is open again)" if reopened else ""),
        acting=transfer.from_setting,
        other=transfer.to_setting,
    )
    return transfer


@atomic_change()
def file_link_resend(*, transfer: FileTransfer, user: Person) -> SentLink:
    """A new link (and code) for a file sent outside, once no earlier link works (revoked,
    locked by wrong codes, expired) and its receipt is not yet confirmed."""
    links = list(Delivery.objects.select_for_update().filter(transfer=transfer).order_by("pk"))
    transfer = _locked(transfer)
    if not can_send_file(user, transfer.from_setting):
        raise refuse("__all__", "Only the sending setting's lead or a deputy sends this file.")
    if transfer.to_recipient is None or not links:
        raise refuse("__all__", "This file was not sent by secure link.")
    _still_awaiting(transfer)
    if messages := _address_errors(transfer.to_recipient):
        raise refuse("__all__", messages[0])
    now = timezone.now()
    if any(link_state(link, now).live for link in links):
        raise refuse(
            "__all__", "The link already sent still works: revoke it before sending another."
        )
    return file_link_send(transfer=transfer, user=user, now=now)


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
    # One request at a time per child: two leads asking at once queue here, and the second
    # finds the first.
    Organisation.objects.select_for_update(no_key=True).filter(pk=asked_for.pk).first()
    asked = (
        FileRequest.objects.filter(
            asked_for=asked_for,
            asked_of=asked_of,
            status=FileRequestStatus.OPEN,
            date_of_birth=date_of_birth,
            first_name__iexact=first_name,
            last_name__iexact=last_name,
        )
        .select_related("asked_by")
        .first()
    )
    if asked is not None:
        raise refuse(
            "__all__",
            f"{display_name(asked.asked_by)} asked {asked_of.name} for {first_name}'s file "
            f"on {timezone.localtime(asked.asked_at):%-d %B %Y}; it is waiting for their answer.",
        )
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
    reason = _reason(reason, "decline_reason", "Say why: the setting that asked reads it.")
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
