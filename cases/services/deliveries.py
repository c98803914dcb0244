"""Sending a release by Safeshare's secure link, and what its recipient does with the link.

The link is the only thing the email carries. It opens with a one-time code the sender
passes on by another channel (a phone call), and only while it is live: not revoked, not
locked by wrong codes, not past its expiry. Each thing that happens to it is a
``DeliveryEvent`` and an entry in the setting's audit chain, written with the link's row
locked, so two tries at once count as two and never slip past the limit together.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.hashers import check_password, make_password
from django.utils import timezone

from cases.people import Person, display_name
from permissions.audit import record_event, record_setting_change
from permissions.links import LinkUnavailable
from permissions.models import AuditAction
from permissions.rules import can_decide, can_record_release, can_revoke_link

from .. import app_settings
from ..choices import Outcome, SendingMethod, ShareStatus
from ..deadlines import calendar_of
from ..errors import RuleViolation, raise_if, refuse
from ..models import (
    AWAITING_ANSWER,
    ENDING_EVENTS,
    Delivery,
    DeliveryEvent,
    DeliveryEventKind,
    FileTransfer,
    Recipient,
    Release,
    Share,
    TransferEvent,
    TransferEventKind,
    TransferStatus,
)
from ..transactions import atomic_change
from .releases import ItemHandling, release_approved
from .shares import locked

CODE_DIGITS = 8
FILE_LINK_MOST_DAYS = 28
# What the recipient's actions are logged under in the audit chain: they hold no role.
RECIPIENT_BASIS = "outside recipient (secure link)"

_AUDITED = {
    DeliveryEventKind.OPENED: AuditAction.DELIVERY_OPENED,
    DeliveryEventKind.VIEWED: AuditAction.DELIVERY_VIEWED,
    DeliveryEventKind.DOWNLOADED: AuditAction.DELIVERY_DOWNLOADED,
    DeliveryEventKind.ACKNOWLEDGED: AuditAction.DELIVERY_ACKNOWLEDGED,
    DeliveryEventKind.WRONG_CODE: AuditAction.DELIVERY_WRONG_CODE,
    DeliveryEventKind.LOCKED: AuditAction.DELIVERY_LOCKED,
    DeliveryEventKind.REVOKED: AuditAction.DELIVERY_REVOKED,
}


@dataclass(frozen=True)
class SentLink:
    """A release or a file just sent by secure link, with the code to pass on (shown once,
    never kept)."""

    delivery: Delivery
    code: str

    @property
    def share(self) -> Share:
        assert self.delivery.share is not None, "a share's link"
        return self.delivery.share


@dataclass(frozen=True)
class LinkState:
    """A link and everything that has happened to it, read once."""

    delivery: Delivery
    events: tuple[DeliveryEvent, ...]
    now: datetime

    def _of(self, kind: str) -> list[DeliveryEvent]:
        return [event for event in self.events if event.kind == kind]

    def first(self, kind: str) -> DeliveryEvent | None:
        found = self._of(kind)
        return found[0] if found else None

    def count(self, kind: str) -> int:
        return len(self._of(kind))

    @property
    def ended_by(self) -> DeliveryEvent | None:
        """The revocation or lock that ended the link, if one did."""
        return next((event for event in self.events if event.kind in ENDING_EVENTS), None)

    @property
    def expired(self) -> bool:
        return self.now >= self.delivery.expires_at

    @property
    def withdrawn(self) -> bool:
        """The file it carries was withdrawn by its sender: then no link to it opens, even
        one sent while the withdrawal was under way."""
        transfer = self.delivery.transfer
        return transfer is not None and transfer.status == TransferStatus.WITHDRAWN

    @property
    def live(self) -> bool:
        return self.ended_by is None and not self.expired and not self.withdrawn

    @property
    def codes_left(self) -> int:
        allowed = app_settings.get("SAFESHARE_DELIVERY_CODE_ATTEMPTS")
        return max(allowed - self.count(DeliveryEventKind.WRONG_CODE), 0)

    @property
    def status(self) -> str:
        """The link's state in a few words, as its sender reads it."""
        ended = self.ended_by
        if ended is not None:
            return "Locked after too many wrong codes" if ended.kind == "locked" else "Revoked"
        if self.withdrawn:
            return "Ended: the file was withdrawn"
        if self.expired:
            return "Expired"
        if self.first(DeliveryEventKind.ACKNOWLEDGED):
            return "Receipt acknowledged"
        if self.first(DeliveryEventKind.OPENED):
            return "Opened"
        return "Sent, not yet opened"


