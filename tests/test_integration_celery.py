"""Escalation through REAL processes: a Celery worker and Celery beat, run as subprocesses
against the real Redis (a db of its own, flushed before and after) and the test's own
PostgreSQL database, emailing through Django's file backend into tmp_path.

1. Beat's timer sweep escalates an overdue urgent share through all three levels and the
   worker emails each person exactly once per level.
2. A worker SIGKILLed in the middle of sending loses nothing and duplicates nothing once
   another worker runs: the dead worker's claim goes stale and beat's
   deliver_pending_notifications has it sent, once.

The worker is another process, so it needs committed rows in a database it can open:
PostgreSQL (transaction=True tests). On SQLite (an in-memory test database) these skip.
"""

from __future__ import annotations

import contextlib
import email
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import choices
from cases.models import Share
from workflows import steps
from workflows.models import Escalation, EscalationLevel, Notification
from workflows.tasks import email_subject as subject_of

from .factories import complete_fields, item

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REPO = Path(__file__).resolve().parent.parent
CELERY = Path(sys.executable).parent / "celery"
REDIS_DB = 15
DEADLINE_SECONDS = 90  # generous: beat sweeps every 3 s and re-sends pending mail every 6 s here
POLL_SECONDS = 0.5
CLAIM_SECONDS = 5  # SAFESHARE_NOTIFICATION_CLAIM_SECONDS for the workers
MESSAGE_SEPARATOR = "\n" + "-" * 79 + "\n"  # what Django's file backend puts after each


# -- processes ------------------------------------------------------------------------------


class Service:
    """A celery subprocess in its own process group, logging to a file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        self.killed = False
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(CELERY), "-A", "config", *args],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: the pool children go with it
            )

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole group (main process and pool children) and reap the main one."""
        self.killed = True
        with contextlib.suppress(ProcessLookupError):  # already gone, with its children
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class Celery:
    """Starts workers and beat against the test database; kills them all at teardown."""

    def __init__(self, env: dict[str, str], tmp_path: Path) -> None:
        self.env = env
        self.tmp_path = tmp_path
        self.services: list[Service] = []

    def _start(self, name: str, args: list[str], **env: str) -> Service:
        service = Service(name, args, {**self.env, **env}, self.tmp_path / f"{name}.log")
        self.services.append(service)
        return service

    def worker(self, name: str, concurrency: int = 2, **env: str) -> Service:
        return self._start(
            name,
            [
                "worker",
                "--loglevel=INFO",
                f"--concurrency={concurrency}",
                f"--hostname={name}@%h",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
            ],
            **env,
        )

    def beat(self) -> Service:
        return self._start(
            "beat",
            [
                "beat",
                "--loglevel=INFO",
                f"--schedule={self.tmp_path / 'celerybeat-schedule'}",
                f"--pidfile={self.tmp_path / 'beat.pid'}",
            ],
        )

    def check_running(self) -> None:
        for service in self.services:
            if not service.killed and not service.alive():
                pytest.fail(f"celery {service.name} exited early:\n{service.tail()}")

    def stop(self) -> None:
        for service in self.services:
            service.kill()

    def report(self) -> None:
        # Captured by pytest, so shown only when the test fails.
        for service in self.services:
            print(f"\n----- last lines of celery {service.name} ({service.log}) -----")
            print(service.tail())


