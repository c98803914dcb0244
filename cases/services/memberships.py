"""Who works where, and on which case. Access follows these facts in the same transaction."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.utils import timezone

from cases.people import Person, display_name
from permissions.audit import record_setting_change
from permissions.break_glass import end_break_glass_on
from permissions.grants import sync_users
from permissions.models import AuditAction
from permissions.rules import may_keep_register, may_run_setting

from ..choices import Role
from ..errors import refuse
from ..models import Case, Membership, Organisation
from ..transactions import atomic_change


@atomic_change()
def membership_start(
    *, user: Person, organisation: Organisation, role: str, by: Any = None
) -> Membership:
    if role not in Role.values:
        raise refuse("role", "Choose a role from the list.")
    # One membership starts at a time per setting: the checks below read its other members.
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    if (
        organisation.is_one_person_setting
        and Membership.objects.filter(organisation=organisation, ended_at__isnull=True).exists()
    ):
        raise refuse(
            "email",
            f"{organisation} is a childminder's one-person setting: change its kind on "
            "Setting details before anyone else joins, so that someone else decides each share.",
        )
    if Membership.objects.filter(
        user=user, organisation=organisation, ended_at__isnull=True
    ).exists():
        raise refuse("user", f"{user} already works at {organisation}; change their role instead.")
    membership = Membership.objects.create(user=user, organisation=organisation, role=role)
    sync_users([user.pk], actor=by)
    _second_factor_now_needed([user.pk])
    return membership


@atomic_change()
def membership_change_role(*, membership: Membership, role: str, by: Any = None) -> Membership:
    """``by`` is the lead making the change; None only for the system (the demo, a command)."""
    membership = _locked(membership)
    _may_run(by, membership.organisation)
    if membership.ended_at is not None:
        raise refuse("role", "This membership has ended.")
    if role not in Role.values:
        raise refuse("role", "Choose a role from the list.")
    if role == membership.role:
        return membership
    if membership.role == Role.LEAD:
        _keep_a_lead(membership, "role")
    before = membership.get_role_display()
    membership.role = role
    membership.save(update_fields=["role"])
    if role != Role.PRACTITIONER:
        # Case teams are practitioners; a lead or deputy sees every case through the setting.
        _leave_case_teams(membership)
    sync_users([membership.user_id], actor=by)
    _second_factor_now_needed([membership.user_id])
    record_setting_change(
        AuditAction.ROLE_CHANGED,
        membership.organisation,
        actor=by,
        record=membership,
        subject=membership.user,
        detail=f"{display_name(membership.user)}: {before} → {membership.get_role_display()}",
    )
    return membership


def _locked(membership: Membership) -> Membership:
    # The setting first, then the membership: two leads changing each other's role at once
    # take turns, so the second sees the first's change before checking a lead remains.
    Organisation.objects.select_for_update().filter(pk=membership.organisation_id).first()
    return (
        Membership.objects.select_for_update().select_related("organisation").get(pk=membership.pk)
    )


def _may_run(by: Any, organisation: Organisation) -> None:
    if by is not None and not may_run_setting(by, organisation):
        raise refuse("__all__", "Only the setting's lead can change who works there.")


def _keep_a_lead(membership: Membership, field: str) -> None:
    # Someone must always be able to sign in, decide the setting's shares and run it: a lead
    # invited who has not yet chosen a password (nor may ever) does not count.
    others = (
        Membership.objects.filter(
            organisation_id=membership.organisation_id,
            role=Role.LEAD,
            ended_at__isnull=True,
            user__is_active=True,
        )
        .exclude(pk=membership.pk)
        .exclude(user__password__startswith=UNUSABLE_PASSWORD_PREFIX)
    )
    if not others.exists():
        raise refuse(
            field,
            f"{display_name(membership.user)} is the setting's only lead who can sign in: "
            "make someone else the lead first (once they have chosen their password), so "
            "that shares can still be decided.",
        )


def _second_factor_now_needed(user_ids: list[int]) -> None:
    # A role that needs a second factor, for someone signed in with a password alone: their
    # sessions end, and they set one up at their next sign-in.
    from permissions.accounts.second_factor import end_sessions_without_one

    end_sessions_without_one(user_ids)


@atomic_change()
def membership_end(*, membership: Membership, by: Any = None) -> Membership:
    """Their access to the setting's records ends in the same transaction."""
    membership = _locked(membership)
    _may_run(by, membership.organisation)
    if membership.ended_at is None:
        if membership.role == Role.LEAD:
            _keep_a_lead(membership, "__all__")
        membership.ended_at = timezone.now()
        membership.save(update_fields=["ended_at"])
        _leave_case_teams(membership)
        record_setting_change(
            AuditAction.MEMBERSHIP_ENDED,
            membership.organisation,
            actor=by,
            record=membership,
            subject=membership.user,
            detail=f"{display_name(membership.user)}, {membership.get_role_display()}",
        )
    sync_users([membership.user_id], actor=by)
    return membership


def _leave_case_teams(membership: Membership) -> None:
    Case.team.through.objects.filter(
        user_id=membership.user_id, case__organisation_id=membership.organisation_id
    ).delete()


@atomic_change()
def case_team_add(*, case: Case, user: Person, by: Any = None) -> Case:
    if not case.is_open:
        raise refuse("user", "This case is closed.")
    if not Membership.objects.filter(
        user=user, organisation=case.organisation, role=Role.PRACTITIONER, ended_at__isnull=True
    ).exists():
        raise refuse("user", f"Only practitioners of {case.organisation} can join its case teams.")
    case.team.add(user)
    sync_users([user.pk], actor=by)
    return case


@atomic_change()
def case_team_remove(*, case: Case, user: Person, by: Any = None) -> Case:
    case.team.remove(user)
    sync_users([user.pk], actor=by)
    return case


@atomic_change()
def case_close(*, case: Case, by: Any = None) -> Case:
    if by is not None and not may_keep_register(by, case.organisation):
        raise refuse("__all__", "Only the setting's lead or a deputy can close a case.")
    if case.is_open:
        case.closed_at = timezone.now()
        case.save(update_fields=["closed_at"])
        record_setting_change(
            AuditAction.CASE_CLOSED, case.organisation, actor=by, record=case, detail=case.reference
        )
    sync_users(list(case.team.values_list("pk", flat=True)), actor=by)
    end_break_glass_on(case, by=by)
    return case
