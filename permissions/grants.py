"""Roles and case teams, turned into guardian object permissions.

Grants are derived from the facts (current memberships, open case teams) and re-derived in
the same transaction whenever a fact changes, so a lost role or team place takes effect on
the very next request. Nobody holds a model-wide permission: it would defeat every object
check in viewflow and guardian.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType

from cases.choices import Role
from cases.models import Case, Membership, Organisation

from .audit import record_access_change
from .models import AuditAction, CaseUserObjectPermission, OrganisationUserObjectPermission

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.LEAD: frozenset({"oversee_cases", "decide_shares", "view_reports", "view_audit_log"}),
    Role.DEPUTY: frozenset({"oversee_cases", "decide_shares", "view_reports", "view_audit_log"}),
    Role.PRACTITIONER: frozenset({"break_glass"}),
    Role.MANAGER: frozenset({"view_reports", "view_audit_log", "break_glass"}),
    Role.AUDITOR: frozenset({"view_reports", "view_audit_log", "break_glass"}),
}
CASE_PERMISSION = "view_case"


@dataclass(frozen=True)
class Grant:
    user_id: int
    codename: str
    model: type[Organisation] | type[Case]
    object_id: int


# Typed loosely: each table's content_object is a direct foreign key the stubs cannot see.
_TABLES: dict[type[Organisation] | type[Case], Any] = {
    Organisation: OrganisationUserObjectPermission,
    Case: CaseUserObjectPermission,
}


def expected_grants(user_ids: Iterable[int] | None = None) -> set[Grant]:
    """What the facts say each user should hold (all users when none are named)."""
    memberships = Membership.objects.filter(ended_at__isnull=True)
    teams = Case.team.through.objects.filter(case__closed_at__isnull=True)
    if user_ids is not None:
        ids = list(user_ids)
        memberships = memberships.filter(user_id__in=ids)
        teams = teams.filter(user_id__in=ids)
    grants = {
        Grant(user_id, codename, Organisation, organisation_id)
        for user_id, organisation_id, role in memberships.values_list(
            "user_id", "organisation_id", "role"
        )
        for codename in ROLE_PERMISSIONS[role]
    }
    practising = set(
        memberships.filter(role=Role.PRACTITIONER).values_list("user_id", "organisation_id")
    )
    grants |= {
        Grant(user_id, CASE_PERMISSION, Case, case_id)
        for user_id, case_id, organisation_id in teams.values_list(
            "user_id", "case_id", "case__organisation_id"
        )
        if (user_id, organisation_id) in practising
    }
    return grants


def held_grants(user_ids: Iterable[int] | None = None) -> set[Grant]:
    held: set[Grant] = set()
    for model, table in _TABLES.items():
        rows = table.objects.all()
        if user_ids is not None:
            rows = rows.filter(user_id__in=list(user_ids))
        held |= {
            Grant(user_id, codename, model, object_id)
            for user_id, codename, object_id in rows.values_list(
                "user_id", "permission__codename", "content_object_id"
            )
        }
    return held


def _permission(codename: str, model: type) -> Permission:
    return Permission.objects.get(
        codename=codename, content_type=ContentType.objects.get_for_model(model)
    )


def _apply(grant: Grant, adding: bool, actor: Any) -> None:
    table = _TABLES[grant.model]
    permission = _permission(grant.codename, grant.model)
    if adding:
        table.objects.get_or_create(
            user_id=grant.user_id, permission=permission, content_object_id=grant.object_id
        )
    else:
        table.objects.filter(
            user_id=grant.user_id, permission=permission, content_object_id=grant.object_id
        ).delete()
    record_access_change(
        action=AuditAction.GRANT if adding else AuditAction.REVOKE,
        subject_id=grant.user_id,
        target=grant.model._default_manager.get(pk=grant.object_id),
        permission=f"cases.{grant.codename}",
        actor=actor,
    )


@dataclass(frozen=True)
class Drift:
    missing: frozenset[Grant]
    extra: frozenset[Grant]

    def __bool__(self) -> bool:
        return bool(self.missing or self.extra)


def drift(user_ids: Iterable[int] | None = None) -> Drift:
    ids = list(user_ids) if user_ids is not None else None
    expected, held = expected_grants(ids), held_grants(ids)
    return Drift(missing=frozenset(expected - held), extra=frozenset(held - expected))


def sync_users(user_ids: Iterable[int] | None = None, *, actor: Any = None) -> Drift:
    """Bring held grants in line with the facts, logging each change. Call inside a transaction."""
    found = drift(user_ids)
    for grant in sorted(found.extra, key=_order):
        _apply(grant, adding=False, actor=actor)
    for grant in sorted(found.missing, key=_order):
        _apply(grant, adding=True, actor=actor)
    return found


def _order(grant: Grant) -> tuple[int, str, str, int]:
    return (grant.user_id, grant.model.__name__, grant.codename, grant.object_id)


# The apps whose records need-to-know protects; a model-wide permission on any of them
# would override every object check in guardian and viewflow.
PROTECTED_APPS = ("cases", "permissions", "workflows", "viewflow")


def model_wide_holders() -> list[tuple[int, str]]:
    """(user id, "app.codename") for every model-wide permission on protected records.

    Held directly or through a group; superusers are listed as such, since they hold all.
    """
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    direct = users.filter(user_permissions__content_type__app_label__in=PROTECTED_APPS)
    via_group = users.filter(groups__permissions__content_type__app_label__in=PROTECTED_APPS)
    found: set[tuple[int, str]] = set()
    for queryset, prefix in ((direct, "user_permissions"), (via_group, "groups__permissions")):
        found |= {
            (pk, f"{app}.{codename}")
            for pk, app, codename in queryset.values_list(
                "pk", f"{prefix}__content_type__app_label", f"{prefix}__codename"
            )
        }
    found |= {
        (pk, "superuser") for pk in users.filter(is_superuser=True).values_list("pk", flat=True)
    }
    return sorted(found)