def _database_url() -> str:
    db = connection.settings_dict
    user = quote(db["USER"] or "", safe="")
    password = quote(db["PASSWORD"] or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{credentials}{db['HOST'] or '127.0.0.1'}{port}/{db['NAME']}"


def _dedicated_redis_url() -> str:
    parts = urlsplit(settings.REDIS_URL or "redis://127.0.0.1:6379/0")
    return urlunsplit((parts.scheme, parts.netloc, f"/{REDIS_DB}", "", ""))


@pytest.fixture
def celery(transactional_db: Any, tmp_path: Path) -> Iterator[Celery]:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the worker is another process and must see committed rows")
    import redis

    redis_url = _dedicated_redis_url()
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"needs Redis at {redis_url}: {error}")
    client.flushdb()

    (tmp_path / "mail").mkdir()
    overrides = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONPATH": str(REPO),  # the worker imports tests.blocking_email_backend
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_url,
        "SECRET_KEY": "integration-tests-only",
        "DEBUG": "true",
        "LOG_LEVEL": "INFO",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(tmp_path / "mail"),
        "SAFESHARE_NOTIFICATION_CLAIM_SECONDS": str(CLAIM_SECONDS),
        # Beat's two schedules, shortened from 30 s and 60 s: what is tested is that they
        # run and what they do, not how long a production beat waits between runs.
        "TIMER_SWEEP_SECONDS": "3",
        "PENDING_MAIL_SECONDS": "6",
        "SAFESHARE_TEST_MARKER_DIR": str(tmp_path / "markers"),
    }
    # config.env prefers NAME_FILE to NAME: drop any such file so these values win.
    env = {k: v for k, v in os.environ.items() if k.removesuffix("_FILE") not in overrides}
    processes = Celery({**env, **overrides}, tmp_path)
    try:
        yield processes
    finally:
        processes.stop()  # before pytest-django empties the tables the workers use
        processes.report()
        client.flushdb()
        client.close()


def wait_for(condition: Callable[[], bool], what: str, celery: Celery) -> None:
    """Poll the database (or files) until the condition holds; fail with the state if not."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        celery.check_running()
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {DEADLINE_SECONDS} s waiting for {what}; {_state()}")
        time.sleep(POLL_SECONDS)


def _state() -> str:
    levels = list(Escalation.objects.values_list("level", flat=True))
    notifications = list(
        escalation_notices().values_list("recipient__username", "email_claimed_at", "emailed_at")
    )
    return f"escalations={levels} notifications={notifications}"


# -- the share and the mail -----------------------------------------------------------------


@pytest.fixture
def people(lead: Any, deputy: Any, manager: Any, practitioner: Any) -> dict[str, Any]:
    for role, person in (("lead", lead), ("deputy", deputy), ("manager", manager)):
        person.email = f"{role}@example.org"
        person.save(update_fields=["email"])
    return {"lead": lead, "deputy": deputy, "manager": manager}


def overdue_urgent_share(case: Any, practitioner: Any, recipient: Any) -> Share:
    """An urgent share, submitted for real, then moved back so all three escalations are due."""
    share = steps.submit(
        share=steps.propose(
            case=case,
            user=practitioner,
            fields=complete_fields(recipient, urgency=choices.Urgency.URGENT),
            items=[item()],
        ),
        user=practitioner,
    )
    # The submission told the lead and deputy at once; these tests follow the escalation's
    # notices, so the submission's count as sent (a worker finding them queued sends nothing).
    Notification.objects.filter(share=share).update(emailed_at=timezone.now())
    assert share.escalation_due_at is not None, "the submission sets when it first escalates"
    # The last escalation (the manager's) falls due as long after the deadline as the
    # deadline allowed; move the whole round back so that it was due a minute ago.
    manager_due = share.review_due_at + (share.review_due_at - share.submitted_at)
    shift = manager_due - timezone.now() + timedelta(minutes=1)
    Share.objects.filter(pk=share.pk).update(
        submitted_at=share.submitted_at - shift,
        review_due_at=share.review_due_at - shift,
        escalation_due_at=share.escalation_due_at - shift,
    )
    return share


def sent_messages(mail_dir: Path) -> list[tuple[str, str]]:
    """(recipient, subject) of every message the file backend wrote, one per message."""
    messages = []
    for path in sorted(mail_dir.glob("*.log")):
        for chunk in path.read_text().split(MESSAGE_SEPARATOR):
            if chunk.strip():
                message = email.message_from_string(chunk)
                subject = " ".join(str(message["Subject"]).split())
                messages.append((str(message["To"]), subject))
    return messages


def escalation_notices() -> Any:
    return Notification.objects.filter(escalation__isnull=False)


def expected_messages(notices: Any = None) -> Counter[tuple[str, str]]:
    """What each notification's email should be: to its recipient, under its subject."""
    notices = escalation_notices() if notices is None else notices
    return Counter((n.recipient.email, subject_of(n)) for n in notices.select_related("recipient"))


