"""Uploading, previewing, confirming and discarding an import of children or staff.

Nothing is written at preview. Confirming reads the kept file again and plans every row
against the register as it is then, and applies each valid row through the register's own
services, each row in a transaction of its own: one row refused at that moment (someone
added the same UPN meanwhile) leaves the others in, and the audit chain's lock is held for
one row at a time, not for the whole file, so the setting's pages are not held up while a
roll of two thousand children is imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone

from permissions.audit import record_setting_change
from permissions.models import AuditAction
from permissions.rules import may_import

from ..errors import refuse
from ..models import Membership, Organisation, RegisterImport, RegisterImportKind
from . import children, staff
from .plan import Action, ImportPlan, RowPlan, summary_in_words
from .reading import Column, decode, read_sheet

# An upload neither confirmed nor discarded holds children's details for nothing: it goes
# after a day (the timer sweep calls discard_unconfirmed_imports).
UNCONFIRMED_KEPT_FOR = timedelta(days=1)

COLUMNS: dict[str, tuple[Column, ...]] = {
    RegisterImportKind.CHILDREN: children.COLUMNS,
    RegisterImportKind.STAFF: staff.COLUMNS,
}


def _refuse_unless_allowed(by: Any, organisation: Organisation, kind: str) -> None:
    if not may_import(by, organisation, kind):
        who = "lead" if kind == RegisterImportKind.STAFF else "lead or a deputy"
        raise refuse("__all__", f"Only the setting's {who} can import {kind}.")


def _plan(organisation: Organisation, kind: str, text: str) -> ImportPlan:
    sheet = read_sheet(text, COLUMNS[kind])
    if kind == RegisterImportKind.STAFF:
        return staff.plan_staff(organisation, sheet)
    return children.plan_children(organisation, sheet)


@transaction.atomic
def register_import_start(
    *, organisation: Organisation, kind: str, by: Any, file_name: str, data: bytes
) -> RegisterImport:
    """Keeps a readable export for its preview; a file that cannot be read as a whole raises
    ``ImportFileError`` and is not kept."""
    _refuse_unless_allowed(by, organisation, kind)
    text = decode(data)
    read_sheet(text, COLUMNS[kind])
    # One upload waiting at a time per person and setting: an earlier one never confirmed
    # would otherwise keep children's details for nothing.
    RegisterImport.objects.filter(
        organisation=organisation, by=by, applied_at__isnull=True
    ).delete()
    return RegisterImport.objects.create(
        organisation=organisation,
        kind=kind,
        by=by,
        file_name=file_name[:255],
        uploaded_text=text,
    )


def register_import_preview(register_import: RegisterImport) -> ImportPlan:
    """What confirming would do now, row by row. Writes nothing."""
    return _plan(register_import.organisation, register_import.kind, register_import.uploaded_text)


def register_import_discard(*, register_import: RegisterImport, by: Any) -> None:
    if register_import.by_id != by.pk:
        raise refuse("__all__", "Only the person who uploaded a file can discard it.")
    register_import.delete()


@dataclass
class ImportOutcome:
    summary: str
    # The people newly invited, whose invitation email is sent once their row is committed.
    invited: list[Membership] = field(default_factory=list)


def _apply_row(register_import: RegisterImport, by: Any, row: RowPlan) -> Membership | None:
    organisation = register_import.organisation
    if register_import.kind == RegisterImportKind.STAFF:
        return staff.apply_staff_row(organisation, by, row)
    if not children.apply_child_row(organisation, by, row):
        # Someone made the same change between the plan and this row.
        row.action = Action.UNCHANGED
    return None


def register_import_apply(*, register_import: RegisterImport, by: Any) -> ImportOutcome:
    organisation = register_import.organisation
    kind = register_import.kind
    _refuse_unless_allowed(by, organisation, kind)
    if register_import.by_id != by.pk:
        raise refuse("__all__", "Only the person who uploaded a file can confirm it.")
    plan = _plan(organisation, kind, register_import.uploaded_text)
    # Claimed once: a second press of Confirm (or a second tab) finds it taken and does nothing.
    claimed = RegisterImport.objects.filter(pk=register_import.pk, applied_at__isnull=True).update(
        applied_at=timezone.now()
    )
    if not claimed:
        raise refuse("__all__", "This file has already been imported.")
    rows = plan.to_apply()
    if kind == RegisterImportKind.STAFF:
        rows = staff.apply_order(rows, by)
    invited: list[Membership] = []
    for row in rows:
        try:
            with transaction.atomic():
                membership = _apply_row(register_import, by, row)
        except ValidationError as error:
            row.reject(*(m for messages in error.message_dict.values() for m in messages))
        except DatabaseError:
            # A unique register entry taken meanwhile, or a value the database refused: this
            # row only; the others, the audit entry and the clearing of the file go on.
            row.reject("Someone changed the register while this row was being imported.")
        else:
            if membership is not None:
                invited.append(membership)
    summary = summary_in_words(RegisterImportKind(kind).label, plan.counts)
    with transaction.atomic():
        record_setting_change(
            AuditAction.REGISTER_IMPORTED,
            organisation,
            actor=by,
            record=register_import,
            detail=f"{summary} ({register_import.file_name})",
        )
        # The file held children's details: kept no longer than it is needed.
        RegisterImport.objects.filter(pk=register_import.pk).update(
            uploaded_text="", outcome=summary
        )
    return ImportOutcome(summary=summary, invited=invited)


def discard_unconfirmed_imports() -> int:
    """Delete the uploads left unconfirmed for longer than UNCONFIRMED_KEPT_FOR; returns how
    many went."""
    stale = RegisterImport.objects.filter(
        applied_at__isnull=True, created_at__lt=timezone.now() - UNCONFIRMED_KEPT_FOR
    )
    deleted, _ = stale.delete()
    return deleted
