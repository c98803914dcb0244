"""Inviting someone to work in a setting: an account (their email address) with no password
until they choose one from a one-time link, and a membership in the role the lead chose."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from permissions.audit import record_setting_change
from permissions.models import AuditAction
from permissions.rules import may_run_setting

from ..choices import Role
from ..errors import length_problems, raise_if, refuse
from ..models import Membership, Organisation
from ..people import display_name
from ..transactions import atomic_change
from .memberships import membership_start
from .setting import account_for


def staff_problems(
    organisation: Organisation, *, email: str, first_name: str, last_name: str, role: str
) -> dict[str, list[str]]:
    """What is wrong with a new member of staff, keyed by field (the invite form's and the
    staff import's rows are checked alike)."""
    # A username is the email address, and Django's username column holds 150 characters.
    errors: dict[str, list[str]] = length_problems(
        get_user_model(), {"username": email, "first_name": first_name, "last_name": last_name}
    )
    if "username" in errors:
        errors["email"] = errors.pop("username")
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = ["Give their work email address, such as name@school.example."]
    if not first_name.strip():
        errors["first_name"] = ["Give their first name."]
    if not last_name.strip():
        errors["last_name"] = ["Give their last name."]
    if role not in Role.values:
        errors["role"] = ["Choose a role from the list."]
    return errors


def invitation_unused(membership: Membership) -> bool:
    """They have not chosen a password yet: their invitation may be sent again (and a link
    would not replace a password they chose)."""
    return membership.ended_at is None and not membership.user.has_usable_password()


@atomic_change()
def staff_invite(
    *,
    organisation: Organisation,
    email: str,
    first_name: str,
    last_name: str,
    role: str,
    by: Any,
) -> Membership:
    """The lead invites a member of staff. Someone who already has an account (they work in
    another setting too) keeps it; the invitation email is sent by the caller, after commit."""
    if not may_run_setting(by, organisation):
        raise refuse("__all__", "Only the setting's lead can invite staff.")
    email = email.strip().lower()
    raise_if(
        staff_problems(
            organisation, email=email, first_name=first_name, last_name=last_name, role=role
        )
    )
    user = account_for(email, f"{first_name.strip()} {last_name.strip()}")
    if Membership.objects.filter(
        user=user, organisation=organisation, ended_at__isnull=True
    ).exists():
        if not user.has_usable_password():
            # Their first invitation is unused: what they need is a fresh link, which the
            # staff list offers on their row (a second membership would change nothing).
            raise refuse(
                "email",
                f"{email} is invited already but has not chosen a password yet: use "
                "\u201cSend the invitation again\u201d on their row of the staff list.",
            )
        raise refuse("email", f"{email} already works here: change their role instead.")
    membership = membership_start(user=user, organisation=organisation, role=role, by=by)
    record_setting_change(
        AuditAction.STAFF_INVITED,
        organisation,
        actor=by,
        record=membership,
        subject=user,
        # The account's own name: someone who already had one keeps theirs.
        detail=f"{display_name(user)} ({email}), {membership.get_role_display()}",
    )
    return membership


@atomic_change()
def staff_invitation_renewed(*, membership: Membership, by: Any) -> Membership:
    """The lead sends someone's invitation again (a new link; the old one still works until
    it expires): only while they have not chosen a password, since a link would otherwise let
    whoever holds it replace the one they chose."""
    if not may_run_setting(by, membership.organisation):
        raise refuse("__all__", "Only the setting's lead can invite staff.")
    if not invitation_unused(membership):
        raise refuse("__all__", f"{display_name(membership.user)} has no invitation waiting.")
    record_setting_change(
        AuditAction.STAFF_INVITED,
        membership.organisation,
        actor=by,
        record=membership,
        subject=membership.user,
        detail=f"{display_name(membership.user)}: a new invitation link",
    )
    return membership
