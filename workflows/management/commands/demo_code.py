from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand
from django_otp.oath import totp

from workflows.demo import DEMO_AUTHENTICATOR_SECRET, demo_authenticator_key


class Command(BaseCommand):
    help = (
        "Print the code the demo accounts' authenticator shows now (demo only: every demo "
        "account that needs a second factor has the same published secret)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        code = totp(bytes.fromhex(demo_authenticator_key()))
        seconds_left = 30 - int(time.time()) % 30
        self.stdout.write(f"{code:06d}  (for {seconds_left} more seconds)")
        self.stderr.write(
            f"Demo secret, for an authenticator app instead: {DEMO_AUTHENTICATOR_SECRET}"
        )
