"""Celery tasks: thin, idempotent, safe to run twice or after a worker was killed."""

from __future__ import annotations

import logging
from datetime import timedelta
from smtplib import SMTPException

from celery import shared_task
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from viewflow.workflow.timers import fire_due_timers

from cases import app_settings

from .family_follow_ups import chase_overdue_family_follow_ups
from .models import Notification

logger = logging.getLogger(__name__)

SWEEP_LOCK = "safeshare:timer-sweep"
SWEEP_LOCK_SECONDS = 120


def claim_timeout() -> timedelta:
    """A delivery that claimed a notification this long ago without finishing is presumed dead.

    SAFESHARE_NOTIFICATION_CLAIM_SECONDS (5 minutes unless set; the integration tests
    shorten it to see a killed worker's claim retaken).
    """
    return timedelta(seconds=app_settings.get("SAFESHARE_NOTIFICATION_CLAIM_SECONDS"))


@shared_task(acks_late=True, ignore_result=True)
def sweep_timers() -> int:
    """Fire due workflow timers; never two sweeps at once (beat may overlap a slow one).

    Overdue promises to tell a family are chased on the same beat, so the embedded server's
    sweep thread covers them too. Returns the number of timers fired.
    """
    if not cache.add(SWEEP_LOCK, 1, SWEEP_LOCK_SECONDS):
        logger.info("Timer sweep skipped: another sweep is running")
        return 0
    try:
        fired = fire_due_timers()
        chase_overdue_family_follow_ups()
        return fired
    finally:
        cache.delete(SWEEP_LOCK)


def _claim(notification_id: int) -> bool:
    """Take the right to email this notification; exactly one delivery wins."""
    now = timezone.now()
    claimable = Q(email_claimed_at__isnull=True) | Q(email_claimed_at__lt=now - claim_timeout())
    return bool(
        Notification.objects.filter(claimable, pk=notification_id, emailed_at__isnull=True).update(
            email_claimed_at=now
        )
    )


@shared_task(
    acks_late=True,
    ignore_result=True,
    autoretry_for=(SMTPException, OSError),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
)
def deliver_notification(notification_id: int) -> bool:
    if not _claim(notification_id):
        return False  # delivered already, or being delivered by another worker
    notification = Notification.objects.select_related("recipient").get(pk=notification_id)
    try:
        if notification.recipient.email:
            send_mail(
                subject=f"Safeshare: {notification.get_kind_display()}",
                message=f"{notification.get_kind_display()}.\n\n"
                + (
                    f"Open it in Safeshare: {_absolute(notification.link)}\n"
                    if notification.link
                    else "Please ask your setting's lead or deputy to decide it today.\n"
                ),
                from_email=None,
                recipient_list=[notification.recipient.email],
            )
    except Exception:
        # Give the claim back so the retry (or the pending sweep) can take it at once.
        Notification.objects.filter(pk=notification_id).update(email_claimed_at=None)
        raise
    Notification.objects.filter(pk=notification_id).update(emailed_at=timezone.now())
    return True


def deliver_after_commit(notifications: QuerySet[Notification]) -> None:
    """Email each of these outbox rows once the transaction that wrote them commits, so a
    rolled-back step sends nothing and a slow mail server never holds the step up."""
    for pk in notifications.values_list("pk", flat=True):
        transaction.on_commit(lambda pk=pk: deliver_notification.delay(pk))  # type: ignore[misc]


@shared_task(acks_late=True, ignore_result=True)
def deliver_pending_notifications() -> int:
    """Re-send what a lost message or a killed worker left unsent."""
    stale = timezone.now() - claim_timeout()
    pending = Notification.objects.filter(emailed_at__isnull=True).filter(
        Q(email_claimed_at__isnull=True, created_at__lt=timezone.now() - timedelta(minutes=1))
        | Q(email_claimed_at__lt=stale)
    )
    count = 0
    for pk in pending.values_list("pk", flat=True).iterator():
        deliver_notification.delay(pk)
        count += 1
    return count


def _absolute(link: str) -> str:
    return app_settings.get("SAFESHARE_SITE_URL").rstrip("/") + link
