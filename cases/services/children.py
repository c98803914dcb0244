"""A setting's register of children, and the cases it opens for them.

A child is never deleted from a page: the register keeps what the setting knew, and
retention is its own policy. The same checks serve the Add and Edit pages and each row of an
import (``child_problems``), so a row refused in a preview is refused for the same reason.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from permissions.audit import record_setting_change
from permissions.models import AuditAction
from permissions.rules import may_keep_register

from ..deadlines import today_in
from ..errors import length_problems, raise_if, refuse
from ..identifiers import nhs_number_problem, normalise, upn_problem
from ..models import Carer, Case, Child, Organisation
from ..transactions import atomic_change
from .memberships import case_team_add

CHILD_FIELDS = (
    "first_name",
    "last_name",
    "known_as",
    "date_of_birth",
    "year_group",
    "address",
    "nhs_number",
    "unique_pupil_number",
    "privacy_notice_given_on",
    "privacy_notice_version",
)
CARER_FIELDS = ("name", "relationship", "phone", "email", "address", "has_parental_responsibility")
# Addresses are free text in the database: the bound is kept here, for the pages and imports.
ADDRESS_MAX_LENGTH = 1000
MAX_CARERS = 10
# Older than this is not a child of a setting's roll: a date typed a century out.
_OLDEST = timedelta(days=366 * 26)


def clean_child_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Text trimmed and identifiers written as their issuers write them."""
    cleaned = {key: fields.get(key) for key in CHILD_FIELDS if key in fields}
    for key, value in cleaned.items():
        if isinstance(value, str):
            cleaned[key] = value.strip()
    for key in ("nhs_number", "unique_pupil_number"):
        if cleaned.get(key):
            cleaned[key] = normalise(str(cleaned[key]))
    return cleaned


def child_problems(
    organisation: Organisation,
    fields: Mapping[str, Any],
    carers: Sequence[Mapping[str, Any]] = (),
    *,
    child: Child | None = None,
) -> dict[str, list[str]]:
    """What is wrong with a child's details, keyed by field (``carer_<n>_<field>`` for the
    n-th carer, from 0)."""
    errors: dict[str, list[str]] = length_problems(Child, fields)
    today = today_in(organisation)
    if not fields.get("first_name"):
        errors["first_name"] = ["Give the child's legal first name."]
    if not fields.get("last_name"):
        errors["last_name"] = ["Give the child's legal last name."]
    born = fields.get("date_of_birth")
    if not isinstance(born, date):
        errors["date_of_birth"] = ["Give the child's date of birth."]
    elif born > today:
        errors["date_of_birth"] = ["The date of birth is in the future: check the year."]
    elif today - born > _OLDEST:
        errors["date_of_birth"] = ["That would make the child over 25: check the year."]
    upn = fields.get("unique_pupil_number") or ""
    if upn:
        problem = upn_problem(upn)
        if problem:
            errors["unique_pupil_number"] = [problem]
        else:
            same = Child.objects.filter(organisation=organisation, unique_pupil_number=upn)
            if child is not None:
                same = same.exclude(pk=child.pk)
            other = same.first()
            if other is not None:
                errors["unique_pupil_number"] = [
                    f"UPN {upn} is already {other}'s: each child has their own."
                ]
    if isinstance(born, date) and fields.get("first_name") and fields.get("last_name"):
        same = Child.objects.filter(
            organisation=organisation,
            first_name__iexact=fields["first_name"],
            last_name__iexact=fields["last_name"],
            date_of_birth=born,
        )
        if child is not None:
            same = same.exclude(pk=child.pk)
        if same.exists():
            # The same legal names and birthday are one child entered twice: two records
            # would split their history (and their cases) in two.
            errors.setdefault("last_name", []).append(
                f"{fields['first_name']} {fields['last_name']}, born {born:%d/%m/%Y}, is "
                "already on the roll: find them under Children and correct their record."
            )
    nhs = fields.get("nhs_number") or ""
    if nhs and (problem := nhs_number_problem(nhs)):
        errors["nhs_number"] = [problem]
    given_on = fields.get("privacy_notice_given_on")
    if isinstance(given_on, date) and given_on > today:
        errors["privacy_notice_given_on"] = ["The privacy notice cannot be given in the future."]
    if given_on and not fields.get("privacy_notice_version"):
        errors["privacy_notice_version"] = ["Say which version of the privacy notice was given."]
    if fields.get("privacy_notice_version") and not given_on:
        errors["privacy_notice_given_on"] = ["Say when the privacy notice was given."]
    if len(str(fields.get("address") or "")) > ADDRESS_MAX_LENGTH:
        errors["address"] = [f"At most {ADDRESS_MAX_LENGTH} characters."]
    if len(carers) > MAX_CARERS:
        errors["carers"] = [f"At most {MAX_CARERS} carers for one child."]
    for n, carer in enumerate(carers):
        for key, problems in length_problems(Carer, carer).items():
            errors[f"carer_{n}_{key}"] = problems
        if len(str(carer.get("address") or "")) > ADDRESS_MAX_LENGTH:
            errors[f"carer_{n}_address"] = [f"At most {ADDRESS_MAX_LENGTH} characters."]
        if not str(carer.get("name", "")).strip():
            errors[f"carer_{n}_name"] = ["Give the carer's name."]
        if not str(carer.get("relationship", "")).strip():
            errors[f"carer_{n}_relationship"] = [
                "Say who they are to the child (Mother, Foster carer…)."
            ]
        email = str(carer.get("email", "")).strip()
        if email:
            try:
                validate_email(email)
            except ValidationError:
                errors[f"carer_{n}_email"] = ["Give an email address such as name@example.com."]
    return errors


