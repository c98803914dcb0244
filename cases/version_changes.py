"""What changed between two submitted versions of a share, in words a lead reads.

A lead who returned a share must see what the proposer did about it without re-reading
the whole share: each golden-rule field that changed (before and after, as labels, not
codes) and each item added, removed or changed. This works on the frozen snapshots of
``ShareVersion.content`` alone, so it compares what was actually put forward each time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.utils.dateformat import format as format_date
from django.utils.text import capfirst

from . import choices
from .models import Share, ShareVersion
from .services.shares import SHARE_FIELDS

NOT_GIVEN = "Not given"

# Where a field's name on the form says it better than its name in the model.
_FIELD_LABELS: dict[str, str] = {
    "consent_status": "Consent",
    "direction": "Direction",
    "recipient": "Recipient",
    "statutory_gateways": "Statutory gateways",
}

# Computed into the snapshot for reading, never compared on their own.
_DERIVED = {"statutory_gateway_labels"}

# What a lead weighs in an item; how it is to be handled at release is decided later.
_ITEM_FIELDS: tuple[tuple[str, str], ...] = (
    ("category", "Category"),
    ("content", "Content"),
    ("necessity", "Why it is needed"),
    ("is_special_category", "Special category data"),
    ("identifies_third_party", "Identifies someone else"),
    ("third_party_details", "Who it identifies"),
)
_DATE_FIELDS = {"requested_on", "family_informed_on"}
_CATEGORY_LABELS = dict(choices.ItemCategory.choices)


class ItemChangeKind(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True)
class FieldChange:
    """One thing that differs: its label, and its value before and after, in words."""

    label: str
    before: str
    after: str


@dataclass(frozen=True)
class ItemChange:
    """An item added, removed or changed; ``changes`` lists what differs (for an item added
    or removed, everything it held, with the missing side blank)."""

    kind: ItemChangeKind
    # The item's number as the person reading sees it: in the newer version, or for an
    # item removed, in the version it was removed from.
    number: int
    category: str
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True)
class VersionChanges:
    before: ShareVersion
    after: ShareVersion
    fields: tuple[FieldChange, ...]
    items: tuple[ItemChange, ...]

    def __bool__(self) -> bool:
        return bool(self.fields or self.items)


def _field_label(name: str) -> str:
    if name in _FIELD_LABELS:
        return _FIELD_LABELS[name]
    try:
        field = Share._meta.get_field(name)
    except FieldDoesNotExist:
        # A field a later release dropped, still in an older snapshot.
        return capfirst(name.replace("_", " "))
    return capfirst(str(getattr(field, "verbose_name", name)))


def _in_words(value: Any) -> str:
    if value is None or value == "" or value == []:
        return NOT_GIVEN
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(str(part) for part in value)
    return str(value)


def _shown_field(fields: dict[str, Any], name: str) -> str:
    """A share field as the snapshot kept it, in words: the label of a choice, not its code."""
    value = fields.get(name)
    if name == "statutory_gateways" and value:
        value = fields.get("statutory_gateway_labels") or value
    elif value and f"{name}_label" in fields:
        value = fields[f"{name}_label"]
    elif name in _DATE_FIELDS and isinstance(value, str) and value:
        value = format_date(date.fromisoformat(value), "j M Y")
    return _in_words(value)


def _field_names(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Every field either snapshot holds, in the order the share form asks them."""
    present = {
        name for name in (*before, *after) if name not in _DERIVED and not name.endswith("_label")
    }
    known = [name for name in SHARE_FIELDS if name in present]
    return known + sorted(present - set(known))


def field_changes(before: dict[str, Any], after: dict[str, Any]) -> list[FieldChange]:
    """The golden-rule fields whose value differs, in words."""
    changed = []
    for name in _field_names(before, after):
        old, new = before.get(name), after.get(name)
        if name == "statutory_gateways":
            # The same gateways ticked in another order are the same answer.
            old, new = sorted(old or []), sorted(new or [])
        if (old or None) == (new or None):
            continue
        changed.append(
            FieldChange(_field_label(name), _shown_field(before, name), _shown_field(after, name))
        )
    return changed


def _item_value(item: dict[str, Any], name: str) -> str:
    value = item.get(name)
    if name == "category":
        return _CATEGORY_LABELS.get(str(value), _in_words(value))
    if name in ("is_special_category", "identifies_third_party"):
        return _in_words(bool(value))
    return _in_words(value)


def _keyed_items(items: list[dict[str, Any]]) -> dict[Any, tuple[int, dict[str, Any]]]:
    """Items by the id they keep across edits, with their number in that version."""
    # A snapshot item without an id (never expected) is matched by its place instead.
    return {item.get("id") or ("at", n): (n, item) for n, item in enumerate(items, start=1)}


def item_changes(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[ItemChange]:
    """Items added, removed or changed, in the newer version's order, removed ones last."""
    old_items, new_items = _keyed_items(before), _keyed_items(after)
    changes = []
    for key, (number, new) in new_items.items():
        if key not in old_items:
            changes.append(
                ItemChange(
                    ItemChangeKind.ADDED,
                    number,
                    _item_value(new, "category"),
                    tuple(
                        FieldChange(label, "", _item_value(new, name))
                        for name, label in _ITEM_FIELDS
                        if new.get(name) not in (None, "", False)
                    ),
                )
            )
            continue
        old = old_items[key][1]
        differs = tuple(
            FieldChange(label, _item_value(old, name), _item_value(new, name))
            for name, label in _ITEM_FIELDS
            if _item_value(old, name) != _item_value(new, name)
        )
        if differs:
            changes.append(
                ItemChange(ItemChangeKind.CHANGED, number, _item_value(new, "category"), differs)
            )
    for key, (number, old) in old_items.items():
        if key not in new_items:
            changes.append(
                ItemChange(
                    ItemChangeKind.REMOVED,
                    number,
                    _item_value(old, "category"),
                    tuple(
                        FieldChange(label, _item_value(old, name), "")
                        for name, label in _ITEM_FIELDS
                        if old.get(name) not in (None, "", False)
                    ),
                )
            )
    return changes


def version_changes(before: ShareVersion, after: ShareVersion) -> VersionChanges:
    """What changed from one submitted version of a share to a later one."""
    old, new = before.content or {}, after.content or {}
    return VersionChanges(
        before=before,
        after=after,
        fields=tuple(field_changes(old.get("fields") or {}, new.get("fields") or {})),
        items=tuple(item_changes(old.get("items") or [], new.get("items") or [])),
    )
