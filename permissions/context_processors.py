"""What the signed-in person may reach, for menus. Each answer is computed only if used."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest

from cases.choices import Role

from .access import access_for
from .grants import ROLE_PERMISSIONS


class MenuAccess:
    """Which menu entries to show. Every entry is read from the person's current roles, one
    query for the whole menu; each page checks the person's grants again when opened."""

    def __init__(self, user: Any) -> None:
        self._user = user

    @cached_property
    def _roles(self) -> frozenset[str]:
        if not self._user.is_authenticated:
            return frozenset()
        return frozenset(access_for(self._user).roles.values())

    def _any(self, permission: str) -> bool:
        codename = permission.removeprefix("cases.")
        return any(codename in ROLE_PERMISSIONS.get(role, ()) for role in self._roles)

    @cached_property
    def decides(self) -> bool:
        return self._any("cases.decide_shares")

    @cached_property
    def oversees(self) -> bool:
        return self._any("cases.oversee_cases")

    @cached_property
    def reads_audit_log(self) -> bool:
        return self._any("cases.view_audit_log")

    @cached_property
    def reads_reports(self) -> bool:
        return self._any("cases.view_reports")

    @cached_property
    def leads(self) -> bool:
        """Lead of a setting: its deadlines and its staff's sign-in."""
        return Role.LEAD in self._roles

    @cached_property
    def may_break_glass(self) -> bool:
        return self._any("cases.break_glass")


def access(request: HttpRequest) -> dict[str, Any]:
    # An error page rendered before the authentication middleware ran has no user.
    return {"access": MenuAccess(getattr(request, "user", None) or AnonymousUser())}
