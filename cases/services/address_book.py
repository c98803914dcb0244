"""A setting's address book: the named people its shares go to.

A recipient named on a submitted share keeps their name and organisation, so the record of
whom a share went to never changes; a person who moves on is retired (offered for no new
share) and a new entry added. Contact details may be corrected at any time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from permissions.audit import record_setting_change
from permissions.models import AuditAction
from permissions.rules import may_keep_register

from ..choices import AgencyKind, ShareStatus
from ..errors import length_problems, raise_if, refuse
from ..models import Organisation, Recipient
from ..transactions import atomic_change

RECIPIENT_FIELDS = ("person_name", "role", "agency_name", "agency_kind", "secure_email", "phone")
# What stays as the shares that named them recorded it.
NAMING_FIELDS = ("person_name", "agency_name")


def _problems(fields: Mapping[str, Any], *, verified: bool) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = length_problems(Recipient, fields)
    if not fields.get("person_name"):
        errors["person_name"] = ["Give the recipient's name: shares go to a named person."]
    if not fields.get("agency_name"):
        errors["agency_name"] = ["Give the organisation they work for."]
    if fields.get("agency_kind", AgencyKind.OTHER) not in AgencyKind.values:
        errors["agency_kind"] = ["Choose the kind of organisation from the list."]
    email = fields.get("secure_email") or ""
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["secure_email"] = ["Give an email address such as name@council.gov.uk."]
    if verified and not email:
        errors["secure_email"] = ["Give the secure address you checked."]
    return errors


def _cleaned(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {key: str(fields.get(key) or "").strip() for key in RECIPIENT_FIELDS if key in fields}


def _may_keep(by: Any, organisation: Organisation) -> None:
    if not may_keep_register(by, organisation):
        raise refuse("__all__", "Only the setting's lead or a deputy can keep its address book.")


@atomic_change()
def recipient_add(
    *, organisation: Organisation, by: Any, fields: Mapping[str, Any], verified: bool = False
) -> Recipient:
    """``verified``: the person adding them checked the secure address with the
    recipient's organisation (by phone, or from its published list)."""
    _may_keep(by, organisation)
    cleaned = _cleaned(fields)
    raise_if(_problems(cleaned, verified=verified))
    recipient = Recipient.objects.create(
        organisation=organisation,
        secure_email_verified_at=timezone.now() if verified else None,
        **cleaned,
    )
    record_setting_change(
        AuditAction.RECIPIENT_ADDED,
        organisation,
        actor=by,
        record=recipient,
        detail=f"{recipient}{'; secure address checked' if verified else ''}",
    )
    return recipient


def is_named_on_a_share(recipient: Recipient) -> bool:
    return recipient.shares.exclude(status=ShareStatus.DRAFT).exists()


@atomic_change()
def recipient_update(
    *, recipient: Recipient, by: Any, fields: Mapping[str, Any], verified: bool = False
) -> Recipient:
    recipient = Recipient.objects.select_for_update().get(pk=recipient.pk)
    _may_keep(by, recipient.organisation)
    if recipient.retired_at is not None:
        raise refuse("__all__", f"{recipient} has been retired: add a new entry instead.")
    cleaned = _cleaned(fields)
    # The entry as it would be: the fields given over the ones it has.
    merged = {key: getattr(recipient, key) for key in RECIPIENT_FIELDS} | cleaned
    errors = _problems(merged, verified=verified)
    if is_named_on_a_share(recipient):
        for key in NAMING_FIELDS:
            if key in cleaned and cleaned[key] != getattr(recipient, key):
                errors.setdefault(key, []).append(
                    "Shares already name this person as they are: retire this entry and "
                    "add a new one, so those shares keep their record."
                )
    raise_if(errors)
    changed = [key for key, value in cleaned.items() if getattr(recipient, key) != value]
    address_changed = "secure_email" in changed
    for key in changed:
        setattr(recipient, key, cleaned[key])
    if verified:
        recipient.secure_email_verified_at = timezone.now()
        changed.append("secure address checked")
    elif address_changed:
        # A new address is not the one that was checked.
        recipient.secure_email_verified_at = None
    if not changed:
        return recipient
    recipient.save()
    record_setting_change(
        AuditAction.RECIPIENT_CHANGED,
        recipient.organisation,
        actor=by,
        record=recipient,
        detail=f"{recipient}: {', '.join(changed)}",
    )
    return recipient


@atomic_change()
def recipient_retire(*, recipient: Recipient, by: Any) -> Recipient:
    recipient = Recipient.objects.select_for_update().get(pk=recipient.pk)
    _may_keep(by, recipient.organisation)
    if recipient.retired_at is None:
        recipient.retired_at = timezone.now()
        recipient.save(update_fields=["retired_at"])
        record_setting_change(
            AuditAction.RECIPIENT_RETIRED,
            recipient.organisation,
            actor=by,
            record=recipient,
            detail=str(recipient),
        )
    return recipient