@contextmanager
def _one_upn_per_child() -> Iterator[None]:
    """Two people giving one UPN at the same moment both pass the check above; the database's
    constraint keeps one, and the other is told as if the check had caught it."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        raise refuse(
            "unique_pupil_number", "This UPN has just been given to another child: check it."
        ) from None


def _may_keep(by: Any, organisation: Organisation) -> None:
    if not may_keep_register(by, organisation):
        raise refuse("__all__", "Only the setting's lead or a deputy can keep its register.")


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    # Field names only: the audit chain is read by more people than the register.
    return [
        str(getattr(Child._meta.get_field(key), "verbose_name", key))
        for key, value in after.items()
        if before.get(key) != value
    ]


def _save_carers(child: Child, carers: Sequence[Mapping[str, Any]]) -> bool:
    """The child's carers become exactly these (matched by ``pk``, or else by name); returns
    whether anything changed."""
    existing = {carer.pk: carer for carer in child.carers.all()}
    by_name = {carer.name.casefold(): carer for carer in existing.values()}
    kept: set[int] = set()
    changed = False
    for given in carers:
        values = {key: given[key] for key in CARER_FIELDS if key in given}
        for key, value in values.items():
            if isinstance(value, str):
                values[key] = value.strip()
        carer = existing.get(given.get("pk") or 0) or by_name.get(
            str(values.get("name", "")).casefold()
        )
        if carer is None:
            carer = Carer.objects.create(child=child, **values)
            changed = True
        elif any(getattr(carer, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(carer, key, value)
            carer.save()
            changed = True
        kept.add(carer.pk)
    gone = [pk for pk in existing if pk not in kept]
    if gone:
        Carer.objects.filter(pk__in=gone).delete()
        changed = True
    return changed


@atomic_change()
def child_add(
    *,
    organisation: Organisation,
    by: Any,
    fields: Mapping[str, Any],
    carers: Sequence[Mapping[str, Any]] = (),
) -> Child:
    _may_keep(by, organisation)
    cleaned = clean_child_fields(fields)
    raise_if(child_problems(organisation, cleaned, carers))
    with _one_upn_per_child():
        child = Child.objects.create(organisation=organisation, **cleaned)
    _save_carers(child, carers)
    record_setting_change(
        AuditAction.CHILD_ADDED, organisation, actor=by, record=child, detail=str(child)
    )
    return child


@atomic_change()
def child_update(
    *,
    child: Child,
    by: Any,
    fields: Mapping[str, Any],
    carers: Sequence[Mapping[str, Any]] | None = None,
) -> tuple[Child, bool]:
    """Returns the child and whether anything changed (a re-import of the same row changes
    nothing and writes no entry). ``carers`` None leaves them as they are."""
    child = Child.objects.select_for_update().get(pk=child.pk)
    _may_keep(by, child.organisation)
    cleaned = clean_child_fields(fields)
    raise_if(child_problems(child.organisation, cleaned, carers or (), child=child))
    before = {key: getattr(child, key) for key in cleaned}
    changed = _changes(before, cleaned)
    for key, value in cleaned.items():
        setattr(child, key, value)
    if changed:
        with _one_upn_per_child():
            child.save(update_fields=list(cleaned))
    if carers is not None and _save_carers(child, carers):
        changed.append("carers")
    if changed:
        record_setting_change(
            AuditAction.CHILD_CHANGED,
            child.organisation,
            actor=by,
            record=child,
            detail=f"{child}: {', '.join(changed)}",
        )
    return child, bool(changed)


def next_case_reference(organisation: Organisation) -> str:
    """The setting's next case number, as C-0001, C-0002…, past any reference it uses."""
    numbers = [
        int(reference[2:])
        for reference in Case.objects.filter(
            organisation=organisation, reference__regex=r"^C-[0-9]+$"
        ).values_list("reference", flat=True)
    ]
    return f"C-{max(numbers, default=0) + 1:04d}"


@atomic_change()
def case_open(*, child: Child, by: Any, reference: str = "", team: Sequence[Any] = ()) -> Case:
    """A case for a child of the setting, with the practitioners who work with them."""
    organisation = child.organisation
    _may_keep(by, organisation)
    # One case opened at a time per setting, so two leads never take the same number.
    # No key lock: an audit entry written meanwhile, which names the setting, is not held up.
    Organisation.objects.select_for_update(no_key=True).filter(pk=organisation.pk).first()
    reference = reference.strip() or next_case_reference(organisation)
    errors: dict[str, list[str]] = {}
    if len(reference) > Case._meta.get_field("reference").max_length:  # type: ignore[operator]
        errors["reference"] = ["A case reference has 40 characters at most."]
    elif Case.objects.filter(organisation=organisation, reference__iexact=reference).exists():
        errors["reference"] = [f"The setting already has a case {reference}."]
    if Case.objects.filter(child=child, closed_at__isnull=True).exists():
        errors["child"] = [f"{child} already has an open case: add to its team instead."]
    raise_if(errors)
    try:
        with transaction.atomic():
            case = Case.objects.create(child=child, organisation=organisation, reference=reference)
    except IntegrityError:
        raise refuse("reference", "That reference has just been taken: choose another.") from None
    record_setting_change(
        AuditAction.CASE_OPENED, organisation, actor=by, record=case, detail=reference
    )
    for member in team:
        case_team_add(case=case, user=member, by=by)
    return case
