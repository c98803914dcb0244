"""Writing to the one audit log. Every read of a record and every change of access lands here."""

from __future__ import annotations

from typing import Any

from django.db import models

from cases.models import Case, Decision, Organisation, Release, Share

from .models import AuditAction, AuditEntry

_VIEW_ACTIONS: dict[type[models.Model], str] = {
    Case: AuditAction.VIEW_CASE,
    Share: AuditAction.VIEW_SHARE,
    Decision: AuditAction.VIEW_DECISION,
    Release: AuditAction.VIEW_RELEASE,
}


def _case_of(record: models.Model) -> Case:
    if isinstance(record, Case):
        return record
    if isinstance(record, Share):
        return record.case
    return record.share.case  # Decision and Release


def record_views(user: Any, records: list[models.Model], basis: str) -> None:
    """Log that the user saw these records (a page often shows several at once)."""
    AuditEntry.objects.bulk_create(
        AuditEntry(
            actor=user,
            organisation_id=_case_of(record).organisation_id,
            action=_VIEW_ACTIONS[type(record)],
            object_type=record._meta.model_name,
            object_id=record.pk,
            case=_case_of(record),
            basis=basis,
        )
        for record in records
    )


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
    return AuditEntry.objects.create(
        actor=actor,
        organisation_id=organisation_id,
        action=action,
        object_type=target._meta.model_name,
        object_id=target.pk,
        case=case,
        subject_id=subject_id,
        basis=permission,
        detail=detail,
    )
