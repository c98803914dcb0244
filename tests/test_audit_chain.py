"""The audit log stands up in court.

The database itself refuses to change or remove an entry, whatever path is tried. Someone
with rights on the database can drop those triggers; whatever they then do in raw SQL,
``verify_audit`` names the first entry that no longer fits the hash chain, and a chain head
written down earlier (``--anchor``) catches even a log cut short or re-hashed end to end.
Appends from two connections at once still make one contiguous chain.

The tampering runs inside each test's transaction: on PostgreSQL and SQLite alike, dropping
a trigger is undone with everything else when it rolls back, and the fixture checks that it
was. The one test that must commit (a real ``manage.py`` process reads the log) puts the
triggers back itself.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from cases.models import Organisation, Share
from cases.models.immutable import ImmutableRecordError
from permissions.audit_chain import GENESIS_HASH, append, content_hash, verify
from permissions.models import AuditAction, AuditEntry
from workflows.demo import seed_demo

from .factories import OrganisationFactory
from .seeded import Demo, seeded_once
from .test_integration_celery import _database_url

REPO = Path(__file__).resolve().parent.parent
TABLE = AuditEntry._meta.db_table
FIELDS = [field for field in AuditEntry._meta.concrete_fields if not field.primary_key]
# Far above any real sequence: a stop on the way when renumbering, as sequences are unique.
ASIDE = 10**9
GUARDS = {
    "postgresql": {"permissions_auditentry_no_update", "permissions_auditentry_no_delete"},
    "sqlite": {
        "permissions_auditentry_no_update",
        "permissions_auditentry_no_delete",
        "permissions_auditentry_no_replace",
    },
}
INTACT = re.compile(r"Audit chain intact: (\d+) entries\. Head: (\d+):([0-9a-f]{64})\n")


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


def head() -> AuditEntry:
    return AuditEntry.objects.order_by("-sequence").first()


class Attacker:
    """Someone with rights on the database itself, working in raw SQL once the triggers are
    gone, and who has read ``permissions.audit_chain`` to re-hash what they change."""

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

    def entry(self, sequence: int) -> AuditEntry:
        return AuditEntry.objects.get(sequence=sequence)

    def alter(self, sequence: int, **columns: Any) -> None:
        assignments = ", ".join(f"{name} = %s" for name in columns)
        sql(
            f"UPDATE {TABLE} SET {assignments} WHERE sequence = %s",
            [*columns.values(), sequence],
        )

    def remove(self, *sequences: int) -> None:
        for sequence in sequences:
            sql(f"DELETE FROM {TABLE} WHERE sequence = %s", [sequence])

    def renumber_from(self, sequence: int, by: int) -> None:
        sql(f"UPDATE {TABLE} SET sequence = sequence + %s WHERE sequence >= %s", [ASIDE, sequence])
        sql(
            f"UPDATE {TABLE} SET sequence = sequence - %s WHERE sequence >= %s", [ASIDE - by, ASIDE]
        )

    def swap_places(self, first: int, second: int) -> None:
        for old, new in ((first, ASIDE), (second, first), (ASIDE, second)):
            sql(f"UPDATE {TABLE} SET sequence = %s WHERE sequence = %s", [new, old])

    def swap_contents(self, first: int, second: int) -> None:
        one, other = self.entry(first), self.entry(second)
        self.remove(first, second)
        self.insert(copy_of(other, sequence=first))
        self.insert(copy_of(one, sequence=second))

    def insert(self, entry: AuditEntry) -> None:
        columns = ", ".join(field.column for field in FIELDS)
        marks = ", ".join(["%s"] * len(FIELDS))
        values = [
            field.get_db_prep_save(getattr(entry, field.attname), connection) for field in FIELDS
        ]
        sql(f"INSERT INTO {TABLE} ({columns}) VALUES ({marks})", values)

    def rehash(self, sequence: int, previous_hash: str | None = None) -> str:
        entry = self.entry(sequence)
        if previous_hash is not None:
            entry.previous_hash = previous_hash
        digest = content_hash(entry)
        self.alter(sequence, previous_hash=entry.previous_hash, entry_hash=digest)
        return digest

    def rehash_from(self, sequence: int) -> None:
        """Make every entry from here on fit again, as a careful forger would."""
        previous = self.entry(sequence - 1).entry_hash if sequence > 1 else GENESIS_HASH
        later = AuditEntry.objects.filter(sequence__gte=sequence).order_by("sequence")
        for number in list(later.values_list("sequence", flat=True)):
            previous = self.rehash(number, previous)


def copy_of(entry: AuditEntry, **changes: Any) -> AuditEntry:
    copy = AuditEntry(**{field.attname: getattr(entry, field.attname) for field in FIELDS})
    for name, value in changes.items():
        setattr(copy, name, value)
    return copy


def verify_audit(*anchors: AuditEntry) -> str:
    out = StringIO()
    arguments = [f"--anchor={entry.sequence}:{entry.entry_hash}" for entry in anchors]
    call_command("verify_audit", *arguments, stdout=out)
    return out.getvalue()


def broken_at(*anchors: AuditEntry) -> CommandError:
    with pytest.raises(CommandError) as refused:
        verify_audit(*anchors)
    assert refused.value.returncode == 1
    return refused.value


# --- The database refuses changes -----------------------------------------------------------


def test_the_triggers_are_in_place_after_migrating(db: Any) -> None:
    assert set(triggers()) == GUARDS[connection.vendor]


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
    with pytest.raises(CommandError, match="give an anchor as SEQUENCE:HASH"):
        call_command("verify_audit", "--anchor", "12:not-a-hash")
    command = [sys.executable, "manage.py", "verify_audit", "--anchor", "12:not-a-hash"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "give an anchor as SEQUENCE:HASH" in done.stderr
    assert "Traceback" not in done.stderr


# --- Tampering with the demo's log, behind the triggers' back -------------------------------


Tampering = Callable[[Attacker, int], int]


def altered(attacker: Attacker, middle: int) -> int:
    attacker.alter(middle, detail="Nothing was shown.")
    return middle


def altered_and_rehashed(attacker: Attacker, middle: int) -> int:
    attacker.alter(middle, detail="Nothing was shown.")
    attacker.rehash(middle)
    return middle + 1  # the entry itself fits again; the next one no longer follows it


def removed(attacker: Attacker, middle: int) -> int:
    attacker.remove(middle)
    return middle


def removed_and_closed_up(attacker: Attacker, middle: int) -> int:
    attacker.remove(middle)
    attacker.renumber_from(middle + 1, by=-1)
    return middle


def forged_and_inserted(attacker: Attacker, middle: int) -> int:
    forged = copy_of(
        attacker.entry(middle),
        detail="Seen by the lead.",
        previous_hash=attacker.entry(middle - 1).entry_hash,
    )
    forged.entry_hash = content_hash(forged)
    attacker.renumber_from(middle, by=1)
    attacker.insert(forged)
    return middle + 1  # the forgery fits where it was put; the entry it displaced does not


def swapped_places(attacker: Attacker, middle: int) -> int:
    attacker.swap_places(middle, middle + 3)
    return middle


def swapped_contents(attacker: Attacker, middle: int) -> int:
    attacker.swap_contents(middle, middle + 3)
    return middle


TAMPERING: list[Tampering] = [
    altered,
    altered_and_rehashed,
    removed,
    removed_and_closed_up,
    forged_and_inserted,
    swapped_places,
    swapped_contents,
]


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
    def test_verify_audit_passes_and_prints_the_count_and_head(self, demo: Demo) -> None:
        printed = INTACT.fullmatch(verify_audit())
        assert printed, "verify_audit printed something else"
        last = head()
        assert printed.groups() == (
            str(AuditEntry.objects.count()),
            str(last.sequence),
            last.entry_hash,
        )
        assert int(printed[1]) > 40  # the demo's whole history, not an empty log
        assert INTACT.fullmatch(verify_audit(last, AuditEntry.objects.get(sequence=1)))

    @pytest.mark.parametrize("tamper", TAMPERING, ids=[t.__name__ for t in TAMPERING])
    def test_verify_audit_names_the_first_entry_that_no_longer_fits(
        self, attacker: Attacker, tamper: Tampering
    ) -> None:
        middle = head().sequence // 2
        first_bad = tamper(attacker, middle)
        error = broken_at()
        assert str(error).startswith(f"Audit chain broken at entry {first_bad}: ")
        assert verify().fault.sequence == first_bad

    def test_only_the_anchor_catches_a_log_cut_short(self, attacker: Attacker) -> None:
        written_down = head()
        attacker.remove(*range(written_down.sequence - 2, written_down.sequence + 1))
        assert INTACT.fullmatch(verify_audit())
        error = broken_at(written_down)
        assert str(error).startswith(f"Audit chain broken at entry {written_down.sequence}: ")
        assert "cut short" in str(error)

    def test_only_the_anchor_catches_a_log_emptied(self, attacker: Attacker) -> None:
        written_down = head()
        attacker.remove(*range(1, written_down.sequence + 1))
        assert verify_audit().startswith("Audit chain intact: 0 entries.")
        broken_at(written_down)

    def test_only_the_anchor_catches_a_log_cut_short_and_rewritten_consistently(
        self, attacker: Attacker
    ) -> None:
        written_down = head()
        middle = written_down.sequence // 2
        earlier, later = attacker.entry(middle - 1), attacker.entry(middle + 2)
        attacker.remove(written_down.sequence - 1, written_down.sequence)
        attacker.alter(middle, detail="Nothing was shown.")
        attacker.rehash_from(middle)
        assert INTACT.fullmatch(verify_audit())
        assert INTACT.fullmatch(verify_audit(earlier))  # nothing before the forgery changed
        for anchor in (written_down, later):
            error = broken_at(anchor)
            assert str(error).startswith(f"Audit chain broken at entry {anchor.sequence}: ")


# --- Through real processes and connections (PostgreSQL: they must see committed rows) ------


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
    attacker = Attacker()
    attacker.drop_triggers()
    try:
        attacker.alter(3, detail="Nothing was shown.")
    finally:
        attacker.restore_triggers()
    assert set(triggers()) == GUARDS["postgresql"]
    broken = run_verify_audit()
    assert broken.returncode == 1
    assert "Audit chain broken at entry 3: " in broken.stderr


def _entry_for(organisation: Organisation, detail: str) -> AuditEntry:
    return AuditEntry(
        organisation=organisation,
        action=AuditAction.VIEW_CASE,
        object_type="organisation",
        object_id=organisation.pk,
        detail=detail,
    )


def _in_thread(work: Callable[[], None], errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            work()
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_two_writers_appending_at_once_leave_one_contiguous_chain() -> None:
    needs_postgresql()
    organisation = OrganisationFactory()
    start, errors = threading.Barrier(2, timeout=10), []

    def writer(name: str) -> Callable[[], None]:
        def work() -> None:
            start.wait()
            for number in range(25):
                append([_entry_for(organisation, f"{name} {number}")])

        return work

    for thread in [_in_thread(writer(name), errors) for name in ("first", "second")]:
        thread.join(timeout=60)
    assert errors == []
    report = verify()
    assert report.intact and report.count == 50
    assert list(AuditEntry.objects.values_list("sequence", flat=True)) == list(range(1, 51))


@pytest.mark.django_db(transaction=True)
def test_a_writer_waits_while_another_holds_the_chain_head() -> None:
    needs_postgresql()
    organisation = OrganisationFactory()
    appended, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        with transaction.atomic():
            append([_entry_for(organisation, "first")])
            appended.set()
            assert release.wait(10)

    def second() -> None:
        assert appended.wait(10)
        append([_entry_for(organisation, "second")])

    threads = [_in_thread(first, errors)]
    assert appended.wait(10)
    threads.append(_in_thread(second, errors))
    _wait_until_a_connection_waits_for_a_lock()
    release.set()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    one, two = AuditEntry.objects.order_by("sequence")
    assert (one.detail, one.sequence, two.detail, two.sequence) == ("first", 1, "second", 2)
    assert two.previous_hash == one.entry_hash
    assert verify().intact


def _wait_until_a_connection_waits_for_a_lock(seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    query = (
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(query)
            if cursor.fetchone()[0]:
                return
        time.sleep(0.01)
    raise AssertionError("the second writer never waited for the first")


def test_an_entrys_time_is_taken_as_it_joins_the_chain_so_times_never_go_backwards(
    oakfield: Organisation, time_machine: Any
) -> None:
    """An entry built before another was appended (a slow request, a wait for the lock) is
    stamped when it is appended, after the one before it."""
    time_machine.move_to("2026-03-02 09:00:00+00:00", tick=False)
    built_first = _entry_for(oakfield, "built at 09:00, appended second")
    time_machine.move_to("2026-03-02 09:00:01+00:00", tick=False)
    append([_entry_for(oakfield, "built and appended at 09:00:01")])
    time_machine.move_to("2026-03-02 09:00:02+00:00", tick=False)
    append([built_first])

    times = list(AuditEntry.objects.order_by("sequence").values_list("at", flat=True))
    assert times == sorted(times)
    assert built_first.at.isoformat() == "2026-03-02T09:00:02+00:00"
    assert verify().intact
