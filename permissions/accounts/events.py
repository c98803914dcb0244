"""Sign-in events in the audit chain: one entry for each setting the person belongs to, so
each setting's leads see their own staff's sign-ins, failures, lockouts and changes of
second factor in the audit log. An account of no setting (or a username nobody has) gets
one entry of no setting, still in the chain. Never the password or code typed."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest

from ..audit_chain import append
from ..models import AuditEntry
from ..roles import current_memberships
from .lockout import client_ip


def record_account_event(
    action: str,
    subject: Any,
    *,
    actor: Any = None,
    request: HttpRequest | None = None,
    detail: str = "",
) -> list[AuditEntry]:
    """Log an event about ``subject``'s account (None: a username that matches no account).

    ``actor`` is who did it: the person themselves for a sign-in, a lead for a reset,
    None for the system (a session that timed out) or an unknown visitor (a failed sign-in).
    """
    if request is not None:
        detail = f"{detail} (from {client_ip(request)})" if detail else f"from {client_ip(request)}"
    memberships = list(current_memberships(subject)) if subject is not None else []
    places: list[tuple[Any, str]] = [
        (membership.organisation_id, membership.role) for membership in memberships
    ] or [(None, "")]
    actor_roles = (
        {m.organisation_id: m.role for m in current_memberships(actor)}
        if actor is not None and actor != subject
        else {}
    )
    return append(
        [
            AuditEntry(
                actor=actor,
                organisation_id=organisation_id,
                action=action,
                object_type=get_user_model()._meta.model_name or "user",
                object_id=subject.pk if subject is not None else 0,
                subject=subject,
                # The role of whoever acted, in that setting (none, for another's act there).
                basis=(
                    role
                    if actor is not None and actor == subject
                    else actor_roles.get(organisation_id, "")
                ),
                detail=detail[:300],
            )
            for organisation_id, role in places
        ]
    )
