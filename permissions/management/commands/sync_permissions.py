from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from permissions.grants import Grant, drift, model_wide_holders, sync_users


def _describe(grant: Grant) -> str:
    return (
        f"user #{grant.user_id} cases.{grant.codename} on {grant.model.__name__} #{grant.object_id}"
    )


class Command(BaseCommand):
    help = (
        "Re-derive every object permission from memberships and case teams and report drift; "
        "--fix brings the grants back in line (each change is written to the audit log)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--fix", action="store_true", help="Grant what is missing, revoke extras."
        )

    def handle(self, *args: Any, fix: bool = False, **options: Any) -> None:
        wide = model_wide_holders()
        for user_id, permission in wide:
            self.stdout.write(f"model-wide: user #{user_id} holds {permission}")
        found = drift()
        for grant in sorted(found.missing, key=_describe):
            self.stdout.write(f"missing: {_describe(grant)}")
        for grant in sorted(found.extra, key=_describe):
            self.stdout.write(f"extra:   {_describe(grant)}")
        summary = f"{len(found.missing)} missing and {len(found.extra)} extra grants"
        if found and fix:
            with transaction.atomic():
                sync_users()
            self.stdout.write(self.style.SUCCESS(f"Fixed {summary}."))
        if wide:
            # Never removed automatically: someone granted these on purpose and must be asked.
            raise CommandError(
                f"{len(wide)} model-wide permissions defeat need-to-know; remove them by hand."
            )
        if found and not fix:
            raise CommandError(f"Drift found: {summary}. Run with --fix to correct it.")
        if not found:
            self.stdout.write(self.style.SUCCESS("No drift: every grant follows the facts."))
