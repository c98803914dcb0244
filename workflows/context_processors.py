from __future__ import annotations

from functools import cached_property
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import F, Func, IntegerField, QuerySet, Subquery
from django.http import HttpRequest

from permissions.access import access_for
from permissions.selectors import advice_asked_of, family_follow_ups_for

from .models import Notification


def _count(rows: QuerySet) -> Subquery:
    # COUNT as a plain function, not an aggregate: the sub-query then has no GROUP BY and
    # answers one row, its count, whatever it filters on.
    counted = rows.order_by().annotate(n=Func(F("pk"), function="COUNT"))
    return Subquery(counted.values("n"), output_field=IntegerField())


def menu_counts_query(user: Any) -> QuerySet[Any]:
    """The menu's three counts as one row: unread notifications, families to tell, advice
    awaited. Built from the person and their access alone (``Access.sql_for``)."""
    return (
        get_user_model()
        .objects.filter(pk=user.pk)
        .annotate(
            unread=_count(Notification.objects.filter(recipient=user, read_at__isnull=True)),
            families=_count(family_follow_ups_for(user)),
            advice=_count(advice_asked_of(user).filter(answered_at__isnull=True)),
        )
        .values_list("unread", "families", "advice")
    )


class MenuCounts:
    """The menu's numbers (unread notifications, families to tell, advice awaited), all in
    one query, and only if a page shows the menu."""

    def __init__(self, user: Any) -> None:
        self._user = user

    @cached_property
    def _counts(self) -> dict[str, int]:
        user = self._user
        if user is None or not user.is_authenticated:
            return {"unread": 0, "families": 0, "advice": 0}
        sql, params = access_for(user).sql_for("menu counts", lambda: menu_counts_query(user))
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            unread, families, advice = cursor.fetchone()
        return {"unread": unread, "families": families, "advice": advice}

    @property
    def unread(self) -> int:
        return self._counts["unread"]

    @property
    def families(self) -> int:
        """How many families this person has still to tell (or, as a lead, to see told)."""
        return self._counts["families"]

    @property
    def advice(self) -> int:
        """How many questions wait for this person's advice."""
        return self._counts["advice"]


def notifications(request: HttpRequest) -> dict[str, Any]:
    # An error page rendered before the authentication middleware ran has no user.
    counts = MenuCounts(getattr(request, "user", None))
    return {"menu_counts": counts, "unread_notifications": lambda: counts.unread}
