"""Staff from a school MIS export: a new person is invited (``staff_invite``), someone who
already works in the setting in another role has it changed (``membership_change_role``).

A row is matched to a current member by email address (their account name or the email on
it). The import never ends a membership: someone missing from the file keeps working there
until the lead ends it on the staff page.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from ..choices import Role
from ..models import Membership, Organisation
from ..services.memberships import membership_change_role
from ..services.staff import staff_invite, staff_problems
from .plan import Action, ImportPlan, RowPlan, reject_repeats
from .reading import Column, Sheet

COLUMNS: tuple[Column, ...] = (
    Column("email", "Email", ("Email", "Email address", "Work email", "E-mail"), required=True),
    Column("first_name", "First name", ("First name", "Forename", "Given name"), required=True),
    Column("last_name", "Last name", ("Last name", "Surname", "Family name"), required=True),
    Column("role", "Role", ("Role", "Safeguarding role"), required=True),
)

# The words staff lists use for each role, besides Safeshare's own names for them.
_ROLE_WORDS = {
    **{value.casefold(): value for value in Role.values},
    **{label.casefold(): value for value, label in Role.choices},
    "dsl": Role.LEAD,
    "lead": Role.LEAD,
    "safeguarding lead": Role.LEAD,
    "ddsl": Role.DEPUTY,
    "deputy": Role.DEPUTY,
    "deputy dsl": Role.DEPUTY,
    "dpo": Role.AUDITOR,
    "data protection officer": Role.AUDITOR,
}
_ROLE_NAMES = ", ".join(label for _, label in Role.choices)


def role_from(text: str) -> str:
    """The role a cell names, or the cell itself (which ``staff_problems`` then refuses)."""
    return _ROLE_WORDS.get(" ".join(text.split()).casefold(), text)


def plan_staff(organisation: Organisation, sheet: Sheet) -> ImportPlan:
    members = list(
        Membership.objects.filter(organisation=organisation, ended_at__isnull=True).select_related(
            "user"
        )
    )
    by_email: dict[str, Membership] = {}
    for membership in members:
        for address in (membership.user.username, membership.user.email):
            if "@" in address:
                by_email.setdefault(address.lower(), membership)
    emails = [row.cells.get("email", "").strip().lower() for row in sheet.rows]
    switched_off = {
        name.lower()
        for name in get_user_model()
        .objects.filter(is_active=False, username__in=[e for e in emails if e])
        .values_list("username", flat=True)
    }
    leads = {m.pk for m in members if m.role == Role.LEAD}
    rows: list[RowPlan] = []
    keys: dict[int, str] = {}
    for sheet_row, email in zip(sheet.rows, emails, strict=True):
        cells = sheet_row.cells
        first, last = cells.get("first_name", ""), cells.get("last_name", "")
        role = role_from(cells.get("role", ""))
        row = RowPlan(number=sheet_row.number, name=f"{first} {last}".strip() or email)
        rows.append(row)
        keys[row.number] = email
        problems = staff_problems(
            organisation, email=email, first_name=first, last_name=last, role=role
        )
        if "role" in problems:
            given = cells.get("role", "")
            problems["role"] = [f"\u201c{given}\u201d is not one of: {_ROLE_NAMES}."]
        for key, messages in problems.items():
            row.reject(*(f"{sheet.headers.get(key, key)}: {message}" for message in messages))
        row.values = {"email": email, "first_name": first, "last_name": last, "role": role}
        member = by_email.get(email)
        if member is None:
            if email in switched_off:
                row.reject(f"The account {email} has been switched off in Safeshare.")
            elif row.action != Action.REJECTED:
                row.action = Action.CREATE
                row.adds_as = str(Role(role).label)
            continue
        row.match_pk = member.pk
        if row.action == Action.REJECTED:
            continue
        if role == member.role:
            row.action = Action.UNCHANGED
        else:
            row.action = Action.UPDATE
            row.changes = [f"role {member.get_role_display()} \u2192 {Role(role).label}"]
            if role == Role.LEAD:
                leads.add(member.pk)
            else:
                leads.discard(member.pk)
    reject_repeats(rows, keys, "The email address")
    if not leads and not any(
        row.values.get("role") == Role.LEAD and row.action == Action.CREATE for row in rows
    ):
        # Someone must always be able to decide the setting's shares.
        was_lead = {m.pk for m in members if m.role == Role.LEAD}
        for row in rows:
            if row.action == Action.UPDATE and row.match_pk in was_lead:
                row.reject(
                    f"{row.name} is the setting's only lead: the file must make someone "
                    "else the lead first."
                )
    return ImportPlan(rows=rows, unused_headers=sheet.unused_headers)


def apply_order(rows: list[RowPlan], by: Any) -> list[RowPlan]:
    """New leads first (so a lead stepping down is never the last), the importer's own
    membership last (so a lead stepping down can still invite the rest)."""
    own = {m.pk for m in Membership.objects.filter(user=by, ended_at__isnull=True)}

    def rank(row: RowPlan) -> tuple[int, int]:
        return (
            1 if row.match_pk in own else 0,
            0 if row.values.get("role") == Role.LEAD else 1,
        )

    return sorted(rows, key=rank)


def apply_staff_row(organisation: Organisation, by: Any, row: RowPlan) -> Membership | None:
    """Writes one planned row; returns the membership of someone newly invited (whose
    invitation email the caller sends after commit), else None."""
    values = row.values
    if row.match_pk is None:
        return staff_invite(
            organisation=organisation,
            email=values["email"],
            first_name=values["first_name"],
            last_name=values["last_name"],
            role=values["role"],
            by=by,
        )
    membership = Membership.objects.get(pk=row.match_pk, organisation=organisation)
    membership_change_role(membership=membership, role=values["role"], by=by)
    return None
