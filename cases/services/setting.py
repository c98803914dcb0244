"""A setting's own details: created once (``manage.py create_setting``), then kept by its
lead from the Setting page. Each change is an entry in the audit chain."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q

from permissions.audit import record_setting_change
from permissions.models import AuditAction
from permissions.rules import may_run_setting

from ..choices import CalendarRegion, OrganisationKind, Role
from ..errors import RuleViolation, length_problems, raise_if, refuse
from ..models import ONE_PERSON_SETTING_KINDS, Organisation
from ..transactions import atomic_change
from .memberships import membership_start

# What the Setting page may change, and how each reads in the audit entry.
SETTING_FIELDS = {
    "name": "name",
    "kind": "kind",
    "is_public_authority": "public authority",
    "calendar_region": "calendar region",
    "timezone": "time zone",
    "working_day_starts": "working day starts",
    "working_day_ends": "working day ends",
}


def setting_problems(
    fields: Mapping[str, Any], *, organisation: Organisation | None = None
) -> dict[str, list[str]]:
    """What is wrong with a setting's details, keyed by field."""
    errors: dict[str, list[str]] = length_problems(Organisation, fields)
    name = str(fields.get("name", "")).strip()
    if "name" in fields:
        if not name:
            errors["name"] = ["Give the setting's name."]
        else:
            clash = Organisation.objects.filter(name__iexact=name)
            if organisation is not None:
                clash = clash.exclude(pk=organisation.pk)
            if clash.exists():
                errors["name"] = [f"A setting called {name!r} already exists in Safeshare."]
    if "kind" in fields and fields["kind"] not in OrganisationKind.values:
        errors["kind"] = ["Choose the kind of setting from the list."]
    elif (
        fields.get("kind") in ONE_PERSON_SETTING_KINDS
        and organisation is not None
        and organisation.memberships.filter(ended_at__isnull=True).count() > 1
    ):
        # In a one-person setting the lead decides their own shares: never where someone
        # else works who could decide them instead.
        errors["kind"] = [
            "A childminder works alone, and decides their own shares; this setting has "
            "other staff, so another lead or deputy decides each share."
        ]
    if "calendar_region" in fields and fields["calendar_region"] not in CalendarRegion.values:
        errors["calendar_region"] = ["Choose the calendar region from the list."]
    if "timezone" in fields:
        try:
            ZoneInfo(str(fields["timezone"]))
        # A region's name alone ("Europe") is a folder of the zone database: OSError.
        except (ZoneInfoNotFoundError, ValueError, OSError):
            errors["timezone"] = ["Give a time zone such as Europe/London."]
    starts, ends = fields.get("working_day_starts"), fields.get("working_day_ends")
    if isinstance(starts, time) and isinstance(ends, time) and starts >= ends:
        errors["working_day_ends"] = ["The working day must end after it starts."]
    return errors


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return str(value)


@atomic_change()
def setting_create(
    *,
    name: str,
    kind: str,
    calendar_region: str,
    is_public_authority: bool,
    lead_email: str,
    lead_name: str,
    timezone: str = "Europe/London",
) -> tuple[Organisation, Any]:
    """A new setting and its first lead, who chooses a password from a one-time link.

    The lead's account is their email address; someone who already has an account (a lead of
    another setting) keeps it and becomes this setting's lead too.
    """
    fields = {
        "name": name.strip(),
        "kind": kind,
        "calendar_region": calendar_region,
        "timezone": timezone,
        "is_public_authority": is_public_authority,
    }
    errors = setting_problems(fields)
    email = lead_email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        errors["lead_email"] = ["Give the lead's email address, such as dsl@school.example."]
    if len(email) > 150:  # the username is the address, and a username holds 150
        errors["lead_email"] = ["At most 150 characters."]
    if not lead_name.strip():
        errors["lead_name"] = ["Give the lead's name."]
    raise_if(errors)
    organisation = Organisation.objects.create(**fields)
    lead = account_for(email, lead_name)
    membership_start(user=lead, organisation=organisation, role=Role.LEAD)
    record_setting_change(
        AuditAction.SETTING_CREATED,
        organisation,
        actor=None,
        subject=lead,
        detail=f"created with {lead_name.strip()} ({email}) as its lead",
    )
    return organisation, lead


def account_for(email: str, full_name: str) -> Any:
    """The account of this email address (as its username or its email), made with no
    password yet if there is none; a person keeps one account for every setting they work in.
    """
    users = get_user_model()
    found = list(users.objects.filter(Q(username__iexact=email) | Q(email__iexact=email))[:2])
    if len(found) > 1:
        raise refuse(
            "email",
            f"More than one account has the address {email}: ask whoever runs Safeshare's "
            "server to merge them first.",
        )
    if found:
        if not found[0].is_active:
            raise refuse("email", f"The account {email} has been switched off in Safeshare.")
        return found[0]
    first, _, last = full_name.strip().partition(" ")
    user = users(username=email, email=email, first_name=first[:150], last_name=last[:150])
    user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        # Invited twice at the same moment: the first invitation made the account.
        return users.objects.get(username__iexact=email)
    return user


@atomic_change()
def setting_update(*, organisation: Organisation, by: Any, **fields: Any) -> Organisation:
    """The lead changes the setting's details; the audit entry names each field changed."""
    if not may_run_setting(by, organisation):
        raise refuse("__all__", "Only the setting's lead can change its details.")
    unknown = set(fields) - set(SETTING_FIELDS)
    if unknown:
        raise RuleViolation(
            {"__all__": [f"Not a detail of a setting: {', '.join(sorted(unknown))}."]}
        )
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    if isinstance(fields.get("name"), str):
        fields["name"] = fields["name"].strip()
    raise_if(setting_problems(fields, organisation=organisation))
    changed = [
        f"{SETTING_FIELDS[key]}: {_describe(getattr(organisation, key))} → {_describe(value)}"
        for key, value in fields.items()
        if getattr(organisation, key) != value
    ]
    if not changed:
        return organisation
    for key, value in fields.items():
        setattr(organisation, key, value)
    try:
        with transaction.atomic():
            organisation.save(update_fields=list(fields))
    except IntegrityError:
        # Another setting took the name at the same moment.
        raise refuse("name", f"A setting called {fields['name']!r} already exists.") from None
    record_setting_change(
        AuditAction.SETTING_CHANGED, organisation, actor=by, detail="; ".join(changed)
    )
    return organisation
