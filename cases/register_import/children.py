"""Children (with up to two contacts each) from a school MIS export.

Each row is checked by ``child_problems``, the check of the Add and Edit pages, and written by
``child_add`` or ``child_update``. A row is matched to a child of the register by its UPN, or,
without one, by legal names and date of birth. An import never deletes: a child missing from
the file stays on the roll, and a carer the file does not name stays on the child's record
(taking someone with parental responsibility off a safeguarding record is done by hand).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import FieldDoesNotExist

from ..models import Carer, Child, Organisation
from ..services.children import (
    CARER_FIELDS,
    child_add,
    child_problems,
    child_update,
    clean_child_fields,
)
from .plan import Action, ImportPlan, RowPlan, reject_repeats
from .reading import Column, Sheet, parse_date, parse_yes_no

CONTACTS = (1, 2)


def _contact_columns(n: int) -> list[Column]:
    prefix = f"Contact {n}"
    return [
        Column(f"contact{n}_name", f"{prefix} Name", (f"{prefix} Name", f"{prefix} Full Name")),
        Column(f"contact{n}_relationship", f"{prefix} Relationship", (f"{prefix} Relationship",)),
        Column(
            f"contact{n}_phone",
            f"{prefix} Phone",
            (f"{prefix} Phone", f"{prefix} Telephone", f"{prefix} Mobile"),
        ),
        Column(f"contact{n}_email", f"{prefix} Email", (f"{prefix} Email", f"{prefix} E-mail")),
        Column(f"contact{n}_address", f"{prefix} Address", (f"{prefix} Address",)),
        Column(
            f"contact{n}_has_parental_responsibility",
            f"{prefix} Parental Responsibility",
            (f"{prefix} Parental Responsibility", f"{prefix} PR"),
        ),
    ]


COLUMNS: tuple[Column, ...] = (
    Column("unique_pupil_number", "UPN", ("UPN", "Unique Pupil Number")),
    Column(
        "first_name",
        "Legal Forename",
        ("Legal Forename", "Legal First Name", "Forename", "First name", "Given name"),
        required=True,
    ),
    Column(
        "last_name",
        "Legal Surname",
        ("Legal Surname", "Legal Last Name", "Surname", "Last name", "Family name"),
        required=True,
    ),
    Column(
        "known_as",
        "Preferred Forename",
        ("Preferred Forename", "Preferred name", "Preferred First Name", "Known as"),
    ),
    Column("date_of_birth", "DOB", ("DOB", "Date of Birth", "Birth date"), required=True),
    Column(
        "year_group",
        "Year Group",
        ("Year Group", "Year", "Reg Group", "Registration Group", "Room", "Class"),
    ),
    Column("nhs_number", "NHS Number", ("NHS Number", "NHS No")),
    Column("address", "Address", ("Address", "Home Address")),
    *(column for n in CONTACTS for column in _contact_columns(n)),
)
# Blank in the file never erases these: a nursery's MIS often lacks them, and a setting that
# added one by hand keeps it.
_KEPT_WHEN_BLANK = ("unique_pupil_number", "nhs_number")
_CHILD_COLUMNS = ("known_as", "year_group", "nhs_number", "address", "unique_pupil_number")


def _names_key(first: str, last: str, born: Any) -> tuple[str, str, Any]:
    return first.strip().casefold(), last.strip().casefold(), born


class _Register:
    """The setting's children as they are now, read once for the whole file."""

    def __init__(self, organisation: Organisation) -> None:
        children = list(Child.objects.filter(organisation=organisation).prefetch_related("carers"))
        self.by_pk = {child.pk: child for child in children}
        self.by_upn = {c.unique_pupil_number: c for c in children if c.unique_pupil_number}
        self.by_names: dict[tuple[str, str, Any], list[Child]] = defaultdict(list)
        for child in children:
            key = _names_key(child.first_name, child.last_name, child.date_of_birth)
            self.by_names[key].append(child)

    def match(self, fields: Mapping[str, Any]) -> tuple[Child | None, str]:
        """The child this row is about, or None for a new one; or a reason it cannot say."""
        upn = fields.get("unique_pupil_number") or ""
        if upn and upn in self.by_upn:
            return self.by_upn[upn], ""
        same = self.by_names.get(
            _names_key(
                fields.get("first_name") or "",
                fields.get("last_name") or "",
                fields.get("date_of_birth"),
            ),
            [],
        )
        if upn:
            # A new UPN for a child added by hand without one; a child with another UPN is
            # someone else of the same name and birthday.
            same = [child for child in same if not child.unique_pupil_number]
        if len(same) > 1:
            return None, (
                f"{len(same)} children on the register have this name and date of birth: "
                "add the UPN to say which."
            )
        return (same[0] if same else None), ""


def _carer_values(carer: Carer) -> dict[str, Any]:
    return {"pk": carer.pk, **{key: getattr(carer, key) for key in CARER_FIELDS}}


