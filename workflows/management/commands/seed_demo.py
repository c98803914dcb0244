from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from workflows.demo import seed_demo

CONSENT = "--i-understand-this-creates-demo-accounts"


class Command(BaseCommand):
    help = (
        "Create the demonstration settings, people, children and shares (safe to run twice). "
        "Every demo account has a published password, so outside DEBUG it runs only with "
        f"{CONSENT}."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            CONSENT,
            action="store_true",
            dest="consent",
            help="Create the demo accounts even though DEBUG is off (a demonstration server).",
        )

    def handle(self, *args: Any, consent: bool = False, **options: Any) -> None:
        if not settings.DEBUG and not consent:
            raise CommandError(
                "DEBUG is off, so this looks like a real installation: the demo's accounts "
                "have a published password and authenticator secret, and anyone who has read "
                "the README could sign in with them. For a demonstration server, run it again "
                f"with {CONSENT}. To start for real, use 'manage.py create_setting' (README: "
                "Starting for real)."
            )
        counts = seed_demo()
        self.stdout.write(
            self.style.SUCCESS(
                "Demo ready: {settings} settings, {people} people, {cases} cases, "
                "{shares} shares. Every demo password is 'safeshare-demo'; the lead, deputy, "
                "manager, auditor and otherlead accounts also need the code that "
                "'manage.py demo_code' prints.".format(**counts)
            )
        )