def all_delivered(mail_dir: Path, count: int) -> Callable[[], bool]:
    def condition() -> bool:
        return (
            Escalation.objects.count() == 3
            and escalation_notices().count() == count
            and not Notification.objects.filter(emailed_at__isnull=True).exists()
            and len(sent_messages(mail_dir)) >= count
        )

    return condition


def assert_each_level_once_and_each_person_emailed_once(
    share: Share, people: dict[str, Any], mail_dir: Path
) -> None:
    escalations = Escalation.objects.filter(share=share)
    assert sorted(escalations.values_list("level", flat=True)) == sorted(
        [EscalationLevel.REMINDER, EscalationLevel.DEPUTIES, EscalationLevel.MANAGER]
    )
    alerted = {
        e.level: sorted(e.notifications.values_list("recipient__email", flat=True))
        for e in escalations
    }
    assert alerted == {
        EscalationLevel.REMINDER: ["lead@example.org"],
        EscalationLevel.DEPUTIES: ["deputy@example.org", "lead@example.org"],
        EscalationLevel.MANAGER: ["manager@example.org"],
    }
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()
    sent = Counter(sent_messages(mail_dir))
    assert sent == expected_messages()  # every notification emailed, none twice
    assert sum(sent.values()) == 4
    # The review itself stays open for whoever decides.
    assert Task.objects.filter(
        process=share.process, flow_task_type="HUMAN", status=STATUS.NEW
    ).exists()


# -- the tests ------------------------------------------------------------------------------


def test_beat_and_a_worker_escalate_an_overdue_share_and_email_each_person_once(
    celery: Celery, tmp_path: Path, case: Any, practitioner: Any, recipient: Any, people: Any
) -> None:
    share = overdue_urgent_share(case, practitioner, recipient)
    mail_dir = tmp_path / "mail"

    celery.worker("worker")
    celery.beat()
    wait_for(all_delivered(mail_dir, 4), "beat's sweep and the worker's deliveries", celery)

    assert_each_level_once_and_each_person_emailed_once(share, people, mail_dir)


def test_a_worker_killed_mid_send_loses_no_email_and_sends_none_twice(
    celery: Celery, tmp_path: Path, case: Any, practitioner: Any, recipient: Any, people: Any
) -> None:
    share = overdue_urgent_share(case, practitioner, recipient)
    mail_dir, markers = tmp_path / "mail", tmp_path / "markers"

    # One pool process whose mail backend hangs: it sweeps, then claims a notification
    # and blocks in the middle of sending it.
    doomed = celery.worker(
        "doomed", concurrency=1, EMAIL_BACKEND="tests.blocking_email_backend.EmailBackend"
    )
    celery.beat()
    claimed = Notification.objects.filter(email_claimed_at__isnull=False, emailed_at__isnull=True)
    wait_for(
        lambda: any(markers.glob("*.marker")) and claimed.exists(),
        "the first worker to claim a notification and start sending it",
        celery,
    )
    # The sweep finished before the send began (one pool process): every level is recorded.
    assert Escalation.objects.count() == 3
    assert escalation_notices().count() == 4
    in_flight = claimed.get()

    doomed.kill()
    assert sent_messages(mail_dir) == []
    in_flight.refresh_from_db()
    assert in_flight.emailed_at is None  # claimed by a worker that no longer exists
    dead_claim = in_flight.email_claimed_at

    # A fresh worker sends what was still queued at once; the dead worker's claim goes
    # stale after CLAIM_SECONDS and beat's deliver_pending_notifications has it sent.
    celery.worker("recovered")
    wait_for(all_delivered(mail_dir, 4), "the recovered worker to deliver everything", celery)

    assert_each_level_once_and_each_person_emailed_once(share, people, mail_dir)
    in_flight.refresh_from_db()
    assert in_flight.emailed_at is not None
    # Retaken only once the dead worker's claim had gone stale.
    assert in_flight.email_claimed_at >= dead_claim + timedelta(seconds=CLAIM_SECONDS)
