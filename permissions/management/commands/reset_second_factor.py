from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from permissions.accounts import second_factor


class Command(BaseCommand):
    help = (
        "Remove a person's authenticator app and recovery codes, for the installation's "
        "operator when no lead can (the only lead lost their phone and codes). They set up "
        "a new app at their next sign-in; their sessions end now. Recorded in the audit log."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No account has the username {username!r}.")
        second_factor.reset(user, by=None)
        self.stdout.write(f"{username}'s second factor is reset; they set up a new app at sign-in.")
