"""Walk every chain of the audit log and say whether each is intact."""

from __future__ import annotations

from argparse import ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cases.models import Organisation
from permissions.audit_chain import (
    INSTALLATION,
    Anchor,
    AuditReport,
    ChainReport,
    parse_anchor,
    record_heads,
    verify,
)


def _anchor(value: str) -> Anchor:
    # argparse turns this error into a usage message (exit status 2), not a traceback.
    anchor = parse_anchor(value)
    if anchor is None:
        raise ArgumentTypeError(
            "give an anchor as SETTING:SEQUENCE:HASH (SETTING a setting's id, or "
            "'installation'), or as SEQUENCE:HASH, as printed by an earlier run or on a "
            "decision record"
        )
    return anchor


def _names(reports: tuple[ChainReport, ...]) -> dict[int, str]:
    """Each chain as people know it: its setting's name and id (a chain whose setting is
    gone, which only tampering can make, by its id alone)."""
    known = dict(
        Organisation.objects.filter(pk__in=[r.chain for r in reports]).values_list("pk", "name")
    )
    return {
        report.chain: (
            "the installation"
            if report.chain == INSTALLATION
            else f"{known.get(report.chain, 'no such setting')} (setting {report.chain})"
        )
        for report in reports
    }


class Command(BaseCommand):
    help = (
        "Check every entry of the audit log against its chain: the installation chain and "
        "one chain per setting. Exits 0 printing each chain's count and head when all are "
        "intact; otherwise exits 1 naming, for each broken chain, the first entry altered, "
        "removed, inserted or reordered."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--anchor",
            action="append",
            default=[],
            type=_anchor,
            metavar="SETTING:SEQUENCE:HASH",
            help=(
                "A chain head written down earlier (kept outside the database): that entry "
                "of that chain must still carry that hash. Catches a chain cut short or "
                "rewritten end to end. SEQUENCE:HASH, as written down before the log had a "
                "chain per setting or on a decision record, finds its chain by the hash."
            ),
        )
        parser.add_argument(
            "--record-heads",
            action="store_true",
            help=(
                "Once every chain is found intact, record every setting chain's head in the "
                "installation chain, and print the installation chain's new head: that one "
                "line, written down, vouches for every chain."
            ),
        )

    def handle(
        self, *args: Any, anchor: list[Anchor], record_heads: bool = False, **options: Any
    ) -> None:
        report = verify(anchor)
        names = _names(report.chains)
        if not report.intact:
            raise CommandError(_faults(report, names))
        self.stdout.write(
            f"Audit chain intact: {report.count} entries in {len(report.chains)} "
            f"chain{'' if len(report.chains) == 1 else 's'}."
        )
        for chain in report.chains:
            self.stdout.write(
                f"{names[chain.chain]}: {chain.count} entries. Head: {chain.head}",
            )
        if record_heads:
            self._record_heads()

    def _record_heads(self) -> None:
        entry = record_heads()
        if entry is None:
            self.stdout.write("No setting has a chain yet: no heads to record.")
            return
        written = Anchor(INSTALLATION, entry.sequence, entry.entry_hash)
        self.stdout.write(
            f"Every setting chain's head recorded in the installation chain. Keep: {written}"
        )


def _faults(report: AuditReport, names: dict[int, str]) -> str:
    lines = [
        f"Audit chain of {names[chain.chain]} broken at entry {chain.fault.sequence}: "
        f"{chain.fault.message}"
        for chain in report.chains
        if chain.fault is not None
    ]
    lines += [
        f"Audit chain broken at entry {lost.sequence} of no chain still found: {lost.message}"
        for lost in report.lost_anchors
    ]
    return "\n".join(lines)
