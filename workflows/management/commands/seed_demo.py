from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from workflows.demo import seed_demo


class Command(BaseCommand):
    help = "Create the demonstration settings, people, children and shares (safe to run twice)."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = seed_demo()
        self.stdout.write(
            self.style.SUCCESS(
                "Demo ready: {settings} settings, {people} people, {cases} cases, "
                "{shares} shares. Every demo password is 'safeshare-demo'; the lead, deputy, "
                "manager, auditor and otherlead accounts also need the code that "
                "'manage.py demo_code' prints.".format(**counts)
            )
        )
