"""Test-only email backend that starts a send and never finishes it.

The integration tests point a real Celery worker's EMAIL_BACKEND here so they can kill the
worker in the middle of a delivery: ``send_messages`` leaves a marker file (in the folder
named by SAFESHARE_TEST_MARKER_DIR) to say that a notification has been claimed and its
email is "on the wire", then blocks. Nothing is ever sent.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from django.core.mail.backends.base import BaseEmailBackend

# Long enough for any test to kill the worker; bounded so a forgotten worker ends by itself.
BLOCK_SECONDS = 120


class EmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Any) -> int:
        marker_dir = Path(os.environ["SAFESHARE_TEST_MARKER_DIR"])
        marker_dir.mkdir(parents=True, exist_ok=True)
        recipients = ",".join(address for message in email_messages for address in message.to)
        (marker_dir / f"sending-{os.getpid()}.marker").write_text(recipients)
        deadline = time.monotonic() + BLOCK_SECONDS
        while time.monotonic() < deadline:
            time.sleep(0.2)
        raise OSError("the blocking test backend was never killed")
