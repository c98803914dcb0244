"""The audit log's hash chains: how an entry's hash is made, how entries are appended in
order, and how every chain is checked.

One chain per setting
    Each entry's hash covers its own content and the previous entry's hash in its chain, so
    changing, removing, inserting or reordering any entry breaks that chain from that point
    on. Every setting has a chain of its own (``AuditEntry.chain`` is the setting's id), with
    its own sequence from 1 and its own PostgreSQL advisory lock: a setting's appends queue
    behind each other only, never behind another setting's, so the log grows as fast as the
    settings together write, not as fast as one lock allows.

The installation chain (key 0)
    Entries already written when the log was split per setting cannot be rewritten (the
    database refuses UPDATE), and need not be: they stay exactly as they were, with their
    sequence and hash, as the start of the installation chain. It goes on with the entries
    of no setting (a sign-in by a username nobody has) and with the chains' own bookkeeping
    below. An installation-chain entry hashes exactly as every entry did before the split;
    a setting chain's entry also hashes its chain's key, so it cannot be moved into another
    chain without breaking. (The key is hashed only when it is not 0, which keeps the old
    entries valid and still gives every chain's content a hash of its own.)

The chain of chain heads
    A chain's own hashes cannot show its last entries cut off, or the whole chain removed:
    nothing later in it is left to disagree. So the installation chain vouches for the
    others. When a setting's chain starts, the same transaction appends to the installation
    chain a ``chain_started`` entry naming the new chain's first entry (``X:1:HASH``): a
    chain removed whole, or one that was never started in the open, is reported. And at most
    every ``HEADS_EVERY``, after an append commits, a ``chain_heads`` entry lists every
    setting chain's head as it then
    stood (``verify_audit --record-heads`` writes one on demand): ``verify`` checks that
    each chain still reaches the last head recorded for it, with that hash, so a tail cut
    off or re-hashed before that moment is reported too. What happened since the last
    record is caught only by a head written down outside the database (``--anchor``), as
    it always was; the installation chain's head, written down just after a
    ``chain_heads`` entry, vouches for every chain at once.

    Why not one entry in the installation chain for every append? That would put every
    setting's appends back behind one lock. A record of heads now and then costs one small
    append, after the commit, with a lock it only tries for.

The hashes are unkeyed: someone with database rights who rewrote a chain and every record
vouching for it would leave no trace inside the database, which is why chain heads are
printed where people keep them (the decision record, ``verify_audit``).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Any

from django.db import connection, transaction
from django.db.models import Field, OuterRef, Subquery
from django.utils import timezone

from cases.models import Organisation

from .models import AuditAction, AuditEntry

GENESIS_HASH = "0" * 64
# The chain key of the installation chain; a setting's chain has the setting's id.
INSTALLATION = 0
# How often, at most, the installation chain records every chain's head by itself (None:
# only on demand): a chain tail cut or re-hashed before then is reported without any head
# written down by hand. More often costs more entries: each lists every setting's head.
HEADS_EVERY: timedelta | None = timedelta(minutes=10)
# How often each process asks whether a record of heads is due: the question costs a query,
# and appends must not pay it every time.
_HEADS_LOOK_SECONDS = 60.0
_next_heads_look = 0.0
# PostgreSQL's two-key advisory locks: this constant, then the chain's key. Any constant will
# do that no other two-key lock uses (the timer sweep's is 0x5AFE).
_LOCK_CLASS = 0x5AFE_A0D1

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
# Set under the chain's lock, when the entry's place is known; everything else is read
# before any lock is taken.
_PLACED_FIELDS = frozenset({"sequence", "at", "previous_hash"})
# The installation chain's records of the other chains.
_BOOKKEEPING = frozenset({AuditAction.CHAIN_STARTED, AuditAction.CHAIN_HEADS})
_ANCHOR = re.compile(r"(?:(installation|[0-9]+):)?([1-9][0-9]*):([0-9a-fA-F]{64})")


def chain_of(organisation_id: Any) -> int:
    """The chain an entry of this setting belongs to (None: the installation chain)."""
    return int(organisation_id) if organisation_id is not None else INSTALLATION


def _canonical(entry: AuditEntry, name: str) -> object:
    # Hash each value as the database will hand it back, not as the caller happened to give
    # it (an id as "7", a naive or non-UTC time), or verify() would report a sound entry as
    # altered.
    model_field = entry._meta.get_field(name)
    assert isinstance(model_field, Field)
    value = model_field.get_prep_value(getattr(entry, name))
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def _content(entry: AuditEntry, names: Iterable[str]) -> dict[str, object]:
    content = {name: _canonical(entry, name) for name in names}
    # Migration 0003 hashes entries of a model from before chains had keys: no key, chain 0.
    chain = int(getattr(entry, "chain", INSTALLATION) or INSTALLATION)
    if chain != INSTALLATION:
        content["chain"] = chain
    return content


def _digest(content: dict[str, object]) -> str:
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


def content_hash(entry: AuditEntry) -> str:
    """SHA-256 of the entry's content, including its place and the hash before it."""
    return _digest(_content(entry, _HASHED_FIELDS))


