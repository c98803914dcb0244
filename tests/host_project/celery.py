"""The host project's own Celery app, which runs Safeshare's tasks like any other app's."""

from celery import Celery

app = Celery("northshire")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
