"""Writing notifications for an event: once per person, however often the event is retried."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connections, router
from django.db.models import Model
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery

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
    # Conflicts ignored: two deliveries of the same retried step racing here both end well.
    written = _insert_ignoring_conflicts(rows)
    if len(written) < len(rows):
        # A row a racing retry wrote first is this event's row all the same: read back the
        # ones this statement did not write (every one where the database cannot say which).
        written += Notification.objects.filter(
            event=event, recipient__in=[row.recipient_id for row in rows if row.pk is None]
        )
    from ..tasks import deliver_after_commit  # late import: tasks import the models too

    deliver_after_commit([row.pk for row in written])
    return written


def _insert_ignoring_conflicts(rows: list[Notification]) -> list[Notification]:
    """Insert the rows, leaving any that conflicts with an existing one, and give each row
    written the key the database gave it, in the same statement (INSERT ... ON CONFLICT DO
    NOTHING RETURNING, on PostgreSQL and SQLite alike). Returns the rows written: none where
    the database cannot say which (then none has its key)."""
    if not rows:
        return []
    using = router.db_for_write(Notification)
    connection = connections[using]
    if not connection.features.can_return_rows_from_bulk_insert:
        Notification.objects.bulk_create(rows, ignore_conflicts=True)
        return []
    opts = Notification._meta
    # What bulk_create writes: every column but the key the database assigns.
    fields = [f for f in opts.concrete_fields if not f.primary_key and not f.generated]
    query = InsertQuery(Notification, on_conflict=OnConflict.IGNORE)
    query.insert_values(fields, list[Model](rows))
    compiler = query.get_compiler(using=using)
    # bulk_create asks for no keys when conflicts are ignored: asked for here, the database
    # returns them for the rows it wrote and none for those it left.
    compiler.returning_fields = [opts.pk, opts.get_field("recipient")]
    ((sql, params),) = compiler.as_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        keys = {recipient_id: pk for pk, recipient_id in cursor.fetchall()}
    written = []
    for row in rows:
        if row.recipient_id in keys:
            row.pk = keys[row.recipient_id]
            row._state.adding, row._state.db = False, using
            written.append(row)
    return written
