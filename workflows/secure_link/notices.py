"""What the sender of a secure link is told: it was acknowledged, it locked, or it has not
been opened in time. Called in the transaction of the event, as the share's notices are."""

from __future__ import annotations

import logging
from typing import Any

from django.urls import reverse
from django.utils import timezone

from cases.choices import DECIDING_ROLES
from cases.models import Delivery, DeliveryEvent, DeliveryEventKind
from cases.services.deliveries import delivery_note_not_opened
from cases.transactions import atomic_change
from permissions.rules import can_see_case, can_send_file
from permissions.selectors import people_to_alert

from ..models import Notification, NotificationKind
from ..notifications.outbox import notify

logger = logging.getLogger(__name__)


def _sender_or_leads(delivery: Delivery) -> list[Any]:
    """The sender, while they may still see what was sent; else the sending setting's leads
    and deputies, so that what happens to a link always reaches someone who can act on it."""
    transfer = delivery.transfer
    if transfer is not None:
        still = can_send_file(delivery.sent_by, transfer.from_setting)
    else:
        assert delivery.share is not None
        still = can_see_case(delivery.sent_by, delivery.share.case)
    if still:
        return [delivery.sent_by]
    return list(people_to_alert(delivery.setting, set(DECIDING_ROLES)))


def sender_page(delivery: Delivery) -> str:
    """Where the sender follows the link: the share's page, or the file's."""
    if delivery.transfer_id is not None:
        return reverse("safeguarding:child_file", args=[delivery.transfer_id])
    return reverse("safeguarding:share_detail", args=[delivery.share_id])


def _tell_sender(delivery: Delivery, kind: str, detail: str) -> list[Notification]:
    return notify(
        _sender_or_leads(delivery),
        kind,
        event=f"{kind}:{delivery.pk}",
        link=sender_page(delivery),
        share=delivery.share,
        detail=detail,
    )


def acknowledged(delivery: Delivery, event: DeliveryEvent) -> None:
    _tell_sender(delivery, NotificationKind.DELIVERY_ACKNOWLEDGED, f"Acknowledged by {event.name}")


def locked(delivery: Delivery) -> None:
    where = "file's" if delivery.transfer_id is not None else "share's"
    _tell_sender(
        delivery,
        NotificationKind.DELIVERY_LOCKED,
        f"Send a new link from the {where} page once you have spoken to the recipient",
    )


def tell_senders_of_links_not_opened() -> int:
    """The sweep's part: each live link not opened by its time (working days on the
    sending setting's calendar) is told to its sender, once. Reads only the links whose
    time has come (an index on it), never every link ever sent."""
    now = timezone.now()
    due = (
        Delivery.objects.filter(remind_at__lte=now, expires_at__gt=now)
        .exclude(
            events__kind__in=[
                DeliveryEventKind.OPENED,
                DeliveryEventKind.REVOKED,
                DeliveryEventKind.LOCKED,
                DeliveryEventKind.NOT_OPENED,
            ]
        )
        .select_related("share__case__organisation", "transfer__from_setting", "sent_by")
    )
    told = 0
    for delivery in due:
        try:
            _not_opened(delivery)
        except Exception:  # one link's trouble must not stop the sweep for the rest
            logger.exception("Could not tell the sender secure link %s was not opened", delivery.pk)
            continue
        told += 1
    return told


def _not_opened(delivery: Delivery) -> list[Notification]:
    with atomic_change():
        event = delivery_note_not_opened(delivery)
        if event is None:
            return []
        return _tell_sender(
            delivery,
            NotificationKind.DELIVERY_NOT_OPENED,
            f"Sent to {delivery.email}; phone them to check it arrived",
        )
