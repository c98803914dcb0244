"""Appends from several connections at once, on PostgreSQL: each setting's chain has a lock of
its own, so one setting's appends never wait on another's, however long the other's
transaction stays open; two appends to one setting's chain still queue, and leave one
contiguous chain.

Each writer is a thread with its own connection, and the tests commit (another connection
must see the rows). Who waits for whom is read from PostgreSQL itself (``pg_locks``,
``pg_stat_activity``) and coordinated with events, never guessed from how long a sleep was.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection, transaction

from cases.models import Organisation
from permissions import audit_chain
from permissions.audit_chain import INSTALLATION, append, verify
from permissions.models import AuditAction, AuditEntry

from .factories import OrganisationFactory

pytestmark = pytest.mark.django_db(transaction=True)
# Far longer than any append takes, far shorter than the test's patience.
BOUND = 5.0


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite lets one writer at a time in any case")


def _entry_for(organisation: Organisation, detail: str) -> AuditEntry:
    return AuditEntry(
        organisation=organisation,
        action=AuditAction.SEARCHED,
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

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _started(*settings: Organisation) -> None:
    """Each setting's chain started, and committed: a chain's first entry also records its
    start in the installation chain, under that chain's lock."""
    for organisation in settings:
        append([_entry_for(organisation, "started")])


