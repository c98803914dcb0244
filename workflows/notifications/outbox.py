"""Writing notifications for an event: once per person, however often the event is retried."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from cases.models import Share
from permissions.rules import can_see_case

from ..models import Notification


def notify(
    people: Iterable[Any],
    kind: str,
    *,
    event: str,
    link: str,
    share: Share | None = None,
    actor: Any = None,
    detail: str = "",
    due_at: datetime | None = None,
    **about: Any,
) -> list[Notification]:
    """One notification of this event for each person (never the one who acted).

    A notice about a share goes only to people who may see it now.
    ``event`` names what happened uniquely ("share_submitted:41:<when>"): a row that exists
    already for a person is left as it is, so a retried step never tells anyone twice.
    ``about`` sets the record the notice is about where it has its own link (an escalation,
    a release, a break-glass grant, a promise to tell a family). Returns the rows written
    now, whose delivery is queued for after commit.
    """
    recipients = {
        person.pk: person
        for person in people
        if (actor is None or person.pk != actor.pk)
        # Proposing a share gives no access of its own: a proposer taken off the case team
        # (or whose membership ended) hears nothing more of it.
        and (share is None or can_see_case(person, share.case))
    }
    if not recipients:
        return []
    already = set(
        Notification.objects.filter(event=event, recipient__in=recipients).values_list(
            "recipient_id", flat=True
        )
    )
    rows = [
        Notification(
            recipient=person,
            kind=kind,
            event=event,
            link=link,
            share=share,
            actor=actor,
            detail=detail[:200],
            due_at=due_at,
            **about,
        )
        for pk, person in recipients.items()
        if pk not in already
    ]
    # ignore_conflicts: two deliveries of the same retried step racing here both end well.
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    # Read back rather than taken from bulk_create: with ignore_conflicts PostgreSQL returns
    # no keys, and a row a racing retry wrote first is this event's row all the same.
    written = list(
        Notification.objects.filter(event=event, recipient__in=[row.recipient_id for row in rows])
    )
    from ..tasks import deliver_after_commit  # late import: tasks import the models too

    deliver_after_commit([row.pk for row in written])
    return written
