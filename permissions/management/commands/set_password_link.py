from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from permissions.accounts.passwords import first_password_link


class Command(BaseCommand):
    help = (
        "Print a one-time link with which a person chooses their password (a first password, "
        "or one forgotten when email is not yet set up). It works once, and for "
        "PASSWORD_RESET_TIMEOUT at most."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active account has the username {username!r}.")
        self.stdout.write(first_password_link(user))
