"""What an import would do, row by row: the preview shows it, and confirming works it out
again from the register as it is then and applies it."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import models


class Action(models.TextChoices):
    CREATE = "create", "Add"
    UPDATE = "update", "Update"
    UNCHANGED = "unchanged", "No change"
    REJECTED = "rejected", "Not imported"


@dataclass
class RowPlan:
    number: int
    name: str
    action: str = Action.CREATE
    reasons: list[str] = field(default_factory=list)
    # For an update, what changes, in the register's own words.
    changes: list[str] = field(default_factory=list)
    # What applying needs: the row's values and the record it matched, if any.
    values: dict[str, Any] = field(default_factory=dict)
    match_pk: int | None = None
    # For a new record, what it is added as when that matters (a new member of staff's
    # role: the lead must see who would become a lead before confirming).
    adds_as: str = ""

    def reject(self, *reasons: str) -> None:
        self.action = Action.REJECTED
        self.reasons.extend(reason for reason in reasons if reason not in self.reasons)

    @property
    def what_happens(self) -> str:
        if self.action == Action.UPDATE and self.changes:
            return f"Update: {', '.join(self.changes)}"
        if self.action == Action.CREATE and self.adds_as:
            return f"Add as {self.adds_as}"
        return str(Action(self.action).label)


@dataclass
class ImportPlan:
    rows: list[RowPlan]
    unused_headers: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(row.action for row in self.rows)
        return {action: counted.get(action, 0) for action in Action.values}

    def to_apply(self) -> list[RowPlan]:
        return [row for row in self.rows if row.action in (Action.CREATE, Action.UPDATE)]


def reject_repeats(rows: list[RowPlan], key_of: dict[int, str], what: str) -> None:
    """A key (a UPN, an email) on two rows of one file: which row is right is the file's
    author's to say, so every row carrying it is refused, each naming the others."""
    rows_by_key: dict[str, list[RowPlan]] = defaultdict(list)
    for row in rows:
        key = key_of.get(row.number)
        if key:
            rows_by_key[key].append(row)
    for key, same in rows_by_key.items():
        if len(same) < 2:
            continue
        for row in same:
            others = ", ".join(str(other.number) for other in same if other is not row)
            row.reject(f"{what} {key} is also on row {others}: keep it on one row only.")


def summary_in_words(kind_label: str, counts: dict[str, int]) -> str:
    return (
        f"{kind_label} import: {counts.get(Action.CREATE, 0)} added, "
        f"{counts.get(Action.UPDATE, 0)} updated, {counts.get(Action.UNCHANGED, 0)} unchanged, "
        f"{counts.get(Action.REJECTED, 0)} not imported."
    )
