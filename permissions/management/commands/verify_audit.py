"""Walk the audit log's hash chain and say whether it is intact."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from permissions.audit_chain import verify
from permissions.models import AuditEntry


def _anchor(value: str) -> tuple[int, str]:
    sequence, _, digest = value.partition(":")
    if not sequence.isdigit() or len(digest) != 64:
        raise CommandError("Give an anchor as SEQUENCE:HASH, as printed by an earlier run.")
    return int(sequence), digest.lower()


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
            if held != digest:
                raise CommandError(
                    f"Audit chain broken at entry {sequence}: it no longer carries the hash "
                    "written down for it, so the log was rewritten from there on or cut short."
                )
        self.stdout.write(
            f"Audit chain intact: {report.count} entries. Head: "
            f"{report.head_sequence}:{report.head_hash}"
        )
