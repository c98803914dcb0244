"""Walk the audit log's hash chain and say whether it is intact."""

from __future__ import annotations

import re
from argparse import ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from permissions.audit_chain import verify
from permissions.models import AuditEntry

_ANCHOR = re.compile(r"([1-9][0-9]*):([0-9a-fA-F]{64})")


def _anchor(value: str) -> tuple[int, str]:
    # argparse turns this error into a usage message (exit status 2), not a traceback.
    match = _ANCHOR.fullmatch(value.strip())
    if match is None:
        raise ArgumentTypeError("give an anchor as SEQUENCE:HASH, as printed by an earlier run")
    return int(match[1]), match[2].lower()


class Command(BaseCommand):
    help = (
        "Check every entry of the audit log against the hash chain. Exits 0 with the count "
        "when intact; otherwise exits 1 naming the first entry altered, removed, inserted "
        "or reordered."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--anchor",
            action="append",
            default=[],
            type=_anchor,
            metavar="SEQUENCE:HASH",
            help=(
                "A chain head written down earlier (kept outside the database): the entry at "
                "that place must still carry that hash. Catches a chain rewritten end to end."
            ),
        )

    def handle(self, *args: Any, anchor: list[tuple[int, str]], **options: Any) -> None:
        report = verify()
        if report.fault is not None:
            raise CommandError(
                f"Audit chain broken at entry {report.fault.sequence}: {report.fault.message}"
            )
        for sequence, digest in anchor:
            held = (
                AuditEntry.objects.filter(sequence=sequence)
                .values_list("entry_hash", flat=True)
                .first()
            )
            if held is None:
                raise CommandError(
                    f"Audit chain broken at entry {sequence}: the entry written down is no "
                    f"longer there (the log now ends at entry {report.head_sequence}), so the log "
                    "was cut short."
                )
            if held != digest:
                raise CommandError(
                    f"Audit chain broken at entry {sequence}: it no longer carries the hash "
                    "written down for it, so an entry up to it was changed and every later "
                    "hash rewritten to hide it."
                )
        self.stdout.write(
            f"Audit chain intact: {report.count} entries. Head: "
            f"{report.head_sequence}:{report.head_hash}"
        )