def _lock_keys(chain: int) -> list[int]:
    # The second key is a 32-bit integer: a setting id beyond it wraps round, which at worst
    # makes two settings share a lock, never one setting's appends race each other.
    return [_LOCK_CLASS, (chain + 2**31) % 2**32 - 2**31]


def _take_lock(chain: int) -> None:
    # PostgreSQL: this chain's appends queue here until the appending transaction ends, so
    # two writers never both extend the same head. SQLite allows one writer at a time anyway.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", _lock_keys(chain))


def hold_chains(organisation_ids: Iterable[int]) -> None:
    """Take these settings' chain locks now, in the order ``append`` takes them: for a
    service that writes one setting's chain and then, later in its transaction, an entry
    in two settings' chains together. Without it, the first write would hold the one lock
    out of that order while the service waits for the other. The locks are re-entrant:
    the appends that follow take them again at no cost."""
    for chain in sorted({chain_of(pk) for pk in organisation_ids}):
        _take_lock(chain)


def _try_lock(chain: int) -> bool:
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", _lock_keys(chain))
        return bool(cursor.fetchone()[0])


def head(chain: int = INSTALLATION) -> tuple[int, str]:
    """A chain's last entry's sequence and hash (0 and the genesis hash for an empty chain)."""
    last = (
        AuditEntry.objects.filter(chain=chain)
        .order_by("-sequence")
        .values_list("sequence", "entry_hash")
        .first()
    )
    return last or (0, GENESIS_HASH)


def _place(chain: int, entries: list[AuditEntry], contents: list[dict[str, object]]) -> int:
    """Give entries their places at the end of ``chain``, whose lock is held; returns the
    sequence the chain had before them."""
    start, previous = head(chain)
    # Stamped under the lock, not when the entry was built: an entry built before another
    # was appended must not carry an earlier time than the one before it in the chain.
    now = timezone.now()
    for sequence, (entry, content) in enumerate(zip(entries, contents, strict=True), start + 1):
        entry.at, entry.sequence, entry.previous_hash = now, sequence, previous
        content.update({name: _canonical(entry, name) for name in _PLACED_FIELDS})
        entry.entry_hash = previous = _digest(content)
    return start


def _chain_started(chain: int, first: AuditEntry) -> AuditEntry:
    return AuditEntry(
        chain=INSTALLATION,
        action=AuditAction.CHAIN_STARTED,
        object_type="organisation",
        object_id=chain,
        basis="system",
        detail=str(Anchor(chain, first.sequence, first.entry_hash)),
    )


def append(entries: Sequence[AuditEntry]) -> list[AuditEntry]:
    """Add entries at the end of their settings' chains (an entry of no setting: the
    installation chain's), in the order given; returns them, saved.

    Call it inside the service's transaction, so the entries and the change stand or fall
    together; each chain's lock is then held until that transaction ends, so call it as
    late in the service as its other work allows. Everything that does not depend on the
    chain's head is done here before any lock is taken.
    """
    if not entries:
        return []
    by_chain: dict[int, list[AuditEntry]] = defaultdict(list)
    for entry in entries:
        entry.chain = chain_of(entry.organisation_id)
        by_chain[entry.chain].append(entry)
    # By identity: an entry not yet saved has no primary key to hash by.
    unplaced = {id(entry): _content(entry, _HASHED_FIELDS) for entry in entries}
    # Settings' chains in ascending order, the installation chain last: every append takes
    # its locks in that one order, so two appends never each hold a lock the other awaits.
    # (Only a transaction appending to several settings in separate calls could take them
    # out of that order, and no service does; PostgreSQL would end one of the two.)
    settings_chains = sorted(chain for chain in by_chain if chain != INSTALLATION)
    installation = by_chain.pop(INSTALLATION, [])
    placed: list[AuditEntry] = []
    # No savepoint of its own: an append that fails fails the service that called it.
    with transaction.atomic(savepoint=False):
        for chain in settings_chains:
            _take_lock(chain)
            chain_entries = by_chain[chain]
            if _place(chain, chain_entries, [unplaced[id(e)] for e in chain_entries]) == 0:
                # The installation chain vouches for the new chain from its first entry.
                installation.append(_chain_started(chain, chain_entries[0]))
            placed += chain_entries
        if installation:
            _take_lock(INSTALLATION)
            contents = [unplaced.get(id(e)) or _content(e, _HASHED_FIELDS) for e in installation]
            _place(INSTALLATION, installation, contents)
            placed += installation
        AuditEntry.objects.bulk_create(placed)
    _look_at_heads_after_commit()
    return list(entries)


