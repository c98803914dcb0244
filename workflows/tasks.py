"""Celery tasks: thin, idempotent, safe to run twice or after a worker was killed."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from smtplib import SMTPException
from typing import Any
from zoneinfo import ZoneInfo

from celery import shared_task
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from viewflow.workflow.timers import fire_due_timers

from cases import app_settings
from cases.models import Delivery, Share
from cases.people import display_name
from cases.register_import.service import discard_unconfirmed_imports
from cases.services.deliveries import link_state

from .child_file.notices import chase_files_due
from .escalation import escalate_due_reviews
from .family_follow_ups import chase_overdue_family_follow_ups
from .models import Notification
from .secure_link.emails import link_email, link_path
from .secure_link.notices import tell_senders_of_links_not_opened

# A table whose rows are emails to send once: emailed_at, email_claimed_at.
Outbox = Notification | Delivery

logger = logging.getLogger(__name__)

SWEEP_LOCK = "safeshare:timer-sweep"
# On PostgreSQL the sweep lock is a session advisory lock: it is held by the sweeping
# worker's database connection, so it goes when that worker dies, at once. Elsewhere it is a
# cache key that lapses after twice the beat interval, so a killed sweep holds up at most
# one later sweep; a sweep that runs longer than that only ever deletes its own key.
SWEEP_LOCK_SECONDS = 60
SWEEP_ADVISORY_KEYS = (0x5AFE, 1)  # two int4 keys: a space apart from the audit chain's


def claim_timeout() -> timedelta:
    """A delivery that claimed a notification this long ago without finishing is presumed dead.

    SAFESHARE_NOTIFICATION_CLAIM_SECONDS (5 minutes unless set; the integration tests
    shorten it to see a killed worker's claim retaken).
    """
    return timedelta(seconds=app_settings.get("SAFESHARE_NOTIFICATION_CLAIM_SECONDS"))


@shared_task(acks_late=True, ignore_result=True)
def sweep_timers() -> int:
    """Escalate the reviews whose escalation has fallen due, and fire due workflow timers;
    never two sweeps at once (beat may overlap a slow one).

    Overdue promises to tell a family are chased on the same beat, and imports left
    unconfirmed for a day are discarded, so the embedded server's sweep thread covers them
    too. Returns the number of escalations made and timers fired.
    """
    with _sweep_lock() as taken:
        if not taken:
            logger.info("Timer sweep skipped: another sweep is running")
            return 0
        # viewflow's own timers: the flow has none of its own now, but one added later (or
        # a third-party flow) is fired all the same.
        fired = fire_due_timers() + escalate_due_reviews()
        chase_overdue_family_follow_ups()
        tell_senders_of_links_not_opened()
        chase_files_due()
        discard_unconfirmed_imports()
        return fired


@contextmanager
def _sweep_lock() -> Iterator[bool]:
    """Yield whether this sweep may run; always released when it ends, however it ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", SWEEP_ADVISORY_KEYS)
            taken = bool(cursor.fetchone()[0])
        try:
            yield taken
        finally:
            if taken:
                try:
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", SWEEP_ADVISORY_KEYS)
                except DatabaseError:  # the connection is gone, and its lock with it
                    logger.warning("Could not release the timer-sweep lock", exc_info=True)
        return
    token = uuid.uuid4().hex
    taken = cache.add(SWEEP_LOCK, token, SWEEP_LOCK_SECONDS)
    try:
        yield taken
    finally:
        if taken and cache.get(SWEEP_LOCK) == token:
            cache.delete(SWEEP_LOCK)


def _claim(outbox: type[Outbox], pk: int) -> datetime | None:
    """Take the right to send this outbox row's email; exactly one delivery wins.

    Returns the claim's time (the fence the claim keeper renews), or None if not won.
    """
    now = timezone.now()
    claimable = Q(email_claimed_at__isnull=True) | Q(email_claimed_at__lt=now - claim_timeout())
    won = outbox.objects.filter(claimable, pk=pk, emailed_at__isnull=True)
    return now if won.update(email_claimed_at=now) else None


class _ClaimKeeper(threading.Thread):
    """Renews a delivery's claim while its email is being sent.

    A claim is retaken once it is claim_timeout() old, so a slow mail server must never let
    it age while the send is still in flight (issue 11: ten reminders sent twice). Every
    third of the timeout this thread moves the claim to now, fenced on the value it last
    wrote; when the worker dies the renewals stop with it and the claim goes stale as
    before. EMAIL_TIMEOUT bounds each step of a send, so a stalled server ends the send
    (and the renewals) rather than holding the claim for ever.
    """

    def __init__(self, outbox: type[Outbox], pk: int, claimed_at: datetime) -> None:
        super().__init__(name=f"claim-keeper-{outbox.__name__}-{pk}", daemon=True)
        self.outbox = outbox
        self.pk = pk
        self.claimed_at = claimed_at
        self._done = threading.Event()

    def run(self) -> None:
        interval = max(claim_timeout().total_seconds() / 3, 0.2)
        try:
            while not self._done.wait(interval):
                now = timezone.now()
                renewed = self.outbox.objects.filter(
                    pk=self.pk, email_claimed_at=self.claimed_at
                ).update(email_claimed_at=now)
                if not renewed:
                    return  # not ours any more (or not visible here): nothing to keep
                self.claimed_at = now
        except Exception:  # the send goes on; the claim then ages as if we had died
            logger.warning("Could not renew the claim on %s %s", self.outbox.__name__, self.pk)
        finally:
            connections.close_all()  # this thread's own connections

    def stop(self) -> datetime:
        self._done.set()
        self.join()
        return self.claimed_at


def _send_once(outbox: type[Outbox], pk: int, send: Callable[[], None]) -> bool:
    """Send an outbox row's email exactly once: claimed first, the claim kept alive while
    ``send`` runs, given back if it fails (so a retry can take it at once), and the row
    marked sent after. False when another delivery has it, or had it."""
    claimed_at = _claim(outbox, pk)
    if claimed_at is None:
        return False  # delivered already, or being delivered by another worker
    keeper = _ClaimKeeper(outbox, pk, claimed_at)
    keeper.start()
    try:
        send()
    except Exception:
        outbox.objects.filter(pk=pk, email_claimed_at=keeper.stop()).update(email_claimed_at=None)
        raise
    keeper.stop()
    outbox.objects.filter(pk=pk).update(emailed_at=timezone.now())
    return True


# An email that fails is tried again, with growing pauses, for about half an hour.
_EMAIL_RETRIES: dict[str, Any] = {
    "acks_late": True,
    "ignore_result": True,
    "autoretry_for": (SMTPException, OSError),
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "max_retries": 8,
}


@shared_task(**_EMAIL_RETRIES)
def deliver_notification(notification_id: int) -> bool:
    notification = Notification.objects.select_related(
        "recipient", "break_glass_grant__user", "actor", "share__case__organisation"
    ).get(pk=notification_id)

    def send() -> None:
        if notification.recipient.email:
            send_mail(
                subject=email_subject(notification),
                message=_body(notification),
                from_email=None,
                recipient_list=[notification.recipient.email],
            )

    return _send_once(Notification, notification_id, send)


@shared_task(**_EMAIL_RETRIES)
def deliver_link_email(delivery_id: int) -> bool:
    """The secure link's email to its recipient: the link, and nothing of the case."""
    delivery = Delivery.objects.select_related(
        "share__case__organisation", "transfer__from_setting", "sent_by"
    ).get(pk=delivery_id)

    def send() -> None:
        if not link_state(delivery).live:
            return  # revoked or expired before its email went: nothing to send, ever
        subject, body = link_email(delivery, _absolute(link_path(delivery)))
        send_mail(subject=subject, message=body, from_email=None, recipient_list=[delivery.email])

    return _send_once(Delivery, delivery_id, send)


def queue_link_email(delivery: Delivery) -> None:
    """Email the link once the sending commits; if the broker or mail server is down, the
    pending pass sends it later (the delivery is its own outbox row)."""
    transaction.on_commit(lambda: _enqueue(deliver_link_email, [delivery.pk]))


def deliver_after_commit(pks: list[int]) -> None:
    """Email each of these outbox rows once the transaction that wrote them commits, so a
    rolled-back step sends nothing and a slow mail server never holds the step up."""
    if pks:
        transaction.on_commit(lambda: enqueue_deliveries(pks))


# One quick attempt at the broker: a page whose write has committed never waits long on
# a Redis that is down (about 0.6 s a message with Celery's default three retries).
ENQUEUE_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}