def carers_after(child: Child | None, from_file: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The carers the child will have: the file's contacts, then those the file does not
    name, kept as they are."""
    if child is None:
        return list(from_file)
    named = {str(carer.get("name", "")).strip().casefold() for carer in from_file}
    kept = [_carer_values(c) for c in child.carers.all() if c.name.casefold() not in named]
    return [*from_file, *kept]


def _read_row(
    cells: Mapping[str, str], headers: Mapping[str, str]
) -> tuple[dict[str, Any], list[dict[str, Any]], list[int], dict[str, str]]:
    """The row's child fields, its contacts (with the contact number of each) and what
    could not be read, keyed by field."""
    unreadable: dict[str, str] = {}
    fields: dict[str, Any] = {
        "first_name": cells.get("first_name", ""),
        "last_name": cells.get("last_name", ""),
    }
    for key in _CHILD_COLUMNS:
        if key in headers:
            fields[key] = cells.get(key, "")
    born = cells.get("date_of_birth", "")
    if born:
        try:
            fields["date_of_birth"] = parse_date(born)
        except ValueError as error:
            unreadable["date_of_birth"] = str(error)
    carers, numbers = [], []
    for n in CONTACTS:
        given: dict[str, Any] = {
            key: cells[f"contact{n}_{key}"] for key in CARER_FIELDS if f"contact{n}_{key}" in cells
        }
        if not any(given.values()):
            continue
        if "has_parental_responsibility" in given:
            try:
                given["has_parental_responsibility"] = parse_yes_no(
                    given["has_parental_responsibility"]
                )
            except ValueError as error:
                unreadable[f"contact{n}_has_parental_responsibility"] = str(error)
                del given["has_parental_responsibility"]
        carers.append(given)
        numbers.append(n)
    return clean_child_fields(fields), carers, numbers, unreadable


def _changes(child: Child, fields: Mapping[str, Any], carers: list[dict[str, Any]]) -> list[str]:
    changed = [
        str(getattr(Child._meta.get_field(key), "verbose_name", key))
        for key, value in fields.items()
        if getattr(child, key) != value
    ]
    existing = {carer.name.casefold(): carer for carer in child.carers.all()}
    for given in carers:
        carer = existing.get(str(given.get("name", "")).strip().casefold())
        values = {k: v.strip() if isinstance(v, str) else v for k, v in given.items()}
        if carer is None or any(
            getattr(carer, key) != value for key, value in values.items() if key != "pk"
        ):
            changed.append("carers")
            break
    return changed


def _label(key: str, headers: Mapping[str, str], contact_numbers: list[int]) -> str:
    if key.startswith("carer_"):
        _, index, field = key.split("_", 2)
        if int(index) < len(contact_numbers):
            n = contact_numbers[int(index)]
            return headers.get(f"contact{n}_{field}", f"Contact {n} {field.replace('_', ' ')}")
        return "A carer on the register"
    if key in headers:
        # The column as the file names it (a contact's column is no field of a child).
        return headers[key]
    try:
        return str(getattr(Child._meta.get_field(key), "verbose_name", key)).capitalize()
    except FieldDoesNotExist:
        return key.replace("_", " ").capitalize()


def plan_children(organisation: Organisation, sheet: Sheet) -> ImportPlan:
    register = _Register(organisation)
    has_contacts = any(key.startswith("contact") for key in sheet.headers)
    rows: list[RowPlan] = []
    upns: dict[int, str] = {}
    matched: dict[int, list[RowPlan]] = defaultdict(list)
    for sheet_row in sheet.rows:
        fields, carers, numbers, unreadable = _read_row(sheet_row.cells, sheet.headers)
        name = f"{fields['first_name']} {fields['last_name']}".strip() or "(no name given)"
        row = RowPlan(number=sheet_row.number, name=name)
        rows.append(row)
        if fields.get("unique_pupil_number"):
            upns[row.number] = fields["unique_pupil_number"]
        child, ambiguous = register.match(fields)
        if ambiguous:
            row.reject(ambiguous)
        if child is not None:
            for key in _KEPT_WHEN_BLANK:
                if key in fields and not fields[key]:
                    del fields[key]
            matched[child.pk].append(row)
        all_carers = carers_after(child, carers) if has_contacts else []
        problems = child_problems(organisation, fields, all_carers, child=child)
        for key, message in unreadable.items():
            problems[key] = [message]
        for key, messages in problems.items():
            row.reject(*(f"{_label(key, sheet.headers, numbers)}: {m}" for m in messages))
        row.values = {"fields": fields, "carers": carers if has_contacts else None}
        if child is not None:
            row.match_pk = child.pk
            if row.action != Action.REJECTED:
                row.changes = _changes(child, fields, carers)
                row.action = Action.UPDATE if row.changes else Action.UNCHANGED
    reject_repeats(rows, upns, "UPN")
    for child_pk, same in matched.items():
        # Rows sharing one UPN are already refused for it.
        shared = {upns.get(row.number, "") for row in same}
        if len(same) > 1 and (len(shared) > 1 or "" in shared):
            for row in same:
                others = ", ".join(str(o.number) for o in same if o is not row)
                row.reject(
                    f"Rows {row.number} and {others} are both {register.by_pk[child_pk]} "
                    "on the register: keep one."
                )
    return ImportPlan(rows=rows, unused_headers=sheet.unused_headers)


def apply_child_row(organisation: Organisation, by: Any, row: RowPlan) -> bool:
    """Writes one planned row through the register's services (which check it again, under
    the row's lock); returns whether anything changed."""
    fields: dict[str, Any] = row.values["fields"]
    carers: list[dict[str, Any]] | None = row.values["carers"]
    if row.match_pk is None:
        child_add(organisation=organisation, by=by, fields=fields, carers=carers or ())
        return True
    child = Child.objects.prefetch_related("carers").get(pk=row.match_pk)
    _, changed = child_update(
        child=child,
        by=by,
        fields=fields,
        carers=carers_after(child, carers) if carers is not None else None,
    )
    return changed