def link_state(delivery: Delivery, now: datetime | None = None) -> LinkState:
    events = delivery.events.select_related("by").order_by("at", "pk")
    return LinkState(delivery, tuple(events), now or timezone.now())


def _new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_for_reading(code: str) -> str:
    """The code in two groups of four, as it is read out over the phone."""
    return f"{code[:4]} {code[4:]}"


def secure_address_errors(
    recipient: Recipient | None, otherwise: str = ", or record a release sent another way"
) -> dict[str, list[str]]:
    """Why nothing can be sent by secure link to this address book entry, if anything;
    ``otherwise``: what else the sender may do, said after "Confirm it ... first"."""
    if recipient is None or not recipient.secure_email:
        return {"__all__": ["The recipient has no secure email address in the address book."]}
    if recipient.retired_at is not None:
        return {
            "__all__": [
                f"{recipient.person_name} has been retired from the address book: nothing is "
                "sent to them any more."
            ]
        }
    if recipient.secure_email_verified_at is None:
        return {
            "__all__": [
                f"{recipient.person_name}'s secure address has not been confirmed with their "
                f"organisation yet. Confirm it in the address book first{otherwise}."
            ]
        }
    return {}


def can_send_by_link(share: Share) -> bool:
    """Whether the share's recipient has a confirmed secure address to send the link to."""
    return not secure_address_errors(share.recipient)


def _event(
    delivery: Delivery,
    kind: str,
    *,
    name: str = "",
    by: Person | None = None,
    detail: str = "",
) -> DeliveryEvent:
    event = DeliveryEvent.objects.create(delivery=delivery, kind=kind, name=name, by=by)
    if delivery.transfer is not None:
        # Before the audit entry: every path takes the link, then the file, then the chain
        # (a lead reading the file takes the file, then the chain), never the other way.
        _file_moved_on(delivery.transfer, kind, name)
    said = f"secure link #{delivery.pk}" + (f"; name given: {name}" if name else "")
    _audit(
        delivery,
        _AUDITED[DeliveryEventKind(kind)],
        by,
        f"{said}; {detail}" if detail else said,
    )
    return event


def _audit(delivery: Delivery, action: str, by: Person | None, detail: str) -> None:
    """In the sending setting's chain: on the share, or on the file."""
    basis = "" if by is not None else RECIPIENT_BASIS
    if delivery.transfer is not None:
        record_setting_change(
            action,
            delivery.transfer.from_setting,
            actor=by,
            record=delivery.transfer,
            basis=basis,
            detail=detail,
        )
    else:
        assert delivery.share is not None
        record_event(action, delivery.share, actor=by, basis=basis, detail=detail)


def _file_moved_on(transfer: FileTransfer, kind: str, name: str) -> None:
    """A file's link opened for the first time, or its receipt acknowledged: the file's own
    status and history say so, as they do when a lead in Safeshare opens or accepts one."""
    if kind == DeliveryEventKind.OPENED:
        before, after = [TransferStatus.SENT], TransferStatus.VIEWED
        said, event = f"Opened through the secure link by {name}", TransferEventKind.VIEWED
    elif kind == DeliveryEventKind.ACKNOWLEDGED:
        before, after = sorted(AWAITING_ANSWER), TransferStatus.RECEIVED
        said, event = f"Acknowledged by {name}", TransferEventKind.RECEIVED
    else:
        return
    # One conditional update, not a lock taken first: the link's row is locked already, and
    # the sender withdrawing the file takes the link's lock before the file's, so the two
    # never wait on each other in opposite order.
    moved = FileTransfer.objects.filter(pk=transfer.pk, status__in=before).update(status=after)
    if moved:
        transfer.status = after
        TransferEvent.objects.create(transfer=transfer, kind=event, reason=said)


