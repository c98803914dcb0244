"""Writing to the one audit log. Every read of a record, every change of access and every
step of a share lands here, as one entry each, appended to the hash chain."""

from __future__ import annotations

from typing import Any

from django.db import models

from cases.models import Case, Child, Consultation, Decision, Organisation, Release, Share

from .audit_chain import append
from .models import AuditAction, AuditEntry
from .roles import role_in

_VIEW_ACTIONS: dict[type[models.Model], str] = {
    Case: AuditAction.VIEW_CASE,
    Share: AuditAction.VIEW_SHARE,
    Decision: AuditAction.VIEW_DECISION,
    Release: AuditAction.VIEW_RELEASE,
    Consultation: AuditAction.VIEW_CONSULTATION,
}


def _place(record: models.Model) -> tuple[Case, Share | None]:
    """The case and share a record belongs to (every other record hangs off a share)."""
    if isinstance(record, Case):
        return record, None
    share = record if isinstance(record, Share) else record.share  # type: ignore[attr-defined]
    return share.case, share


def _entry(action: str, record: models.Model, **fields: Any) -> AuditEntry:
    case, share = _place(record)
    return AuditEntry(
        organisation_id=case.organisation_id,
        action=action,
        object_type=str(record._meta.model_name),
        object_id=record.pk,
        case=case,
        share=share,
        **fields,
    )


def record_views(user: Any, records: list[models.Model], basis: str) -> None:
    """Log that the user saw these records (a page often shows several at once)."""
    append(
        [_entry(_VIEW_ACTIONS[type(record)], record, actor=user, basis=basis) for record in records]
    )


def record_child_viewed(user: Any, child: Child) -> AuditEntry:
    """Log that the user opened a child's record on their setting's roll (names, birthday,
    identifiers, carers), whether or not the child has a case."""
    [entry] = append(
        [
            AuditEntry(
                actor=user,
                organisation_id=child.organisation_id,
                action=AuditAction.VIEW_CHILD,
                object_type="child",
                object_id=child.pk,
                basis=role_in(user, child.organisation) or "",
            )
        ]
    )
    return entry


def record_event(
    action: str, record: models.Model, *, actor: Any = None, detail: str = "", basis: str = ""
) -> AuditEntry:
    """Log one step in a share's life (or a case's), with the actor's role at the time.

    Call it inside the service's transaction, so the entry and the change stand or fall
    together. ``actor`` is None for what the system did by itself (an escalation).
    """
    if not basis:
        case, _ = _place(record)
        basis = (role_in(actor, case.organisation) or "") if actor is not None else "system"
    [entry] = append([_entry(action, record, actor=actor, basis=basis, detail=detail[:300])])
    return entry


def record_access_change(
    *,
    action: str,
    subject_id: int,
    target: Organisation | Case,
    permission: str,
    actor: Any = None,
    detail: str = "",
) -> AuditEntry:
    case = target if isinstance(target, Case) else None
    organisation_id = target.organisation_id if isinstance(target, Case) else target.pk
    [entry] = append(
        [
            AuditEntry(
                actor=actor,
                organisation_id=organisation_id,
                action=action,
                object_type=str(target._meta.model_name),
                object_id=target.pk,
                case=case,
                subject_id=subject_id,
                basis=permission,
                detail=detail,
            )
        ]
    )
    return entry


def record_setting_change(
    action: str,
    organisation: Organisation,
    *,
    actor: Any,
    detail: str,
    record: models.Model | None = None,
    subject: Any = None,
) -> AuditEntry:
    """Log a change to a setting's own configuration or register (its deadlines, details,
    staff, children, cases, address book), with the actor's role; ``record`` is what
    changed when it is not the setting itself, ``subject`` the person it concerns."""
    record = record if record is not None else organisation
    [entry] = append(
        [
            AuditEntry(
                actor=actor,
                organisation_id=organisation.pk,
                action=action,
                object_type=str(record._meta.model_name),
                object_id=record.pk,
                case=record if isinstance(record, Case) else None,
                subject=subject,
                basis=(role_in(actor, organisation) or "") if actor is not None else "system",
                detail=detail[:300],
            )
        ]
    )
    return entry


def record_search(
    actor: Any, text: str, found_by_setting: dict[int, tuple[str, int]]
) -> list[AuditEntry]:
    """Log one search: an entry for each setting searched (its id -> the actor's role there,
    how many of its records were shown), with the text searched, trimmed to 100 characters.

    The text may hold a child's name, so it goes only to a setting that showed results, or
    that is the person's only one (their leads then see what their own staff looked for,
    found or not); another setting of theirs learns that a search found nothing there."""
    only_one = len(found_by_setting) == 1

    def detail(found: int) -> str:
        results = f"{found} result{'' if found == 1 else 's'}"
        return f'"{text[:100]}": {results}' if found or only_one else f"a search: {results}"

    return append(
        [
            AuditEntry(
                actor=actor,
                organisation_id=organisation_id,
                action=AuditAction.SEARCHED,
                object_type="organisation",
                object_id=organisation_id,
                basis=role,
                detail=detail(found),
            )
            for organisation_id, (role, found) in found_by_setting.items()
        ]
    )
