"""The Celery application. Redis is the broker when REDIS_URL is set.

Without REDIS_URL (the embedded default) tasks run in-process, so the product works on
one machine with nothing else installed.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("safeshare")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