def enqueue_deliveries(notification_ids: list[int]) -> None:
    _enqueue(deliver_notification, notification_ids)


def _enqueue(task: Any, pks: list[int]) -> None:
    """Queue the deliveries; a broker (or, run in-process, a mail server) that is down is
    logged, never raised into the request or step whose write has committed. The outbox
    rows stay pending, and deliver_pending_notifications sends them once it is back."""
    for done, pk in enumerate(pks):
        try:
            task.apply_async((pk,), retry_policy=ENQUEUE_RETRY_POLICY)
        except Exception:
            logger.warning(
                "Could not queue %s %s now; they stay in the outbox for the next pass",
                task.name,
                pks[done:],
                exc_info=True,
            )
            if not task.app.conf.task_always_eager:
                return  # the broker is down: the rest would only wait on it too


@shared_task(acks_late=True, ignore_result=True)
def deliver_pending_notifications() -> int:
    """Re-send what a lost message or a killed worker left unsent: notifications, and the
    secure links' emails to their recipients."""
    now = timezone.now()
    count = 0
    for outbox, task, written, still in (
        (Notification, deliver_notification, "created_at", Q()),
        # A link's email is owed only while the link can still be opened.
        (Delivery, deliver_link_email, "sent_at", Q(expires_at__gt=now)),
    ):
        pending = outbox.objects.filter(still, emailed_at__isnull=True).filter(
            Q(email_claimed_at__isnull=True, **{f"{written}__lt": now - timedelta(minutes=1)})
            | Q(email_claimed_at__lt=now - claim_timeout())
        )
        for pk in pending.values_list("pk", flat=True).iterator():
            task.delay(pk)
            count += 1
    return count


