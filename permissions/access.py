"""A person's access, read once and reused by every check while it stands.

Every door of the product asks the same few questions (which role does this person hold
where, which settings grant them a permission, which cases are they on the team of, which
break-glass grants do they hold), often several times a request: the menu, the page's own
lookup, the rule the service checks before it writes, the role the audit entry records.
Each answer is one indexed query the first time it is needed, kept on the user object (so
for the rest of the request, or of the service call that loaded the user) and reused.

It stays right when access changes mid-request, in a test or a management command: any
write to a membership, an object permission or a break-glass grant (the only three things
access is made of) moves a generation counter, and a reading older than the counter is read
again. A break-glass grant's expiry is compared with the clock at each check, never cached.

The reading is only ever of the person's own rows, intersected with their current
memberships exactly as the querysets in ``selectors`` always were: an ended membership
closes every door, and model-wide, group and superuser permissions count for nothing.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import CharField, DateTimeField, F, QuerySet, Value
from django.db.models.functions import Cast
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone

from cases.models import Case, Membership
from cases.people import UserLike

from .models import BreakGlassGrant, CaseUserObjectPermission, OrganisationUserObjectPermission

_ROLE, _SETTING, _TEAM, _BREAK_GLASS = "role", "setting", "team", "break glass"
_generation = itertools.count(1)
_current = [0]


def forget_all() -> None:
    """Make every reading held so far stale (access was just changed somewhere)."""
    _current[0] = next(_generation)


def _forget(*args: Any, **kwargs: Any) -> None:
    forget_all()


for _model in (
    Membership,
    CaseUserObjectPermission,
    OrganisationUserObjectPermission,
    BreakGlassGrant,
):
    post_save.connect(_forget, sender=_model, dispatch_uid=f"access-{_model.__name__}-save")
    post_delete.connect(_forget, sender=_model, dispatch_uid=f"access-{_model.__name__}-delete")
# A case's team is what its ``view_case`` grants follow.
m2m_changed.connect(_forget, sender=Case.team.through, dispatch_uid="access-case-team")


def _part(rows: QuerySet[Any], kind: str, object_id: Any, value: Any, at: Any = None) -> Any:
    """One part of the reading: (kind, object id, value, time) for each row.

    Every column is an annotation, named alike in each part: a UNION matches columns by
    position, and Django would put a plain field before the annotations.
    """
    return (
        rows.order_by()
        .annotate(
            kind=Value(kind, CharField()),
            object=object_id,
            value=value,
            at=at if at is not None else Cast(Value(None), DateTimeField()),
        )
        .values_list("kind", "object", "value", "at")
    )


def _reading(user: Any, now: datetime) -> QuerySet[Any]:
    """The query a person's access is read with: a UNION of four indexed reads of their
    own rows, (kind, object id, value, time) each."""
    current = Membership.objects.filter(user=user, ended_at__isnull=True)
    parts = [
        _part(current, _ROLE, F("organisation_id"), F("role")),
        _part(
            OrganisationUserObjectPermission.objects.filter(
                user=user, content_object_id__in=current.values("organisation_id")
            ),
            _SETTING,
            F("content_object_id"),
            F("permission__codename"),
        ),
        _part(
            CaseUserObjectPermission.objects.filter(user=user, permission__codename="view_case"),
            _TEAM,
            F("content_object_id"),
            Value("", CharField()),
        ),
        # Grants not ended early nor yet expired; which are live is decided again at each
        # check, by the clock.
        _part(
            BreakGlassGrant.objects.filter(user=user, ended_at__isnull=True, expires_at__gt=now),
            _BREAK_GLASS,
            F("case_id"),
            Cast("pk", CharField()),
            F("expires_at"),
        ),
    ]
    return parts[0].union(*parts[1:], all=True)


class _ReadingSQL:
    """``_reading``'s SQL, compiled once per process and run with each person's id.

    Every request reads one person's access, and building that UNION through the ORM cost
    more than running it. It is compiled for stand-in values, whose places among the
    parameters are then the person's id and the present moment. Should a stand-in ever not
    be found where expected (another Django compiling it otherwise), the ORM runs it as
    before.
    """

    _USER = -7_319_011  # a primary key no row has
    _NOW = datetime(2000, 1, 2, 3, 4, 5, 678_901, tzinfo=UTC)
    _compiled: tuple[str, list[Any], list[int], list[int]] | None = None
    _failed = False

    @classmethod
    def _compile(cls) -> tuple[str, list[Any], list[int], list[int]] | None:
        if cls._compiled is None and not cls._failed:
            stand_in = get_user_model()(pk=cls._USER)
            sql, params = _reading(stand_in, cls._NOW).query.sql_with_params()
            users = [i for i, value in enumerate(params) if value == cls._USER]
            # As the backend passes a time (SQLite: as text).
            moment = connection.ops.adapt_datetimefield_value(cls._NOW)
            moments = [i for i, value in enumerate(params) if value == moment]
            if users and len(moments) == 1:
                cls._compiled = (sql, list(params), users, moments)
            else:
                cls._failed = True
        return cls._compiled

    @classmethod
    def rows(cls, user_id: int, now: datetime) -> list[tuple[str, int, str, datetime | None]]:
        compiled = cls._compile()
        if compiled is None:
            return list(_reading(get_user_model()(pk=user_id), now))
        sql, params, users, moments = compiled
        params = list(params)
        for i in users:
            params[i] = user_id
        for i in moments:
            params[i] = connection.ops.adapt_datetimefield_value(now)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            fetched = cursor.fetchall()
        # SQLite answers times as text; the ORM would convert them with the backend's own
        # converter, which this uses too (PostgreSQL needs none).
        convert = getattr(connection.ops, "convert_datetimefield_value", None)
        return [
            (
                kind,
                int(object_id),
                value,
                convert(at, None, connection) if convert and at is not None else at,
            )
            for kind, object_id, value, at in fetched
        ]


class Access:
    """What one person may reach, each part read from the database at most once."""

    def __init__(self, user: UserLike) -> None:
        self._user = user
        self.generation = _current[0]

    @cached_property
    def _rows(self) -> list[tuple[str, int, str, datetime | None]]:
        """The person's memberships, setting grants, case grants and break-glass grants, in
        one round trip (a UNION of four indexed reads of their own rows)."""
        if not self._user.is_authenticated:
            return []
        return _ReadingSQL.rows(self._user.pk, timezone.now())

    def _of(self, kind: str) -> list[tuple[int, str, datetime | None]]:
        return [(object_id, value, at) for k, object_id, value, at in self._rows if k == kind]

    @cached_property
    def roles(self) -> Mapping[int, str]:
        """Setting id -> the person's role there, from their current memberships."""
        return {setting_id: role for setting_id, role, _ in self._of(_ROLE)}

    @cached_property
    def _setting_permissions(self) -> Mapping[int, frozenset[str]]:
        held: dict[int, set[str]] = {}
        for setting_id, codename, _ in self._of(_SETTING):
            held.setdefault(setting_id, set()).add(codename)
        return {setting_id: frozenset(codenames) for setting_id, codenames in held.items()}

    def settings_where(self, permission: str) -> list[int]:
        """Ids of the person's current settings that grant them this permission."""
        codename = permission.split(".", 1)[-1]
        return sorted(
            setting_id
            for setting_id, codenames in self._setting_permissions.items()
            if codename in codenames
        )

    def holds(self, permission: str, setting_id: int) -> bool:
        codename = permission.split(".", 1)[-1]
        return codename in self._setting_permissions.get(setting_id, frozenset())

    @cached_property
    def team_cases(self) -> frozenset[int]:
        """Cases the person is on the team of (granted ``view_case``), in any setting."""
        return frozenset(case_id for case_id, _, _ in self._of(_TEAM))

    @cached_property
    def _break_glass(self) -> list[tuple[int, int, datetime]]:
        return sorted(
            (int(grant_id), case_id, at)
            for case_id, grant_id, at in self._of(_BREAK_GLASS)
            if at is not None
        )

    def break_glass_cases(self, now: datetime | None = None) -> dict[int, int]:
        """Case id -> the live break-glass grant that opens it (the latest, if several)."""
        now = now or timezone.now()
        live: dict[int, int] = {}
        for grant_id, case_id, expires_at in self._break_glass:
            if expires_at > now:
                live[case_id] = grant_id
        return live

    def state(self) -> tuple[Any, ...]:
        """Everything a query built from this person's access depends on: their roles,
        setting grants, case teams and break-glass grants live now."""
        return (
            tuple(sorted(self.roles.items())),
            tuple(sorted((k, tuple(sorted(v))) for k, v in self._setting_permissions.items())),
            tuple(sorted(self.team_cases)),
            tuple(sorted(self.break_glass_cases().items())),
        )

    def sql_for(self, purpose: str, build: Callable[[], QuerySet[Any]]) -> tuple[str, Any]:
        """The SQL and parameters of a query that ``build`` makes from this person and their
        access alone (nothing else: no clock, no other row), compiled once per process for
        each state of their access and reused while it stands.

        For a query run on page after page (the menu's counts): building it through the ORM
        cost several times what running it did. The key is the access itself, not a
        counter, so a change made in another process is seen at the next reading.
        """
        key = (purpose, self._user.pk, self.state())
        compiled = _compiled.get(key)
        if compiled is None:
            compiled = build().query.sql_with_params()
            if len(_compiled) >= _COMPILED_KEPT:
                _compiled.pop(next(iter(_compiled)))  # the oldest compiled
            _compiled[key] = compiled
        return compiled


# Compiled queries by (purpose, person, access state); a few thousand people's worth, the
# oldest given up first.
_COMPILED_KEPT = 4096
_compiled: dict[tuple[Any, ...], tuple[str, Any]] = {}


def access_for(user: UserLike) -> Access:
    """The person's access, read at most once for as long as nothing about access changes."""
    reading = getattr(user, "_safeshare_access", None)
    if reading is None or reading.generation != _current[0]:
        reading = Access(user)
        # An object that takes no attributes is read again each time.
        with contextlib.suppress(AttributeError):
            user._safeshare_access = reading  # type: ignore[union-attr]
    return reading