# --- Recording every chain's head --------------------------------------------------------


def chain_heads() -> dict[int, tuple[int, str]]:
    """Every setting chain's head, by chain key: its sequence and hash (one index probe per
    setting, however long the chains)."""
    last = AuditEntry.objects.filter(chain=OuterRef("pk")).order_by("-sequence")
    rows = (
        Organisation.objects.order_by("pk")
        .annotate(
            head_sequence=Subquery(last.values("sequence")[:1]),
            head_hash=Subquery(last.values("entry_hash")[:1]),
        )
        .filter(head_sequence__isnull=False)
        .values_list("pk", "head_sequence", "head_hash")
    )
    return {chain: (sequence, digest) for chain, sequence, digest in rows}


def _heads_entry(heads: dict[int, tuple[int, str]]) -> AuditEntry:
    return AuditEntry(
        action=AuditAction.CHAIN_HEADS,
        object_type="installation",
        object_id=INSTALLATION,
        basis="system",
        detail="; ".join(str(Anchor(chain, *place)) for chain, place in sorted(heads.items())),
    )


def _last_heads() -> tuple[datetime, str] | None:
    return (
        AuditEntry.objects.filter(chain=INSTALLATION, action=AuditAction.CHAIN_HEADS)
        .order_by("-sequence")
        .values_list("at", "detail")
        .first()
    )


def record_heads() -> AuditEntry | None:
    """Append to the installation chain every setting chain's head as it stands now (None
    while no setting has a chain). Its hash, written down, vouches for every chain."""
    with transaction.atomic():
        _take_lock(INSTALLATION)
        heads = chain_heads()
        return append([_heads_entry(heads)])[0] if heads else None


def record_heads_if_due() -> AuditEntry | None:
    """Record every chain's head if the last record is ``HEADS_EVERY`` old and a head has
    moved since. Never waits: when another transaction holds the installation chain, it
    will look again later."""
    every = HEADS_EVERY
    if every is None:
        return None
    last = _last_heads()
    if last is not None and timezone.now() - last[0] < every:
        return None
    with transaction.atomic():
        if not _try_lock(INSTALLATION):
            return None
        # Again under the lock: another process may have recorded them since.
        last = _last_heads()
        if last is not None and timezone.now() - last[0] < every:
            return None
        heads = chain_heads()
        entry = _heads_entry(heads)
        if not heads or (last is not None and last[1] == entry.detail):
            return None
        return append([entry])[0]


def _look_at_heads_after_commit() -> None:
    # After the commit, in a transaction of its own: a service never waits on the
    # installation chain for it, nor holds its lock any longer, and if the service rolls
    # back there is nothing new to record. ``robust``: a failure here is logged, never the
    # failure of a page whose own work is done.
    global _next_heads_look
    now = time.monotonic()
    if now < _next_heads_look or HEADS_EVERY is None:
        return
    if not (connection.in_atomic_block or connection.get_autocommit()):
        return  # under manual transaction management: nothing to hook onto
    _next_heads_look = now + _HEADS_LOOK_SECONDS
    transaction.on_commit(record_heads_if_due, robust=True)


# --- Checking every chain ----------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    """A place in a chain and the hash found there: written down by someone, or recorded in
    the installation chain. ``chain`` None: not known, the entry is found by its hash (an
    anchor written as SEQUENCE:HASH, as before the log was split per setting)."""

    chain: int | None
    sequence: int
    digest: str

    def __str__(self) -> str:
        if self.chain is None:
            return f"{self.sequence}:{self.digest}"
        return f"{chain_label(self.chain)}:{self.sequence}:{self.digest}"


def chain_label(chain: int) -> str:
    """How an anchor names a chain: the setting's id, or ``installation``."""
    return "installation" if chain == INSTALLATION else str(chain)