def _advisory_locks_held() -> set[int]:
    """The chain keys whose audit lock some connection holds now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 "
            "AND classid = %s AND granted",
            [audit_chain._LOCK_CLASS],
        )
        return {int(objid) for (objid,) in cursor.fetchall()}


def _wait_until_a_connection_waits_for_an_advisory_lock(seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
    )
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(query)
            if cursor.fetchone()[0]:
                return
        time.sleep(0.01)
    raise AssertionError("the second writer never waited for the first")


class _Holder:
    """A writer that appends for a setting, then keeps its transaction (and so the setting's
    chain lock) open until released."""

    def __init__(self, organisation: Organisation, errors: list[BaseException]) -> None:
        self.appended, self.release = threading.Event(), threading.Event()
        self.organisation = organisation
        self.thread = _in_thread(self._work, errors)

    def _work(self) -> None:
        with transaction.atomic():
            append([_entry_for(self.organisation, "held")])
            self.appended.set()
            assert self.release.wait(30), "never released"


def test_two_settings_appends_never_wait_on_each_others_lock() -> None:
    oakfield, riverside = OrganisationFactory(), OrganisationFactory()
    _started(oakfield, riverside)
    errors: list[BaseException] = []
    holder = _Holder(oakfield, errors)
    assert holder.appended.wait(BOUND)
    assert oakfield.pk in _advisory_locks_held(), "the holder keeps Oakfield's chain locked"

    committed = threading.Event()

    def other_setting() -> None:
        append([_entry_for(riverside, "not kept waiting")])  # its own transaction, committed
        committed.set()

    other = _in_thread(other_setting, errors)
    try:
        # Riverside's append commits while Oakfield's transaction is still open.
        assert committed.wait(BOUND), "Riverside's append waited for Oakfield's lock"
        assert not holder.release.is_set() and holder.thread.is_alive()
        assert oakfield.pk in _advisory_locks_held()
        seen = AuditEntry.objects.filter(chain=riverside.pk).values_list("sequence", "detail")
        assert list(seen.order_by("sequence")) == [(1, "started"), (2, "not kept waiting")]
        assert not AuditEntry.objects.filter(detail="held").exists(), "not yet committed"
    finally:
        holder.release.set()
        for thread in (holder.thread, other):
            thread.join(timeout=30)
    assert errors == []
    assert list(
        AuditEntry.objects.filter(chain=oakfield.pk).order_by("sequence").values_list("detail")
    ) == [("started",), ("held",)]
    assert verify().intact


def test_two_appends_to_one_settings_chain_queue_and_follow_each_other() -> None:
    oakfield = OrganisationFactory()
    _started(oakfield)
    errors: list[BaseException] = []
    holder = _Holder(oakfield, errors)
    assert holder.appended.wait(BOUND)
    committed = threading.Event()

    def same_setting() -> None:
        append([_entry_for(oakfield, "second")])
        committed.set()

    second = _in_thread(same_setting, errors)
    try:
        _wait_until_a_connection_waits_for_an_advisory_lock()
        assert not committed.is_set(), "the second append did not wait for the first"
    finally:
        holder.release.set()
    assert committed.wait(BOUND)
    for thread in (holder.thread, second):
        thread.join(timeout=30)
    assert errors == []
    started, held, after = AuditEntry.objects.filter(chain=oakfield.pk).order_by("sequence")
    assert [(e.sequence, e.detail) for e in (started, held, after)] == [
        (1, "started"),
        (2, "held"),
        (3, "second"),
    ]
    assert after.previous_hash == held.entry_hash
    assert held.at <= after.at, "stamped under the lock: a chain's times never go backwards"
    assert verify().intact


def test_a_new_settings_first_append_waits_only_for_the_installation_chain() -> None:
    """Starting a chain records it in the installation chain, in the same transaction: the
    one moment two settings meet. Once started, neither waits for the other (above)."""
    oakfield, riverside = OrganisationFactory(), OrganisationFactory()
    errors: list[BaseException] = []
    holder = _Holder(oakfield, errors)  # Oakfield's chain starts, its record not committed
    assert holder.appended.wait(BOUND)
    assert {oakfield.pk, INSTALLATION} <= _advisory_locks_held()
    committed = threading.Event()

    def start_riverside() -> None:
        append([_entry_for(riverside, "first")])
        committed.set()

    starting = _in_thread(start_riverside, errors)
    try:
        _wait_until_a_connection_waits_for_an_advisory_lock()
        assert not committed.is_set()
    finally:
        holder.release.set()
    assert committed.wait(BOUND)
    for thread in (holder.thread, starting):
        thread.join(timeout=30)
    assert errors == []
    records = AuditEntry.objects.filter(chain=INSTALLATION, action=AuditAction.CHAIN_STARTED)
    assert list(records.order_by("sequence").values_list("sequence", "object_id")) == [
        (1, oakfield.pk),
        (2, riverside.pk),
    ]
    assert verify().intact


@pytest.mark.parametrize("settings", [1, 2], ids=["one setting", "two settings"])
def test_writers_appending_at_once_leave_each_chain_contiguous(settings: int) -> None:
    organisations = [OrganisationFactory() for _ in range(settings)]
    _started(*organisations)
    start, errors = threading.Barrier(4, timeout=10), []

    def writer(name: str, organisation: Organisation) -> Callable[[], None]:
        def work() -> None:
            start.wait()
            for number in range(25):
                append([_entry_for(organisation, f"{name} {number}")])

        return work

    threads = [
        _in_thread(writer(f"writer {n}", organisations[n % settings]), errors) for n in range(4)
    ]
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    report = verify()
    assert report.intact
    per_setting = 100 // settings + 1  # and each chain's first entry
    for organisation in organisations:
        chain = report.chain(organisation.pk)
        assert chain is not None and chain.count == per_setting
        sequences = AuditEntry.objects.filter(chain=organisation.pk).values_list("sequence")
        assert [s for (s,) in sequences.order_by("sequence")] == list(range(1, per_setting + 1))


def test_a_record_of_heads_never_waits_for_the_installation_chain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Recorded after an append commits, with a lock it only tries for: whoever holds the
    installation chain, the page that appended is not kept waiting."""
    monkeypatch.setattr(audit_chain, "HEADS_EVERY", timedelta(minutes=10))
    oakfield, riverside = OrganisationFactory(), OrganisationFactory()
    monkeypatch.setattr(audit_chain, "_next_heads_look", float("inf"))  # not looked at yet
    _started(riverside)
    errors: list[BaseException] = []
    holder = _Holder(oakfield, errors)  # holds the installation chain: Oakfield's start
    assert holder.appended.wait(BOUND)
    assert not AuditEntry.objects.filter(action=AuditAction.CHAIN_HEADS).exists()
    monkeypatch.setattr(audit_chain, "_next_heads_look", 0.0)  # due: none recorded yet
    done = threading.Event()

    def append_then_look() -> None:
        append([_entry_for(riverside, "looked")])
        done.set()

    looking = _in_thread(append_then_look, errors)
    try:
        assert done.wait(BOUND), "the look at the heads waited for the installation chain"
        assert not AuditEntry.objects.filter(action=AuditAction.CHAIN_HEADS).exists()
    finally:
        holder.release.set()
    for thread in (holder.thread, looking):
        thread.join(timeout=30)
    assert errors == []
    # Free again, the installation chain takes the record at the next look.
    assert audit_chain.record_heads_if_due() is not None
    assert verify().intact
