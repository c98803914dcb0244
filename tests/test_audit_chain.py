"""The audit log stands up in court.

The database itself refuses to change or remove an entry, whatever path is tried. Someone
with rights on the database can drop those triggers; whatever they then do in raw SQL to a
setting's chain, ``verify_audit`` names that setting and the first entry of its chain that no
longer fits, and leaves the other chains' reports alone. The installation chain vouches for
every setting chain (its start, its heads over time), so a chain removed whole, or cut short
before its heads were recorded, is caught too; a chain head written down earlier
(``--anchor``) catches what happened since.

The tampering runs inside each test's transaction: on PostgreSQL and SQLite alike, dropping
a trigger is undone with everything else when it rolls back, and the fixture checks that it
was. The tests that must commit (a real ``manage.py`` process reads the log; migrations) put
everything back themselves. Appends from several connections at once are in
``tests/test_audit_chain_concurrency.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from cases.models import Organisation, Share
from cases.models.immutable import ImmutableRecordError
from permissions import audit_chain
from permissions.audit_chain import (
    GENESIS_HASH,
    INSTALLATION,
    append,
    content_hash,
    record_heads,
    record_heads_if_due,
    verify,
)
from permissions.models import AuditAction, AuditEntry
from workflows.demo import seed_demo

from .factories import OrganisationFactory
from .seeded import Demo, seeded_once
from .test_integration_celery import _database_url

REPO = Path(__file__).resolve().parent.parent
TABLE = AuditEntry._meta.db_table
FIELDS = [field for field in AuditEntry._meta.concrete_fields if not field.primary_key]
# Far above any real sequence: a stop on the way when renumbering, as places are unique.
ASIDE = 10**9
GUARDS = {
    "postgresql": {"permissions_auditentry_no_update", "permissions_auditentry_no_delete"},
    "sqlite": {
        "permissions_auditentry_no_update",
        "permissions_auditentry_no_delete",
        "permissions_auditentry_no_replace",
    },
}
HEAD = r"(?:installation|[0-9]+):[0-9]+:[0-9a-f]{64}"
INTACT = re.compile(
    r"Audit chain intact: (\d+) entries in (\d+) chains?\.\n"
    rf"((?:[^\n]+: \d+ entries\. Head: {HEAD}\n)*)"
)
CHAIN_LINE = re.compile(rf"([^\n]+): (\d+) entries\. Head: ({HEAD})")
# The fields an entry's hash covered before the log had a chain per setting.
OLD_HASHED_FIELDS = (
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


def triggers() -> dict[str, str]:
    """The triggers on the audit table, by name, each with the SQL that makes it."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger "
                "WHERE tgrelid = %s::regclass AND NOT tgisinternal",
                [TABLE],
            )
        else:
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
                [TABLE],
            )
        return dict(cursor.fetchall())


