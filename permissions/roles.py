"""Which role a person holds in which setting, read from current memberships."""

from __future__ import annotations

from django.db.models import QuerySet

from cases.models import Membership, Organisation
from cases.people import UserLike

from .access import access_for


def current_memberships(user: UserLike) -> QuerySet[Membership]:
    if not user.is_authenticated:
        return Membership.objects.none()
    return Membership.objects.filter(user=user, ended_at__isnull=True)


def role_in(user: UserLike, organisation: Organisation) -> str | None:
    if user is None or not user.is_authenticated:
        return None
    return access_for(user).roles.get(organisation.pk)


def organisations_where(user: UserLike, roles: frozenset[str] | set[str]) -> list[int]:
    """Ids of the settings where the user currently holds one of these roles."""
    return sorted(
        setting_id for setting_id, role in access_for(user).roles.items() if role in roles
    )