def email_subject(notification: Notification) -> str:
    about = f" (share #{notification.share_id})" if notification.share_id else ""
    return f"Safeshare: {notification.get_kind_display()}{about}"


def _body(notification: Notification) -> str:
    """What happened, to which share by number, by whom and by when: never the child or case."""
    lines = [f"{notification.get_kind_display()}."]
    grant = notification.break_glass_grant
    if grant is not None:
        lines.append(f"{display_name(grant.user)} used break-glass access to a case.")
    if notification.share_id:
        lines.append(f"Share #{notification.share_id}.")
    if notification.detail:
        lines.append(f"{notification.detail}.")
    if notification.actor is not None and grant is None:
        lines.append(f"By {display_name(notification.actor)}.")
    if notification.due_at is not None:
        lines.append(f"Due by {_local(notification.due_at, notification.share)}.")
    lines.append("")
    lines.append(
        f"Open it in Safeshare: {_absolute(notification.link)}"
        if notification.link
        else "Please ask your setting's lead or deputy to decide it today."
    )
    return "\n".join(lines) + "\n"


def _local(due: datetime, share: Share | None) -> str:
    """The deadline in the setting's own time, as its people read the clock."""
    zone = ZoneInfo(share.case.organisation.timezone) if share is not None else None
    return date_format(timezone.localtime(due, zone), "j F Y, H:i")


def _absolute(link: str) -> str:
    return app_settings.get("SAFESHARE_SITE_URL").rstrip("/") + link
