"""How long a 2,000-child MIS export takes to preview and to import.

    .venv/bin/python -m tests.benchmarks.register_import [--children 2000]

Works in a throwaway test database of its own (SQLite in memory, or PostgreSQL when
DATABASE_URL is set, in ``test_register_import_benchmark`` unless TEST_DATABASE_NAME names
another), created and dropped here. The file has every column a children export may carry
and two contacts per child. The preview plans every row against the register; confirming
plans again and writes each child through child_add, one transaction per row, as the page
does. The same file is then previewed and confirmed again: every row unchanged.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402

from cases.choices import Role  # noqa: E402
from cases.identifiers import upn_check_letter  # noqa: E402
from cases.models import Carer, Child, Organisation, RegisterImportKind  # noqa: E402
from cases.register_import import (  # noqa: E402
    register_import_apply,
    register_import_preview,
    register_import_start,
)
from cases.services import membership_start  # noqa: E402

HEADER = [
    "UPN",
    "Legal Forename",
    "Legal Surname",
    "Preferred Forename",
    "DOB",
    "Year Group",
    "NHS Number",
    "Address",
    *(
        f"Contact {n} {what}"
        for n in (1, 2)
        for what in ("Name", "Relationship", "Telephone", "Email", "Parental Responsibility")
    ),
]


def _upn(n: int) -> str:
    twelve = f"{n:012d}"
    return upn_check_letter(twelve) + twelve


def export(children: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for n in range(children):
        writer.writerow(
            [
                _upn(n),
                f"Pupil{n}",
                "Benchmark",
                "",
                f"{1 + n % 28:02d}/{1 + n % 12:02d}/{2014 + n % 7}",
                f"Year {n % 7}",
                "",
                f"{n} Long Lane, Testtown",
                f"Mum{n} Benchmark",
                "Mother",
                "01632 960000",
                f"mum{n}@example.com",
                "Yes",
                f"Dad{n} Benchmark",
                "Father",
                "01632 960001",
                "",
                "Yes",
            ]
        )
    return out.getvalue().encode("utf-8-sig")


def _timed(label: str, data: bytes, organisation: Organisation, lead: object) -> None:
    register_import = register_import_start(
        organisation=organisation,
        kind=RegisterImportKind.CHILDREN,
        by=lead,
        file_name="roll.csv",
        data=data,
    )
    started = time.perf_counter()
    plan = register_import_preview(register_import)
    previewing = time.perf_counter() - started
    started = time.perf_counter()
    outcome = register_import_apply(register_import=register_import, by=lead)
    confirming = time.perf_counter() - started
    print(f"{label}:")
    print(f"  preview:  {previewing:.2f} s  {plan.counts}")
    print(f"  confirm:  {confirming:.2f} s  {outcome.summary}")


def run(children: int) -> None:
    organisation = Organisation.objects.create(name="Benchmark Primary", kind="school")
    lead = get_user_model().objects.create(username="benchmark-lead")
    membership_start(user=lead, organisation=organisation, role=Role.LEAD)
    data = export(children)
    print(f"database: {connection.vendor}")
    print(f"file:     {children} children, {len(data) / 1024:.0f} KiB")
    _timed("first import", data, organisation, lead)
    assert Child.objects.count() == children and Carer.objects.count() == 2 * children
    _timed("same file again", data, organisation, lead)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=2000)
    arguments = parser.parse_args()
    if connection.vendor != "sqlite":  # SQLite's test database stays in memory
        # Never the name another test run may be using: creating it here drops what is there.
        test_settings = settings.DATABASES["default"].setdefault("TEST", {})
        # Django fills TEST's NAME with None, so a plain setdefault would not take, and the
        # benchmark would use (and drop) the test suite's own database.
        if not test_settings.get("NAME"):
            test_settings["NAME"] = "test_register_import_benchmark"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        run(arguments.children)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