def sql(statement: str, params: Sequence[Any] = ()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def rows() -> list[tuple[Any, ...]]:
    return list(AuditEntry.objects.order_by("pk").values_list())


def head(chain: int) -> AuditEntry:
    return AuditEntry.objects.filter(chain=chain).order_by("-sequence").first()


class Attacker:
    """Someone with rights on the database itself, working in raw SQL once the triggers are
    gone, and who has read ``permissions.audit_chain`` to re-hash what they change. Every
    place is a chain's key and a sequence in it."""

    def __init__(self) -> None:
        self.dropped: dict[str, str] = {}

    def drop_triggers(self) -> None:
        self.dropped = triggers()
        for name in self.dropped:
            on_table = f" ON {TABLE}" if connection.vendor == "postgresql" else ""
            sql(f"DROP TRIGGER {name}{on_table}")

    def restore_triggers(self) -> None:
        for definition in self.dropped.values():
            sql(definition)

    def entry(self, chain: int, sequence: int) -> AuditEntry:
        return AuditEntry.objects.get(chain=chain, sequence=sequence)

    def alter(self, chain: int, place: int, **columns: Any) -> None:
        assignments = ", ".join(f"{name} = %s" for name in columns)
        sql(
            f"UPDATE {TABLE} SET {assignments} WHERE chain = %s AND sequence = %s",
            [*columns.values(), chain, place],
        )

    def remove(self, chain: int, *sequences: int) -> None:
        for sequence in sequences:
            sql(f"DELETE FROM {TABLE} WHERE chain = %s AND sequence = %s", [chain, sequence])

    def remove_chain(self, chain: int) -> None:
        sql(f"DELETE FROM {TABLE} WHERE chain = %s", [chain])

    def renumber_from(self, chain: int, sequence: int, by: int) -> None:
        for step in (ASIDE, by - ASIDE):
            low = sequence if step == ASIDE else ASIDE
            sql(
                f"UPDATE {TABLE} SET sequence = sequence + %s WHERE chain = %s AND sequence >= %s",
                [step, chain, low],
            )

    def swap_places(self, chain: int, first: int, second: int) -> None:
        for old, new in ((first, ASIDE), (second, first), (ASIDE, second)):
            self.alter(chain, old, sequence=new)

    def swap_contents(self, chain: int, first: int, second: int) -> None:
        one, other = self.entry(chain, first), self.entry(chain, second)
        self.remove(chain, first, second)
        self.insert(copy_of(other, sequence=first))
        self.insert(copy_of(one, sequence=second))

    def insert(self, entry: AuditEntry) -> None:
        columns = ", ".join(field.column for field in FIELDS)
        marks = ", ".join(["%s"] * len(FIELDS))
        values = [
            field.get_db_prep_save(getattr(entry, field.attname), connection) for field in FIELDS
        ]
        sql(f"INSERT INTO {TABLE} ({columns}) VALUES ({marks})", values)

    def rehash(self, chain: int, sequence: int, previous_hash: str | None = None) -> str:
        entry = self.entry(chain, sequence)
        if previous_hash is not None:
            entry.previous_hash = previous_hash
        digest = content_hash(entry)
        self.alter(chain, sequence, previous_hash=entry.previous_hash, entry_hash=digest)
        return digest

    def rehash_from(self, chain: int, sequence: int) -> None:
        """Make every entry of the chain from here on fit again, as a careful forger would."""
        previous = self.entry(chain, sequence - 1).entry_hash if sequence > 1 else GENESIS_HASH
        later = AuditEntry.objects.filter(chain=chain, sequence__gte=sequence)
        for number in list(later.order_by("sequence").values_list("sequence", flat=True)):
            previous = self.rehash(chain, number, previous)


def copy_of(entry: AuditEntry, **changes: Any) -> AuditEntry:
    copy = AuditEntry(**{field.attname: getattr(entry, field.attname) for field in FIELDS})
    for name, value in changes.items():
        setattr(copy, name, value)
    return copy


def anchor_of(entry: AuditEntry) -> str:
    chain = "installation" if entry.chain == INSTALLATION else entry.chain
    return f"{chain}:{entry.sequence}:{entry.entry_hash}"


def verify_audit(*anchors: AuditEntry | str, record: bool = False) -> str:
    out = StringIO()
    arguments = [
        f"--anchor={anchor if isinstance(anchor, str) else anchor_of(anchor)}" for anchor in anchors
    ]
    call_command("verify_audit", *arguments, *(["--record-heads"] if record else []), stdout=out)
    return out.getvalue()


def broken_at(*anchors: AuditEntry | str) -> list[str]:
    """verify_audit's complaint, one line per broken chain."""
    with pytest.raises(CommandError) as refused:
        verify_audit(*anchors)
    assert refused.value.returncode == 1
    return str(refused.value).splitlines()


def the_chain_of(setting: Organisation) -> str:
    return f"Audit chain of {setting.name} (setting {setting.pk}) broken at entry "


def old_hash(entry: AuditEntry) -> str:
    """An entry's hash as it was made before the log had a chain per setting."""
    content = {name: audit_chain._canonical(entry, name) for name in OLD_HASHED_FIELDS}
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


# --- The database refuses changes -----------------------------------------------------------


def test_the_triggers_are_in_place_after_migrating(db: Any) -> None:
    found = triggers()
    assert set(found) == GUARDS[connection.vendor]
    if connection.vendor == "sqlite":
        # An entry may take a sequence another chain already has, never its own chain's.
        assert (
            "chain = NEW.chain AND sequence = NEW.sequence"
            in found["permissions_auditentry_no_replace"]
        )


def _raw_rewrites(pk: int) -> dict[str, tuple[str, list[Any]]]:
    columns = ", ".join(field.column for field in FIELDS)
    copied = ", ".join("%s" if field.name == "detail" else field.column for field in FIELDS)
    insert = f"INSERT INTO {TABLE} (id, {columns}) SELECT id, {copied} FROM {TABLE} WHERE id = %s"
    rewritten = ["Rewritten.", pk]
    statements = {
        "update": (f"UPDATE {TABLE} SET detail = %s WHERE id = %s", rewritten),
        "delete": (f"DELETE FROM {TABLE} WHERE id = %s", [pk]),
        "upsert": (f"{insert} ON CONFLICT (id) DO UPDATE SET detail = excluded.detail", rewritten),
    }
    if connection.vendor == "sqlite":
        # REPLACE deletes the row it collides with, and that delete fires no trigger.
        statements["replace"] = (insert.replace("INSERT", "INSERT OR REPLACE", 1), rewritten)
    return statements


@pytest.mark.parametrize("kind", ["update", "delete", "upsert", "replace"])
def test_the_database_refuses_to_change_or_remove_an_entry_in_raw_sql(
    draft: Share, kind: str
) -> None:
    entry = AuditEntry.objects.get(action=AuditAction.SHARE_CREATED)
    statements = _raw_rewrites(entry.pk)
    if kind not in statements:
        pytest.skip(f"{kind} is SQLite's own")
    before = rows()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        sql(*statements[kind])
    assert rows() == before
    assert verify().intact


def test_the_orm_refuses_to_change_or_remove_an_entry(draft: Share) -> None:
    entry = AuditEntry.objects.get(action=AuditAction.SHARE_CREATED)
    before = rows()
    attempts = {
        "save again": lambda: (setattr(entry, "detail", "Rewritten."), entry.save()),
        "delete": entry.delete,
        "queryset update": lambda: AuditEntry.objects.filter(pk=entry.pk).update(detail="x"),
        "queryset delete": lambda: AuditEntry.objects.filter(pk=entry.pk).delete(),
        "bulk update": lambda: AuditEntry.objects.bulk_update([entry], ["detail"]),
    }
    for name, attempt in attempts.items():
        with pytest.raises(ImmutableRecordError), transaction.atomic():
            attempt()
        assert rows() == before, name


def test_an_entry_is_hashed_as_the_database_returns_it(draft: Share) -> None:
    """An id given as text is stored as a number: the chain must not then call it altered."""
    share = Share.objects.get()
    append(
        [
            AuditEntry(
                organisation_id=str(share.case.organisation_id),
                action=AuditAction.VIEW_SHARE,
                object_type="share",
                object_id=str(share.pk),
                case_id=str(share.case_id),
                share_id=str(share.pk),
            )
        ]
    )
    assert verify().intact


def test_a_malformed_anchor_is_a_usage_error_not_a_crash() -> None:
    for wrong in ("12:not-a-hash", f"oakfield:1:{'a' * 64}", f"0:{'a' * 64}"):
        with pytest.raises(CommandError, match="give an anchor as SETTING:SEQUENCE:HASH"):
            call_command("verify_audit", "--anchor", wrong)
    command = [sys.executable, "manage.py", "verify_audit", "--anchor", "12:not-a-hash"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "give an anchor as SETTING:SEQUENCE:HASH" in done.stderr
    assert "Traceback" not in done.stderr


# --- One chain per setting ------------------------------------------------------------------


def _entry_for(organisation: Organisation | None, detail: str) -> AuditEntry:
    return AuditEntry(
        organisation=organisation,
        action=AuditAction.SIGN_IN_FAILED if organisation is None else AuditAction.SEARCHED,
        object_type="organisation",
        object_id=organisation.pk if organisation else 0,
        detail=detail,
    )


def test_each_setting_has_its_own_chain_and_its_start_is_recorded_in_the_installation_chain(
    oakfield: Organisation, riverside: Organisation
) -> None:
    oak_1, river_1, oak_2 = (
        append([_entry_for(setting, detail)])[0]
        for setting, detail in ((oakfield, "a"), (riverside, "b"), (oakfield, "c"))
    )
    nobody = append([_entry_for(None, "an unknown username")])[0]
    assert [(e.chain, e.sequence) for e in (oak_1, river_1, oak_2)] == [
        (oakfield.pk, 1),
        (riverside.pk, 1),
        (oakfield.pk, 2),
    ]
    assert (oak_1.previous_hash, river_1.previous_hash) == (GENESIS_HASH, GENESIS_HASH)
    assert oak_2.previous_hash == oak_1.entry_hash
    installation = list(AuditEntry.objects.filter(chain=INSTALLATION).order_by("sequence"))
    assert [(e.sequence, e.action, e.object_id, e.detail) for e in installation] == [
        (1, AuditAction.CHAIN_STARTED, oakfield.pk, f"{oakfield.pk}:1:{oak_1.entry_hash}"),
        (2, AuditAction.CHAIN_STARTED, riverside.pk, f"{riverside.pk}:1:{river_1.entry_hash}"),
        (3, AuditAction.SIGN_IN_FAILED, 0, "an unknown username"),
    ]
    assert nobody == installation[2]
    # The bookkeeping is no setting's: no lead reads it in their log.
    assert {e.organisation_id for e in installation} == {None}
    report = verify()
    assert report.intact and report.count == 6
    assert [(r.chain, r.count, r.head_hash) for r in report.chains] == [
        (INSTALLATION, 3, nobody.entry_hash),
        (oakfield.pk, 2, oak_2.entry_hash),
        (riverside.pk, 1, river_1.entry_hash),
    ]


def test_one_append_for_several_settings_extends_each_chain(
    oakfield: Organisation, riverside: Organisation
) -> None:
    """A search across a person's settings (or their sign-in) writes to each chain at once."""
    append([_entry_for(oakfield, "first")])
    given = [_entry_for(riverside, "to riverside"), _entry_for(oakfield, "to oakfield")]
    saved = append(given)
    assert saved == given, "returned in the order given, the chains' bookkeeping left out"
    assert [(e.chain, e.sequence) for e in saved] == [(riverside.pk, 1), (oakfield.pk, 2)]
    assert AuditEntry.objects.filter(chain=INSTALLATION).count() == 2
    assert verify().intact


def test_a_setting_chain_entry_hashes_its_chain_so_it_cannot_be_moved(
    oakfield: Organisation, riverside: Organisation
) -> None:
    [entry] = append([_entry_for(oakfield, "moved?")])
    moved = copy_of(entry, chain=riverside.pk)
    assert content_hash(moved) != entry.entry_hash
    assert content_hash(copy_of(entry, chain=INSTALLATION)) != entry.entry_hash
    # The installation chain hashes as every entry did before the log was split.
    [nobody] = append([_entry_for(None, "an unknown username")])
    assert nobody.entry_hash == old_hash(nobody)
    assert entry.entry_hash != old_hash(entry)


def test_an_entrys_time_is_taken_as_it_joins_the_chain_so_times_never_go_backwards(
    oakfield: Organisation, time_machine: Any
) -> None:
    """An entry built before another was appended (a slow request, a wait for the lock) is
    stamped when it is appended, after the one before it in its chain."""
    time_machine.move_to("2026-03-02 09:00:00+00:00", tick=False)
    built_first = _entry_for(oakfield, "built at 09:00, appended second")
    time_machine.move_to("2026-03-02 09:00:01+00:00", tick=False)
    append([_entry_for(oakfield, "built and appended at 09:00:01")])
    time_machine.move_to("2026-03-02 09:00:02+00:00", tick=False)
    append([built_first])

    times = list(
        AuditEntry.objects.filter(chain=oakfield.pk).order_by("sequence").values_list("at")
    )
    assert times == sorted(times)
    assert built_first.at.isoformat() == "2026-03-02T09:00:02+00:00"
    assert verify().intact


# --- Tampering with the demo's log, behind the triggers' back -------------------------------


Tampering = Callable[[Attacker, int, int], int]


def altered(attacker: Attacker, chain: int, middle: int) -> int:
    attacker.alter(chain, middle, detail="Nothing was shown.")
    return middle


def altered_and_rehashed(attacker: Attacker, chain: int, middle: int) -> int:
    attacker.alter(chain, middle, detail="Nothing was shown.")
    attacker.rehash(chain, middle)
    return middle + 1  # the entry itself fits again; the next one no longer follows it


def removed(attacker: Attacker, chain: int, middle: int) -> int:
    attacker.remove(chain, middle)
    return middle


def removed_and_closed_up(attacker: Attacker, chain: int, middle: int) -> int:
    attacker.remove(chain, middle)
    attacker.renumber_from(chain, middle + 1, by=-1)
    return middle


def forged_and_inserted(attacker: Attacker, chain: int, middle: int) -> int:
    forged = copy_of(
        attacker.entry(chain, middle),
        detail="Seen by the lead.",
        previous_hash=attacker.entry(chain, middle - 1).entry_hash,
    )
    forged.entry_hash = content_hash(forged)
    attacker.renumber_from(chain, middle, by=1)
    attacker.insert(forged)
    return middle + 1  # the forgery fits where it was put; the entry it displaced does not


def swapped_places(attacker: Attacker, chain: int, middle: int) -> int:
    attacker.swap_places(chain, middle, middle + 3)
    return middle


def swapped_contents(attacker: Attacker, chain: int, middle: int) -> int:
    attacker.swap_contents(chain, middle, middle + 3)
    return middle


def moved_to_another_chain(attacker: Attacker, chain: int, middle: int) -> int:
    """An entry taken out of its chain and re-hashed into the installation chain's end."""
    entry = attacker.entry(chain, middle)
    last = head(INSTALLATION)
    attacker.remove(chain, middle)
    moved = copy_of(
        entry, chain=INSTALLATION, sequence=last.sequence + 1, previous_hash=last.entry_hash
    )
    moved.entry_hash = content_hash(moved)
    attacker.insert(moved)
    return middle


TAMPERING: list[Tampering] = [
    altered,
    altered_and_rehashed,
    removed,
    removed_and_closed_up,
    forged_and_inserted,
    swapped_places,
    swapped_contents,
    moved_to_another_chain,
]
SETTINGS = ["Oakfield", "Riverside"]


@pytest.fixture(scope="class")
def seeded(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Demo]:
    # Class-wide, so the demo's transaction is closed before the tests below that commit.
    with seeded_once(django_db_blocker, Demo().seed) as demo:
        yield demo


@pytest.fixture
def demo(db: Any, seeded: Demo) -> Demo:
    return seeded


@pytest.fixture
def attacker(demo: Demo) -> Iterator[Attacker]:
    guards = triggers()
    savepoint = transaction.savepoint()
    attacker = Attacker()
    attacker.drop_triggers()
    yield attacker
    transaction.savepoint_rollback(savepoint)
    assert triggers() == guards, "the triggers dropped by the test are still missing"


class TestTheDemoLog:
    def test_verify_audit_passes_and_prints_every_chains_count_and_head(self, demo: Demo) -> None:
        printed = INTACT.fullmatch(verify_audit())
        assert printed, "verify_audit printed something else"
        chains = AuditEntry.objects.values_list("chain", flat=True).distinct()
        assert printed[1] == str(AuditEntry.objects.count())
        assert int(printed[1]) > 40  # the demo's whole history, not an empty log
        assert printed[2] == str(len(set(chains)))
        lines = {line[0]: line[1:] for line in CHAIN_LINE.findall(printed[3])}
        for name in SETTINGS:
            setting = demo.setting(name)
            last = head(setting.pk)
            assert lines[f"{setting.name} (setting {setting.pk})"] == (
                str(AuditEntry.objects.filter(chain=setting.pk).count()),
                anchor_of(last),
            )
            assert last.sequence >= 5  # the setting's own history, not an empty chain
        assert lines["the installation"][1] == anchor_of(head(INSTALLATION))
        oakfield = demo.setting("Oakfield").pk
        firsts = [AuditEntry.objects.get(chain=oakfield, sequence=1), head(INSTALLATION)]
        assert INTACT.fullmatch(verify_audit(head(oakfield), *firsts))

    @pytest.mark.parametrize("tamper", TAMPERING, ids=[t.__name__ for t in TAMPERING])
    @pytest.mark.parametrize("name", SETTINGS)
    def test_verify_audit_names_the_setting_and_the_first_entry_that_no_longer_fits(
        self, demo: Demo, attacker: Attacker, tamper: Tampering, name: str
    ) -> None:
        setting = demo.setting(name)
        middle = head(setting.pk).sequence // 2
        first_bad = tamper(attacker, setting.pk, middle)
        [error] = broken_at()  # that setting's chain alone: the others are intact
        assert error.startswith(f"{the_chain_of(setting)}{first_bad}: ")
        assert verify().chain(setting.pk).fault.sequence == first_bad

    def test_each_broken_chain_is_reported_with_its_own_first_fault(
        self, demo: Demo, attacker: Attacker
    ) -> None:
        oakfield, riverside = demo.setting("Oakfield"), demo.setting("Riverside")
        altered(attacker, riverside.pk, 4)
        removed(attacker, oakfield.pk, 7)
        altered(attacker, oakfield.pk, 9)  # later in a chain already broken: not its first
        errors = broken_at()
        assert len(errors) == 2
        assert errors[0].startswith(f"{the_chain_of(oakfield)}7: entry 7 missing before ")
        assert errors[1].startswith(f"{the_chain_of(riverside)}4: entry 4 (id ")

    def test_a_fault_in_the_installation_chain_is_reported_as_the_installations(
        self, demo: Demo, attacker: Attacker
    ) -> None:
        attacker.alter(INSTALLATION, 1, detail=f"{demo.setting('Oakfield').pk}:1:{'0' * 64}")
        [error] = broken_at()
        assert error.startswith("Audit chain of the installation broken at entry 1: ")

    # The chain of chain heads: what the installation chain says of the others.

    def test_a_setting_chain_removed_whole_is_reported(
        self, demo: Demo, attacker: Attacker
    ) -> None:
        riverside = demo.setting("Riverside")
        attacker.remove_chain(riverside.pk)
        [error] = broken_at()
        assert error.startswith(f"{the_chain_of(riverside)}1: the chain holds no entries, ")
        assert "the whole chain was removed" in error

    def test_a_setting_chain_nobody_started_is_reported(
        self, demo: Demo, attacker: Attacker
    ) -> None:
        """A chain made up in raw SQL, however well hashed, has no record of its start."""
        made_up = OrganisationFactory(name="Made-up Nursery")
        forged = AuditEntry(
            chain=made_up.pk,
            organisation=made_up,
            sequence=1,
            previous_hash=GENESIS_HASH,
            at=timezone.now(),
            action=AuditAction.SETTING_CREATED,
            object_type="organisation",
            object_id=made_up.pk,
        )
        forged.entry_hash = content_hash(forged)
        attacker.insert(forged)
        [error] = broken_at()
        assert error.startswith(f"{the_chain_of(made_up)}1: the installation chain holds no ")

    def test_the_installation_chain_emptied_leaves_no_setting_chain_vouched_for(
        self, demo: Demo, attacker: Attacker
    ) -> None:
        attacker.remove_chain(INSTALLATION)
        errors = broken_at()
        assert len(errors) == len(SETTINGS)
        for name, error in zip(SETTINGS, errors, strict=True):
            assert error.startswith(f"{the_chain_of(demo.setting(name))}1: ")
            assert "no record of this chain starting" in error

    def test_only_the_anchor_catches_a_chain_cut_short_since_its_heads_were_recorded(
        self, demo: Demo, attacker: Attacker
    ) -> None:
        oakfield = demo.setting("Oakfield")
        written_down = head(oakfield.pk)
        attacker.remove(oakfield.pk, *range(written_down.sequence - 2, written_down.sequence + 1))
        assert INTACT.fullmatch(verify_audit())
        [error] = broken_at(written_down)
        assert error.startswith(f"{the_chain_of(oakfield)}{written_down.sequence - 2}: ")
        assert "cut short" in error and "the anchor written down" in error

    def test_recorded_heads_catch_a_chain_cut_short_without_any_anchor(
        self, demo: Demo, attacker: Attacker
    ) -> None:
        oakfield = demo.setting("Oakfield")
        last = head(oakfield.pk).sequence
        recorded = record_heads()
        assert recorded is not None and f"{oakfield.pk}:{last}:" in recorded.detail
        attacker.remove(oakfield.pk, last - 1, last)
        [error] = broken_at()
        assert error.startswith(f"{the_chain_of(oakfield)}{last - 1}: entries {last - 1} to ")
        assert f"the heads recorded in the installation chain's entry {recorded.sequence}" in (
            error
        )

    def test_recorded_heads_catch_a_chain_rewritten_consistently_without_any_anchor(
        self, demo: Demo, attacker: Attacker
    ) -> None:
        riverside = demo.setting("Riverside")
        last = head(riverside.pk).sequence
        record_heads()
        attacker.alter(riverside.pk, last // 2, detail="Nothing was shown.")
        attacker.rehash_from(riverside.pk, last // 2)
        [error] = broken_at()
        # Found where the record of heads disagrees, the last entry it vouched for.
        assert error.startswith(f"{the_chain_of(riverside)}{last}: entry {last} no longer ")

    def test_only_the_anchors_catch_a_log_emptied(self, demo: Demo, attacker: Attacker) -> None:
        """Every chain emptied, the installation's too (or TRUNCATE, which fires no row
        trigger on PostgreSQL): the heads written down still tell."""
        written_down = [head(demo.setting(name).pk) for name in SETTINGS]
        installation = head(INSTALLATION)
        sql(f"DELETE FROM {TABLE}")
        assert verify_audit().startswith("Audit chain intact: 0 entries in 0 chains.")
        errors = broken_at(*written_down, installation)
        assert len(errors) == 3
        assert errors[0].startswith("Audit chain of the installation broken at entry 1: ")
        for name, error in zip(SETTINGS, errors[1:], strict=True):
            assert error.startswith(f"{the_chain_of(demo.setting(name))}1: ")
            assert "the whole chain was removed" in error

    def test_only_the_anchor_catches_a_chain_cut_short_and_rewritten_consistently(
        self, demo: Demo, attacker: Attacker
    ) -> None:
        oakfield = demo.setting("Oakfield")
        written_down = head(oakfield.pk)
        middle = written_down.sequence // 2
        earlier = attacker.entry(oakfield.pk, middle - 1)
        later = attacker.entry(oakfield.pk, middle + 2)
        attacker.remove(oakfield.pk, written_down.sequence - 1, written_down.sequence)
        attacker.alter(oakfield.pk, middle, detail="Nothing was shown.")
        attacker.rehash_from(oakfield.pk, middle)
        assert INTACT.fullmatch(verify_audit())
        assert INTACT.fullmatch(verify_audit(earlier))  # nothing before the forgery changed
        [error] = broken_at(later)
        assert error.startswith(f"{the_chain_of(oakfield)}{later.sequence}: entry ")
        [error] = broken_at(written_down)
        assert error.startswith(f"{the_chain_of(oakfield)}{written_down.sequence - 1}: ")
        assert "cut short" in error

    def test_an_anchor_written_as_sequence_and_hash_finds_its_chain_by_the_hash(
        self, demo: Demo, attacker: Attacker
    ) -> None:
        """As written down before the log had a chain per setting, and on decision records."""
        riverside = demo.setting("Riverside")
        written_down = head(riverside.pk)
        plain = f"{written_down.sequence}:{written_down.entry_hash}"
        assert INTACT.fullmatch(verify_audit(plain))
        attacker.remove(riverside.pk, written_down.sequence)
        [error] = broken_at(plain)
        assert error.startswith(
            f"Audit chain broken at entry {written_down.sequence} of no chain still found: "
        )
        # Written with its setting, the same anchor names the chain that was cut.
        [error] = broken_at(written_down)
        assert error.startswith(f"{the_chain_of(riverside)}{written_down.sequence}: ")

    def test_an_anchor_at_the_wrong_place_is_refused(self, demo: Demo) -> None:
        oakfield = demo.setting("Oakfield").pk
        entry = head(oakfield)
        [error] = broken_at(f"{oakfield}:{entry.sequence - 1}:{entry.entry_hash}")
        assert "no longer carries the hash the anchor written down gives for it" in error
        [error] = broken_at(f"{entry.sequence - 1}:{entry.entry_hash}")
        assert error.startswith(f"Audit chain of {demo.setting('Oakfield').name} (setting ")

    def test_record_heads_prints_one_line_that_vouches_for_every_chain(
        self, demo: Demo, attacker: Attacker
    ) -> None:
        printed = verify_audit(record=True)
        kept = re.search(r"Keep: (installation:[0-9]+:[0-9a-f]{64})\n$", printed)
        assert kept, printed
        assert INTACT.fullmatch(verify_audit(kept[1]))
        oakfield = demo.setting("Oakfield")
        attacker.remove(oakfield.pk, head(oakfield.pk).sequence)
        [error] = broken_at(kept[1])
        assert error.startswith(the_chain_of(oakfield))


# --- The installation chain records every chain's head --------------------------------------


def test_every_chains_head_is_recorded_when_due_and_a_head_has_moved(
    oakfield: Organisation,
    riverside: Organisation,
    time_machine: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(audit_chain, "HEADS_EVERY", timedelta(minutes=10))
    time_machine.move_to("2026-03-02 09:00:00+00:00", tick=False)
    oak, river = (append([_entry_for(s, "x")])[0] for s in (oakfield, riverside))
    first = record_heads_if_due()
    assert first is not None and first.action == AuditAction.CHAIN_HEADS
    assert (first.chain, first.organisation_id, first.basis) == (INSTALLATION, None, "system")
    assert first.detail == (
        f"{oakfield.pk}:1:{oak.entry_hash}; {riverside.pk}:1:{river.entry_hash}"
    )
    time_machine.move_to("2026-03-02 09:09:59+00:00", tick=False)
    [moved] = append([_entry_for(oakfield, "y")])
    assert record_heads_if_due() is None, "not yet due"
    time_machine.move_to("2026-03-02 09:10:00+00:00", tick=False)
    second = record_heads_if_due()
    assert second is not None
    assert second.detail == (
        f"{oakfield.pk}:2:{moved.entry_hash}; {riverside.pk}:1:{river.entry_hash}"
    )
    time_machine.move_to("2026-03-02 10:00:00+00:00", tick=False)
    assert record_heads_if_due() is None, "nothing moved since"
    assert verify().intact


def test_an_append_looks_whether_heads_are_due_after_its_transaction_commits(
    oakfield: Organisation,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setattr(audit_chain, "HEADS_EVERY", timedelta(minutes=10))
    monkeypatch.setattr(audit_chain, "_next_heads_look", 0.0)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        append([_entry_for(oakfield, "looked")])
        append([_entry_for(oakfield, "not looked again so soon")])
    assert not AuditEntry.objects.filter(action=AuditAction.CHAIN_HEADS).exists()
    assert len(callbacks) == 1
    callbacks[0]()
    recorded = AuditEntry.objects.get(action=AuditAction.CHAIN_HEADS)
    assert recorded.detail == f"{oakfield.pk}:2:{head(oakfield.pk).entry_hash}"


def test_heads_are_recorded_only_on_demand_when_never_due_by_themselves(
    oakfield: Organisation,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setattr(audit_chain, "HEADS_EVERY", None)
    monkeypatch.setattr(audit_chain, "_next_heads_look", 0.0)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        append([_entry_for(oakfield, "not looked")])
    assert callbacks == []
    assert record_heads_if_due() is None
    assert record_heads() is not None


# --- Entries written before the log had a chain per setting ----------------------------------


@pytest.mark.django_db(transaction=True)
def test_entries_written_before_the_split_stay_valid_as_the_installation_chain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Migrating keeps every old entry as it was, and it still verifies: the installation
    chain starts with them; a setting's new entries start the setting's own chain."""
    # Committed appends look whether the heads are due; a record of them landing here
    # would take the sequence this test expects the chain's start to have.
    monkeypatch.setattr(audit_chain, "HEADS_EVERY", None)
    executor = MigrationExecutor(connection)
    before, after = [("permissions", "0009_view_child")], executor.loader.graph.leaf_nodes()
    organisation = OrganisationFactory(name="Older Nursery")
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps.get_model("permissions", "AuditEntry")
        previous, written = GENESIS_HASH, []
        for sequence in (1, 2, 3):
            entry = old(
                sequence=sequence,
                previous_hash=previous,
                organisation_id=organisation.pk,
                action=AuditAction.SETTING_CHANGED,
                object_type="organisation",
                object_id=organisation.pk,
                detail=f"changed before the split, {sequence}",
            )
            entry.entry_hash = previous = old_hash(entry)
            entry.save()
            written.append(entry.entry_hash)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(after)
    assert set(triggers()) == GUARDS[connection.vendor]
    kept = list(AuditEntry.objects.order_by("pk"))
    assert [(e.chain, e.sequence, e.entry_hash) for e in kept] == [
        (INSTALLATION, n, digest) for n, digest in enumerate(written, 1)
    ]
    report = verify()
    assert report.intact and [(r.chain, r.count) for r in report.chains] == [(INSTALLATION, 3)]
    written_down = f"3:{written[2]}"  # as verify_audit printed it before the split
    assert INTACT.fullmatch(verify_audit(written_down))

    [new] = append([_entry_for(organisation, "after the split")])
    assert (new.chain, new.sequence, new.previous_hash) == (organisation.pk, 1, GENESIS_HASH)
    started = head(INSTALLATION)
    assert (started.sequence, started.previous_hash) == (4, written[2])
    assert started.detail == f"{organisation.pk}:1:{new.entry_hash}"
    assert verify().intact
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        sql(f"UPDATE {TABLE} SET detail = 'x' WHERE id = %s", [kept[0].pk])
    empty_the_log()


def empty_the_log() -> None:
    """What a test that committed entries leaves behind, gone: PostgreSQL's flush between
    tests truncates (no row trigger fires), SQLite's deletes, which the log refuses."""
    if connection.vendor == "sqlite":
        attacker = Attacker()
        attacker.drop_triggers()
        try:
            sql(f"DELETE FROM {TABLE}")
        finally:
            attacker.restore_triggers()


# --- Through a real process (PostgreSQL: it must see committed rows) ------------------------


def needs_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: another connection must see this test's committed rows")


def run_verify_audit() -> subprocess.CompletedProcess[str]:
    overrides = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": _database_url(),
        "SECRET_KEY": "audit-chain-tests-only",
        "DEBUG": "true",
    }
    # config.env prefers NAME_FILE to NAME: drop any such file so these values win.
    env = {k: v for k, v in os.environ.items() if k.removesuffix("_FILE") not in overrides}
    return subprocess.run(
        [sys.executable, "manage.py", "verify_audit"],
        cwd=REPO,
        env={**env, **overrides},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.django_db(transaction=True)
def test_verify_audit_exits_0_when_intact_and_1_when_tampered_with() -> None:
    needs_postgresql()
    seed_demo()
    intact = run_verify_audit()
    assert intact.returncode == 0, intact.stderr
    assert INTACT.fullmatch(intact.stdout)
    riverside = Organisation.objects.get(name__startswith="Riverside")
    attacker = Attacker()
    attacker.drop_triggers()
    try:
        attacker.alter(riverside.pk, 3, detail="Nothing was shown.")
    finally:
        attacker.restore_triggers()
    assert set(triggers()) == GUARDS["postgresql"]
    broken = run_verify_audit()
    assert broken.returncode == 1
    assert f"{the_chain_of(riverside)}3: " in broken.stderr
    assert "Oakfield" not in broken.stderr
