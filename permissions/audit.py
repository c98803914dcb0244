"""Writing to the audit log. Every page view, every change of access and every step of a
share lands here, as one entry each, appended to its setting's hash chain."""

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


def _shown(record: models.Model) -> str:
    return f"{record._meta.model_name} {record.pk}"


def _case_id(record: models.Model) -> int:
    if isinstance(record, Case):
        return record.pk
    share = record if isinstance(record, Share) else record.share  # type: ignore[attr-defined]
    return share.case_id


def _share_id(record: models.Model) -> int | None:
    """The share a record is part of, without loading it (a case is part of none)."""
    if isinstance(record, Case):
        return None
    return record.pk if isinstance(record, Share) else record.share_id  # type: ignore[attr-defined]


def record_views(user: Any, records: list[models.Model], basis: str) -> list[AuditEntry]:
    """Log that the user saw these records on one page: one entry for the page view.

    One append per page, not per record, keeps a busy setting's chain short and its lock
    free. The entry still says exactly what was shown: its object is the page's main record
    (the first given), with its action ("Viewed a share"), and ``detail`` lists every record
    shown by kind and id, the main one first ("share 12; decision 40; release 9"), however
    many. ``share`` is set when everything shown is part of one share (a share's page, its
    decision record), so who saw a share is one indexed query; a case's page, which lists
    several shares, names only the case. A page shows one case's records; were a caller to
    give records of several cases, each case gets an entry of its own.
    """
    by_case: dict[int, list[models.Model]] = {}
    for record in dict.fromkeys(records):  # each record once, in the order given
        by_case.setdefault(_case_id(record), []).append(record)
    entries = []
    for shown in by_case.values():
        main = shown[0]
        shares = {_share_id(record) for record in shown}
        entry = _entry(_VIEW_ACTIONS[type(main)], main, actor=user, basis=basis)
        entry.share_id = shares.pop() if len(shares) == 1 else None
        entry.detail = "; ".join(_shown(record) for record in shown)
        entries.append(entry)
    return append(entries)


def records_shown(entry: AuditEntry) -> list[tuple[str, int]]:
    """The records a page view showed, as (kind, id), the main one first: what
    ``record_views`` wrote in its ``detail``. A view logged before a page view was one entry
    (one entry per record, no list) showed its own record alone."""
    if entry.action not in _VIEW_ACTIONS.values():
        return []
    if not entry.detail:
        return [(entry.object_type, entry.object_id)]
    shown = []
    for part in entry.detail.split("; "):
        kind, _, pk = part.rpartition(" ")
        if kind and pk.isdigit():
            shown.append((kind, int(pk)))
    return shown


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
    case: Case | None = None,
    basis: str = "",
) -> AuditEntry:
    """Log a change to a setting's own configuration or register (its deadlines, details,
    staff, children, cases, address book), with the actor's role; ``record`` is what
    changed when it is not the setting itself, ``subject`` the person it concerns, ``case``
    the case it belongs to (so the case's "who has looked" finds it), ``basis`` who acted
    when they hold no role (an outside recipient)."""
    [entry] = append(
        [
            setting_entry(
                action,
                organisation,
                actor=actor,
                detail=detail,
                record=record,
                subject=subject,
                case=case,
                basis=basis,
            )
        ]
    )
    return entry


def setting_entry(
    action: str,
    organisation: Organisation,
    *,
    actor: Any,
    detail: str,
    record: models.Model | None = None,
    subject: Any = None,
    case: Case | None = None,
    basis: str = "",
) -> AuditEntry:
    """The entry ``record_setting_change`` writes, not yet appended: for one act recorded
    in several settings' chains, appended together (``append`` takes the chains' locks in
    one order, so two such acts never wait on each other)."""
    record = record if record is not None else organisation
    if case is None and isinstance(record, Case):
        case = record
    if not basis:
        basis = (role_in(actor, organisation) or "") if actor is not None else "system"
    return AuditEntry(
        actor=actor,
        organisation_id=organisation.pk,
        action=action,
        object_type=str(record._meta.model_name),
        object_id=record.pk,
        case=case,
        subject=subject,
        basis=basis,
        detail=detail[:300],
    )


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
