"""Which role a person holds in which setting, read from current memberships."""

from __future__ import annotations

from django.db.models import QuerySet

from cases.models import Membership, Organisation
from cases.people import UserLike


def current_memberships(user: UserLike) -> QuerySet[Membership]:
    if not user.is_authenticated:
        return Membership.objects.none()
    return Membership.objects.filter(user=user, ended_at__isnull=True)


def role_in(user: UserLike, organisation: Organisation) -> str | None:
    membership = current_memberships(user).filter(organisation=organisation).first()
    return membership.role if membership else None


def organisations_where(user: UserLike, roles: frozenset[str] | set[str]) -> QuerySet:
    """Ids of the settings where the user currently holds one of these roles."""
    return current_memberships(user).filter(role__in=roles).values("organisation_id")
