"""How fast the audit log's hash chain grows and how long checking it takes.

    .venv/bin/python -m tests.benchmarks.audit_chain [--entries 20000]

Works in a throwaway test database of its own (SQLite in memory, or PostgreSQL when
DATABASE_URL is set, in ``test_audit_benchmark`` unless TEST_DATABASE_NAME names another),
created and dropped here. Each entry is appended in its own transaction, as an event is in
use, so the figure includes the chain lock, the head lookup and the commit. verify() is timed
on its own, then run again under tracemalloc for its peak memory: it streams the log in
chunks, so that peak should not grow with the log.
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc
from datetime import date

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from cases.models import Case, Child, Organisation  # noqa: E402
from permissions.audit import record_event  # noqa: E402
from permissions.audit_chain import verify  # noqa: E402
from permissions.models import AuditAction  # noqa: E402


def _case() -> Case:
    organisation = Organisation.objects.create(name="Benchmark Nursery")
    child = Child.objects.create(
        organisation=organisation,
        first_name="Test",
        last_name="Child",
        date_of_birth=date(2021, 1, 1),
    )
    return Case.objects.create(child=child, organisation=organisation, reference="BENCH-1")


def run(entries: int) -> None:
    case = _case()
    started = time.perf_counter()
    for number in range(entries):
        record_event(AuditAction.ESCALATION, case, detail=f"benchmark entry {number}")
    appending = time.perf_counter() - started

    started = time.perf_counter()
    report = verify()
    verifying = time.perf_counter() - started
    assert report.intact and report.count == entries, report

    tracemalloc.start()
    verify()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print(f"database:        {connection.vendor}")
    print(f"entries:         {entries}")
    print(f"appends:         {entries / appending:,.0f} per second ({appending:.1f} s in all)")
    print(f"verify():        {verifying:.2f} s ({entries / verifying:,.0f} entries per second)")
    print(f"verify() memory: {peak / 1024 / 1024:.1f} MiB at peak (tracemalloc)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=20_000)
    arguments = parser.parse_args()
    if connection.vendor != "sqlite":  # SQLite's test database stays in memory
        # Never the name another test run may be using: creating it here drops what is there.
        test_settings = settings.DATABASES["default"].setdefault("TEST", {})
        test_settings.setdefault("NAME", "test_audit_benchmark")
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        run(arguments.entries)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
