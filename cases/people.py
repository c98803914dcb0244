"""The people who act, as the type checker sees them.

Safeshare works with the project's user model (``settings.AUTH_USER_MODEL``). django-stubs
resolves that setting to Django's own ``User``, so annotations name it through this alias;
at run time it is the base every user model shares.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    Person: TypeAlias = User
else:
    Person = AbstractBaseUser

# Who acted when nobody did: a timer, an escalation.
AUTOMATIC = "Safeshare, automatically"


def display_name(user: Person | None) -> str:
    """A person as colleagues know them; the system itself where nobody acted."""
    if user is None:
        return AUTOMATIC
    return user.get_full_name() or user.get_username()


# Someone who may not have signed in (a selector answers "nothing" for them).
UserLike: TypeAlias = "Person | AnonymousUser"


def signed_in(request: HttpRequest) -> Person:
    """The person behind a request: every Safeshare page requires sign-in itself
    (``workflows.site``), so an anonymous request is refused, never an error page."""
    user = request.user
    if not user.is_authenticated:
        raise PermissionDenied("Sign in first.")
    return user