@atomic_change()
def delivery_send(
    *,
    share: Share,
    user: Person,
    third_party_handling: ItemHandling | None = None,
    note: str = "",
) -> SentLink:
    """Release the approved items by secure link: the release is written now, from exactly
    what the link shows, and the email with the link goes once this commits."""
    share = locked(share)
    if share.status in (ShareStatus.APPROVED, ShareStatus.APPROVED_IN_PART):
        # Checked first only where the share can be released at all; the release checks
        # the rest (the status, who may send, the approval, the flagged items).
        raise_if(secure_address_errors(share.recipient))
    now = timezone.now()
    release = release_approved(
        share, user, now, third_party_handling, note, SendingMethod.SECURE_LINK
    )
    return _new_link(share, release, user, now, "")


def _new_link(share: Share, release: Release, user: Person, now: datetime, why: str) -> SentLink:
    assert share.recipient is not None, "checked by secure_address_errors"
    return _link(
        Delivery(release=release, share=share, email=share.recipient.secure_email),
        user,
        now,
        f"release #{release.pk}",
        why,
    )


def file_link_send(*, transfer: FileTransfer, user: Person, now: datetime) -> SentLink:
    """The link that carries a child protection file to its recipient outside Safeshare.
    The caller (``transfer_send``) has checked the recipient and who sends."""
    assert transfer.to_recipient is not None
    return _link(
        Delivery(transfer=transfer, email=transfer.to_recipient.secure_email),
        user,
        now,
        f"child protection file #{transfer.pk}",
        "",
        # A file sent ahead of the child's first day works until its five school days are
        # up, so the new school can open it once the child has started; but never for more
        # than four weeks (a whole file behind one code): sent further ahead, the sender
        # sends a new link nearer the day.
        lasts_until=min(transfer.due_at, now + timedelta(days=FILE_LINK_MOST_DAYS)),
    )


def _link(
    delivery: Delivery,
    user: Person,
    now: datetime,
    what: str,
    why: str,
    lasts_until: datetime | None = None,
) -> SentLink:
    code = _new_code()
    working_days = app_settings.get("SAFESHARE_DELIVERY_NOT_OPENED_WORKING_DAYS")
    delivery.code_digest = make_password(code)
    delivery.sent_by, delivery.sent_at = user, now
    delivery.expires_at = max(
        now + timedelta(days=app_settings.get("SAFESHARE_DELIVERY_DAYS")), lasts_until or now
    )
    delivery.remind_at = calendar_of(delivery.setting).add_working_days(now, working_days)
    delivery.save()
    _audit(
        delivery,
        AuditAction.DELIVERY_SENT,
        user,
        f"{what}; secure link #{delivery.pk} to {delivery.email}{why}",
    )
    return SentLink(delivery, code)


@atomic_change()
def delivery_resend(*, share: Share, user: Person) -> SentLink:
    """A new link (and code) to the same release, once no earlier link is live: the one
    before was revoked, locked by wrong codes, or expired. What it shows is the release as
    it was sent; nothing is released again."""
    share = locked(share)
    release = Release.objects.filter(share=share).first()
    links = list(share.deliveries.order_by("pk"))
    if release is None or release.sending_method != SendingMethod.SECURE_LINK or not links:
        raise refuse("__all__", "This share was not sent by secure link.")
    if not can_record_release(user, share):
        raise refuse("__all__", "Only the proposer or a lead can send this share.")
    latest = share.decisions.order_by("-decided_at", "-pk").first()
    if latest is None or latest.outcome not in (Outcome.APPROVE, Outcome.APPROVE_IN_PART):
        # A later decision (a refused emergency release, say) stands over the one it was
        # sent under: nothing more goes out.
        raise refuse(
            "__all__", "The share's latest decision is not an approval: send nothing more."
        )
    raise_if(secure_address_errors(share.recipient))
    now = timezone.now()
    states = [link_state(delivery, now) for delivery in links]
    if any(state.live for state in states):
        raise refuse(
            "__all__", "The link already sent still works: revoke it before sending another."
        )
    ended = states[-1].ended_by
    if (
        ended is not None
        and ended.kind == DeliveryEventKind.REVOKED
        and ended.by is not None
        and can_decide(ended.by, share)
        and not can_decide(user, share)
    ):
        raise refuse(
            "__all__",
            f"{display_name(ended.by)} revoked the last link: only a lead or deputy sends another.",
        )
    return _new_link(share, release, user, now, "; a new link in place of one that ended")


