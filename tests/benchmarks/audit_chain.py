"""How fast the audit log's hash chains grow, for one setting and for two written at once, and
how long checking them takes.

    .venv/bin/python -m tests.benchmarks.audit_chain [--entries 20000] [--writers 4]
                                                      [--hold-ms 10]

Works in a throwaway test database of its own (SQLite in memory, or PostgreSQL when
DATABASE_URL is set, in ``test_audit_benchmark`` unless TEST_DATABASE_NAME names another),
created and dropped here. Each entry is appended in its own transaction, as an event is in
use, so every figure includes the chain lock, the head lookup and the commit:

- one setting, one writer: appends one after the other;
- then, on PostgreSQL, ``--writers`` threads (each its own connection) at once, all into
  one setting's chain, then half into each of two settings' chains. Each writer keeps its
  transaction open ``--hold-ms`` after appending, as a service does while it finishes its
  work with the chain's lock held: one setting's appends queue behind that, two settings'
  do not queue behind each other.

verify() is timed on its own, then run again under tracemalloc for its peak memory: it
streams the log in chunks, so that peak should not grow with the log.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
import tracemalloc
from collections.abc import Callable
from datetime import date

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from cases.models import Case, Child, Organisation  # noqa: E402
from permissions.audit import record_event  # noqa: E402
from permissions.audit_chain import verify  # noqa: E402
from permissions.models import AuditAction  # noqa: E402


def _case(name: str) -> Case:
    organisation = Organisation.objects.create(name=name)
    child = Child.objects.create(
        organisation=organisation,
        first_name="Test",
        last_name="Child",
        date_of_birth=date(2021, 1, 1),
    )
    return Case.objects.create(child=child, organisation=organisation, reference=f"{name}-1")


def _appends(case: Case, count: int, hold: float) -> Callable[[], None]:
    def work() -> None:
        try:
            for number in range(count):
                with transaction.atomic():
                    record_event(AuditAction.ESCALATION, case, detail=f"benchmark entry {number}")
                    if hold:
                        time.sleep(hold)  # the rest of the service's work, lock held
        finally:
            connection.close()  # this thread's own connection

    return work


def _at_once(cases: list[Case], writers: int, entries: int, hold: float) -> float:
    """Appends per second with ``writers`` threads sharing ``entries`` among ``cases``."""
    threads = [
        threading.Thread(target=_appends(cases[n % len(cases)], entries // writers, hold))
        for n in range(writers)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (entries // writers) * writers / (time.perf_counter() - started)


def run(entries: int, writers: int, hold_ms: float) -> None:
    one = _case("Benchmark Nursery")
    started = time.perf_counter()
    _appends(one, entries, 0)()
    appending = time.perf_counter() - started
    total = entries

    print(f"database:        {connection.vendor}")
    print(f"entries:         {entries}")
    print(f"appends:         {entries / appending:,.0f} per second, one setting, one writer")
    if connection.vendor == "postgresql":
        hold = hold_ms / 1000
        concurrent = max(entries // 4, writers)
        alone = _at_once([one], writers, concurrent, hold)
        pair = _at_once([one, _case("Benchmark School")], writers, concurrent, hold)
        total += 2 * (concurrent // writers) * writers
        held = f"{writers} writers at once, each holding its transaction {hold_ms:g} ms"
        print(f"appends:         {alone:,.0f} per second, one setting, {held}")
        print(f"appends:         {pair:,.0f} per second, two settings, {held}")
    else:
        print("appends at once: PostgreSQL only (SQLite lets one writer at a time)")

    started = time.perf_counter()
    report = verify()
    verifying = time.perf_counter() - started
    assert report.intact, report
    # And each setting chain's start, recorded in the installation chain.
    assert report.count - (report.chain(0).count if report.chain(0) else 0) == total, report

    tracemalloc.start()
    verify()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print(
        f"verify():        {verifying:.2f} s ({report.count / verifying:,.0f} entries per second)"
    )
    print(f"verify() memory: {peak / 1024 / 1024:.1f} MiB at peak (tracemalloc)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--hold-ms", type=float, default=10.0)
    arguments = parser.parse_args()
    if connection.vendor != "sqlite":  # SQLite's test database stays in memory
        # Never the name another test run may be using: creating it here drops what is there.
        test_settings = settings.DATABASES["default"].setdefault("TEST", {})
        # Django fills TEST's NAME with None, so a plain setdefault would not take, and the
        # benchmark would use (and drop) the test suite's own database.
        if not test_settings.get("NAME"):
            test_settings["NAME"] = "test_audit_benchmark"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        run(arguments.entries, arguments.writers, arguments.hold_ms)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
