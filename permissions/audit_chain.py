"""The audit log's hash chain: how an entry's hash is made, how entries are appended in
order, and how the whole chain is checked.

Each entry's hash covers its own content and the previous entry's hash, so changing,
removing, inserting or reordering any entry breaks the chain from that point on. The hash
is unkeyed: someone with database rights who rewrites every later entry too would produce a
consistent chain, which is why the chain head is printed where people keep it (the decision
record, ``verify_audit``) and ``verify_audit --anchor`` checks a head written down earlier.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone

from .models import AuditEntry

GENESIS_HASH = "0" * 64
# Any constant will do: it names the one advisory lock that orders appends on PostgreSQL.
_CHAIN_LOCK_KEY = 7_104_519_883

_HASHED_FIELDS = (
    "sequence",
    "at",
    "actor_id",
    "organisation_id",
    "action",
    "object_type",
    "object_id",
    "case_id",
    "share_id",
    "basis",
    "subject_id",
    "detail",
    "previous_hash",
)


def _canonical(entry: AuditEntry, name: str) -> object:
    # Hash each value as the database will hand it back, not as the caller happened to give
    # it (an id as "7", a naive or non-UTC time), or verify() would report a sound entry as
    # altered.
    field = entry._meta.get_field(name)
    assert isinstance(field, Field)
    value = field.get_prep_value(getattr(entry, name))
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def content_hash(entry: AuditEntry) -> str:
    """SHA-256 of the entry's content, including its place and the hash before it."""
    content = {name: _canonical(entry, name) for name in _HASHED_FIELDS}
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


def _take_chain_lock() -> None:
    # PostgreSQL: appends queue here until the appending transaction ends, so two writers
    # never both extend the same head. SQLite allows one writer at a time anyway.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])


def head() -> tuple[int, str]:
    """The last entry's sequence and hash (0 and the genesis hash for an empty log)."""
    last = AuditEntry.objects.order_by("-sequence").values_list("sequence", "entry_hash").first()
    return last or (0, GENESIS_HASH)


def append(entries: Sequence[AuditEntry]) -> list[AuditEntry]:
    """Add entries at the end of the chain, in the order given."""
    if not entries:
        return []
    with transaction.atomic():
        _take_chain_lock()
        sequence, previous = head()
        # Stamped under the lock, not when the entry was built: an entry built before another
        # was appended must not carry an earlier time than the one before it in the chain.
        now = timezone.now()
        for entry in entries:
            entry.at = now
            sequence += 1
            entry.sequence = sequence
            entry.previous_hash = previous
            entry.entry_hash = previous = content_hash(entry)
        return AuditEntry.objects.bulk_create(entries)


@dataclass(frozen=True)
class ChainFault:
    sequence: int
    message: str


@dataclass(frozen=True)
class ChainReport:
    count: int
    head_sequence: int
    head_hash: str
    fault: ChainFault | None

    @property
    def intact(self) -> bool:
        return self.fault is None


def _walk(entries: Iterable[AuditEntry]) -> ChainReport:
    count, expected, previous = 0, 1, GENESIS_HASH
    for entry in entries:
        if entry.sequence != expected:
            missing = (
                f"entry {expected}"
                if entry.sequence == expected + 1
                else f"entries {expected} to {entry.sequence - 1}"
            )
            fault = ChainFault(
                expected, f"{missing} missing before entry {entry.sequence}: removed."
            )
            return ChainReport(count, expected - 1, previous, fault)
        if content_hash(entry) != entry.entry_hash:
            fault = ChainFault(
                entry.sequence,
                f"entry {entry.sequence} (id {entry.pk}, {entry.action}) does not match its "
                "hash: it was altered, or inserted or moved here.",
            )
            return ChainReport(count, expected - 1, previous, fault)
        if entry.previous_hash != previous:
            fault = ChainFault(
                entry.sequence,
                f"entry {entry.sequence} (id {entry.pk}) does not follow entry "
                f"{entry.sequence - 1}: an entry was inserted, removed or reordered here.",
            )
            return ChainReport(count, expected - 1, previous, fault)
        count, expected, previous = count + 1, expected + 1, entry.entry_hash
    return ChainReport(count, expected - 1, previous, None)


def verify(chunk_size: int = 2000) -> ChainReport:
    """Walk the whole chain in order and report the first entry that breaks it."""
    return _walk(AuditEntry.objects.order_by("sequence").iterator(chunk_size=chunk_size))
