from __future__ import annotations

import logging
import os
import sys
import threading
import time

from django.apps import AppConfig

from cases import app_settings

logger = logging.getLogger(__name__)

SWEEP_SECONDS = 30


def _sweep_forever() -> None:
    from .tasks import deliver_pending_notifications, sweep_timers

    while True:
        time.sleep(SWEEP_SECONDS)
        try:
            sweep_timers()
        except Exception:  # a failed sweep must not stop the next one
            logger.exception("Embedded timer sweep failed")
        try:  # what beat does with a worker: send what a mail server that was down left
            deliver_pending_notifications()
        except Exception:
            logger.exception("Embedded delivery of pending notifications failed")


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = "Share workflow"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from permissions.signals import break_glass_taken

        from .notifications.break_glass import alert_leads_to_break_glass

        # permissions never imports workflows: it signals, and the alert is written here.
        break_glass_taken.connect(alert_leads_to_break_glass, dispatch_uid="safeshare-break-glass")
        # Only in the serving process (not runserver's file watcher), and only when no
        # Celery beat is there to do it.
        serving = os.environ.get("RUN_MAIN") == "true" or "--noreload" in sys.argv
        if app_settings.get("SAFESHARE_EMBEDDED_TIMERS") and serving:
            threading.Thread(target=_sweep_forever, name="timer-sweep", daemon=True).start()
            logger.info("Sweeping workflow timers every %s s in this process", SWEEP_SECONDS)