def _locked_state(delivery: Delivery) -> LinkState:
    """The link re-read under a row lock, with its events: whoever acts on it queues here."""
    fresh = (
        Delivery.objects.select_for_update(of=("self",), no_key=True)
        .select_related("release", "share__case__organisation", "transfer__from_setting", "sent_by")
        .get(pk=delivery.pk)
    )
    return link_state(fresh)


def _live_state(delivery: Delivery) -> LinkState:
    state = _locked_state(delivery)
    if not state.live:
        raise LinkUnavailable
    return state


def _name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise refuse("name", "Enter your name.")
    if len(name) > 200:
        raise refuse("name", "Enter your name in 200 characters or fewer.")
    return name


@atomic_change()
def delivery_unlock(*, delivery: Delivery, name: str, code: str) -> LinkState:
    """Open the link with its code. A wrong code is recorded (and commits: a refusal raised
    here would roll it back), and the last one allowed locks the link: the caller reads
    ``codes_left`` and ``live`` on what is returned. The right code records an opening."""
    errors: dict[str, list[str]] = {}
    try:
        name = _name(name)
    except RuleViolation as refused:
        errors.update(refused.message_dict)
    typed = "".join(code.split())
    if not typed:
        errors["code"] = ["Enter the code you were given by phone."]
    raise_if(errors)
    state = _live_state(delivery)
    if check_password(typed, state.delivery.code_digest):
        _event(state.delivery, DeliveryEventKind.OPENED, name=name)
        return link_state(state.delivery)
    _event(state.delivery, DeliveryEventKind.WRONG_CODE, name=name)
    after = link_state(state.delivery)
    if after.codes_left == 0:
        _event(state.delivery, DeliveryEventKind.LOCKED)
        after = link_state(state.delivery)
    return after


@atomic_change()
def delivery_seen(*, delivery: Delivery, name: str, downloaded: bool = False) -> LinkState:
    """The recipient, having opened the link, read it (or downloaded it as a PDF)."""
    state = _live_state(delivery)
    kind = DeliveryEventKind.DOWNLOADED if downloaded else DeliveryEventKind.VIEWED
    _event(state.delivery, kind, name=name)
    return state


@atomic_change()
def delivery_acknowledge(*, delivery: Delivery, name: str, confirmed: bool) -> DeliveryEvent:
    """The recipient confirms they received the information, in their own name; once."""
    errors: dict[str, list[str]] = {}
    try:
        name = _name(name)
    except RuleViolation as refused:
        errors.update(refused.message_dict)
    if not confirmed:
        errors["confirmed"] = ["Tick the box to confirm you have received this information."]
    raise_if(errors)
    state = _live_state(delivery)
    already = state.first(DeliveryEventKind.ACKNOWLEDGED)
    if already is not None:
        return already
    return _event(state.delivery, DeliveryEventKind.ACKNOWLEDGED, name=name)


@atomic_change()
def delivery_revoke(*, delivery: Delivery, user: Person) -> DeliveryEvent:
    """End the link at once: it opens nothing more. What was already read stays recorded."""
    state = _locked_state(delivery)
    if not can_revoke_link(user, state.delivery):
        raise refuse("__all__", "Only the sender, a lead or a deputy can revoke this link.")
    ended = state.ended_by
    if ended is not None:
        return ended
    if state.expired:
        raise refuse("__all__", "This link has expired already: it opens nothing.")
    return _event(
        state.delivery,
        DeliveryEventKind.REVOKED,
        by=user,
        detail=f"revoked by {display_name(user)}",
    )


@atomic_change()
def delivery_note_not_opened(delivery: Delivery) -> DeliveryEvent | None:
    """Record, once, that the sender is being told the link has not been opened in time;
    None when there is nothing to tell (opened, ended, or told already)."""
    state = _locked_state(delivery)
    told = state.first(DeliveryEventKind.NOT_OPENED)
    if told is not None or not state.live or state.first(DeliveryEventKind.OPENED):
        return None
    return DeliveryEvent.objects.create(delivery=state.delivery, kind=DeliveryEventKind.NOT_OPENED)