def parse_anchor(text: str) -> Anchor | None:
    """CHAIN:SEQUENCE:HASH (CHAIN a setting's id or ``installation``) or SEQUENCE:HASH."""
    match = _ANCHOR.fullmatch(text.strip())
    if match is None:
        return None
    label, sequence, digest = match.groups()
    chain = None if label is None else INSTALLATION if label == "installation" else int(label)
    return Anchor(chain, int(sequence), digest.lower())


def _recorded(detail: str) -> Iterator[Anchor]:
    for text in detail.split(";"):
        anchor = parse_anchor(text)
        if anchor is not None and anchor.chain:
            yield anchor


@dataclass(frozen=True)
class ChainFault:
    sequence: int
    message: str


@dataclass(frozen=True)
class ChainReport:
    chain: int
    count: int
    head_sequence: int
    head_hash: str
    fault: ChainFault | None

    @property
    def intact(self) -> bool:
        return self.fault is None

    @property
    def head(self) -> Anchor:
        return Anchor(self.chain, self.head_sequence, self.head_hash)


@dataclass(frozen=True)
class AuditReport:
    """Every chain's report, the installation chain first, then settings by id; and the
    anchors written as SEQUENCE:HASH that no chain holds any longer."""

    chains: tuple[ChainReport, ...]
    lost_anchors: tuple[ChainFault, ...] = ()

    @property
    def intact(self) -> bool:
        return not self.lost_anchors and all(report.intact for report in self.chains)

    @property
    def count(self) -> int:
        return sum(report.count for report in self.chains)

    @property
    def fault(self) -> ChainFault | None:
        """The first fault, in the first chain that has one."""
        return next((r.fault for r in self.chains if r.fault is not None), None) or next(
            iter(self.lost_anchors), None
        )

    def chain(self, key: int) -> ChainReport | None:
        return next((report for report in self.chains if report.chain == key), None)


@dataclass
class _Expected:
    """What other records say one chain must hold: sequence -> (hash, who says so)."""

    # Anchors written down, and the chain's start as the installation chain recorded it.
    at: dict[int, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    # Only the furthest head the installation chain recorded, however many records name
    # the chain: a chain that still reaches it, intact, holds every earlier head too.
    recorded: tuple[int, str, str] | None = None

    def add(self, sequence: int, digest: str, source: str) -> None:
        self.at[sequence].append((digest, source))

    def record_head(self, sequence: int, digest: str, source: str) -> None:
        if self.recorded is None or sequence >= self.recorded[0]:
            self.recorded = (sequence, digest, source)

    def hashes_at(self, sequence: int) -> list[tuple[str, str]]:
        found = list(self.at.get(sequence, ()))
        if self.recorded is not None and self.recorded[0] == sequence:
            found.append(self.recorded[1:])
        return found

    def furthest(self) -> tuple[int, str] | None:
        places = [(sequence, said[0][1]) for sequence, said in self.at.items()]
        if self.recorded is not None:
            places.append((self.recorded[0], self.recorded[2]))
        return max(places, default=None)


def _missing(expected: int, found: int) -> str:
    return f"entry {expected}" if found == expected + 1 else f"entries {expected} to {found - 1}"


def _walk(chain: int, entries: Iterable[AuditEntry], expected: _Expected) -> ChainReport:
    count, sequence, previous = 0, 1, GENESIS_HASH

    def broken(at: int, message: str) -> ChainReport:
        return ChainReport(chain, count, sequence - 1, previous, ChainFault(at, message))

    for entry in entries:
        if entry.sequence != sequence:
            gone = _missing(sequence, entry.sequence)
            return broken(sequence, f"{gone} missing before entry {entry.sequence}: removed.")
        if content_hash(entry) != entry.entry_hash:
            return broken(
                entry.sequence,
                f"entry {entry.sequence} (id {entry.pk}, {entry.action}) does not match its "
                "hash: it was altered, or inserted or moved here.",
            )
        if entry.previous_hash != previous:
            return broken(
                entry.sequence,
                f"entry {entry.sequence} (id {entry.pk}) does not follow entry "
                f"{entry.sequence - 1}: an entry was inserted, removed or reordered here.",
            )
        for digest, source in expected.hashes_at(entry.sequence):
            if digest != entry.entry_hash:
                return broken(
                    entry.sequence,
                    f"entry {entry.sequence} no longer carries the hash {source} gives for "
                    "it, so an entry up to it was changed and every later hash rewritten to "
                    "hide it.",
                )
        count, sequence, previous = count + 1, sequence + 1, entry.entry_hash
    furthest = expected.furthest()
    if furthest is not None and furthest[0] >= sequence:
        reaches, source = furthest
        if count == 0:
            return broken(
                1,
                f"the chain holds no entries, but {source} gives it entry {reaches}: the "
                "whole chain was removed.",
            )
        return broken(
            sequence,
            f"{_missing(sequence, reaches + 1)} missing: the chain now ends at entry "
            f"{sequence - 1}, but {source} gives entry {reaches}, so it was cut short.",
        )
    return ChainReport(chain, count, sequence - 1, previous, None)


def _placed(anchors: Iterable[Anchor]) -> tuple[list[Anchor], list[ChainFault]]:
    """Anchors with their chain, those written as SEQUENCE:HASH found by their hash (no two
    entries share one); those no chain holds any longer are faults of no known chain."""
    placed, lost = [], []
    for anchor in anchors:
        if anchor.chain is not None:
            placed.append(anchor)
            continue
        found = (
            AuditEntry.objects.filter(entry_hash=anchor.digest)
            .values_list("chain", flat=True)
            .first()
        )
        if found is None:
            lost.append(
                ChainFault(
                    anchor.sequence,
                    f"no chain holds entry {anchor.sequence} with the hash written down for "
                    "it any longer: the chain that held it was cut short, or an entry up to "
                    "it was changed and every later hash rewritten to hide it.",
                )
            )
        else:
            placed.append(Anchor(found, anchor.sequence, anchor.digest))
    return placed, lost


def verify(anchors: Iterable[Anchor] = (), chunk_size: int = 2000) -> AuditReport:
    """Walk every chain in order and report the first entry that breaks each.

    Each setting chain is also held to what the installation chain recorded of it (its
    start, its heads over time); every chain to the ``anchors`` written down elsewhere.
    """
    placed, lost = _placed(anchors)
    expected: dict[int, _Expected] = defaultdict(_Expected)
    for anchor in placed:
        expected[anchor.chain or INSTALLATION].add(
            anchor.sequence, anchor.digest, "the anchor written down"
        )
    started: set[int] = set()
    reports: list[ChainReport] = []
    stream = AuditEntry.objects.order_by("chain", "sequence").iterator(chunk_size=chunk_size)
    for chain, entries in groupby(stream, key=lambda entry: entry.chain):
        if chain == INSTALLATION:
            entries = _noting_records(entries, started, expected)
        reports.append(_walk(chain, entries, expected[chain]))
    walked = {report.chain for report in reports}
    for chain in sorted(set(expected) - walked):
        reports.append(_walk(chain, (), expected[chain]))
    installation = next((r for r in reports if r.chain == INSTALLATION), None)
    if installation is None or installation.intact:
        # With the installation chain broken, its own fault explains any record missing.
        reports = [_announced(report, started) for report in reports]
    reports.sort(key=lambda report: report.chain)
    return AuditReport(tuple(reports), tuple(lost))


def _noting_records(
    entries: Iterable[AuditEntry], started: set[int], expected: dict[int, _Expected]
) -> Iterator[AuditEntry]:
    """The installation chain's entries, noting what each bookkeeping entry records of the
    other chains. A record counts only once the walk has accepted the entry holding it,
    that is when the walk asks for the entry after it (or finds there is none)."""
    pending: AuditEntry | None = None
    for entry in entries:
        if pending is not None:
            _note(pending, started, expected)
        yield entry
        pending = entry if entry.action in _BOOKKEEPING else None
    if pending is not None:
        _note(pending, started, expected)


def _note(entry: AuditEntry, started: set[int], expected: dict[int, _Expected]) -> None:
    for anchor in _recorded(entry.detail):
        chain = anchor.chain or INSTALLATION
        if entry.action == AuditAction.CHAIN_STARTED:
            started.add(chain)
            source = f"the installation chain's record of its start (entry {entry.sequence})"
            expected[chain].add(anchor.sequence, anchor.digest, source)
        else:
            source = f"the heads recorded in the installation chain's entry {entry.sequence}"
            expected[chain].record_head(anchor.sequence, anchor.digest, source)


def _announced(report: ChainReport, started: set[int]) -> ChainReport:
    if report.chain == INSTALLATION or report.chain in started or report.count == 0:
        return report
    if report.fault is not None and report.fault.sequence <= 1:
        return report
    return ChainReport(
        report.chain,
        report.count,
        report.head_sequence,
        report.head_hash,
        ChainFault(
            1,
            "the installation chain holds no record of this chain starting: the installation "
            "chain was cut short, or this chain was made up.",
        ),
    )
