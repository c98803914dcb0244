"""Services failing under real processes (issue 11, parts 4 and 5).

1. Redis (broker and cache: a private redis-server this test starts on a port of its own)
   is killed while signed-in people browse and write: no page answers 500, every write is
   kept, and once Redis is back a worker delivers every notification exactly once.
2. The mail server (a tiny SMTP server this test runs on 127.0.0.1) is slow, then down,
   while a worker is killed in the middle of sending: each email arrives exactly once.
3. A worker killed in the middle of a timer sweep does not hold up the next sweep.

Workers are real Celery processes (tests/test_integration_celery.py's helpers) on the
test's PostgreSQL database; on SQLite these skip.
"""

from __future__ import annotations

import contextlib
import email
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.models import F, Q
from django.test import Client

from config.celery import app as celery_app
from permissions.models import BreakGlassGrant
from workflows.models import Notification, NotificationKind
from workflows.tasks import deliver_pending_notifications, sweep_timers

from .http_helpers import form_data, url
from .test_integration_celery import (
    REPO,
    Celery,
    _database_url,
    expected_messages,
    overdue_urgent_share,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CLAIM_SECONDS = 1  # a claim this old is retaken: far shorter than a slow send here
DEADLINE_SECONDS = 40
OK = {200, 302}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], bool], what: str, tick: Callable[[], None] = lambda: None):
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {DEADLINE_SECONDS} s waiting for {what}")
        tick()
        time.sleep(0.3)


# -- a Redis of our own ---------------------------------------------------------------------


class PrivateRedis:
    """redis-server on a free port, owned by this test: killed and started again at will."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.tmp_path = tmp_path
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.tmp_path), "--daemonize", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        wait_for(lambda: _pings(client), "the private redis-server to answer")
        client.close()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


def _pings(client: Any) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


@pytest.fixture
def redis_server(tmp_path: Path, settings: Any) -> Iterator[PrivateRedis]:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the worker is another process and must see committed rows")
    server = PrivateRedis(tmp_path)
    server.start()
    # This process is the web site: its cache and broker are that Redis, as in production.
    settings.CACHES = {
        "default": {
            "BACKEND": "workflows.cache.ForgivingRedisCache",
            "LOCATION": server.url,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    saved = (celery_app.conf.broker_url, celery_app.conf.task_always_eager)
    celery_app.conf.broker_url, celery_app.conf.task_always_eager = server.url, False
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    try:
        yield server
    finally:
        celery_app.conf.broker_url, celery_app.conf.task_always_eager = saved
        celery_app._pool = None
        celery_app.amqp._producer_pool = None
        server.kill()


@pytest.fixture
def workers(redis_server: PrivateRedis, tmp_path: Path) -> Iterator[Celery]:
    overrides = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_server.url,
        "SECRET_KEY": "integration-tests-only",
        "DEBUG": "true",
        "LOG_LEVEL": "INFO",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(tmp_path / "mail"),
        "SAFESHARE_NOTIFICATION_CLAIM_SECONDS": str(CLAIM_SECONDS),
    }
    (tmp_path / "mail").mkdir()
    inherited = {
        k: v
        for k, v in os.environ.items()
        if k.removesuffix("_FILE") not in overrides and not k.startswith("EMAIL_")
    }
    processes = Celery({**inherited, **overrides}, tmp_path)
    try:
        yield processes
    finally:
        processes.stop()
        processes.report()


def people_with_email(*people: Any) -> None:
    for person in people:
        person.email = f"{person.username}@example.org"
        person.save(update_fields=["email"])


def as_beat_would() -> None:
    """beat's deliver_pending_notifications, once a minute has passed (rows are aged)."""
    Notification.objects.filter(emailed_at__isnull=True).update(
        created_at=F("created_at") - timedelta(minutes=2)
    )
    deliver_pending_notifications.delay()


# -- 1. Redis killed ------------------------------------------------------------------------


def test_with_redis_killed_pages_answer_writes_are_kept_and_every_notification_goes_once(
    redis_server: PrivateRedis,
    workers: Celery,
    tmp_path: Path,
    case: Any,
    recipient: Any,
    practitioner: Any,
    colleague: Any,
    lead: Any,
    deputy: Any,
    manager: Any,
) -> None:
    people_with_email(lead, deputy, manager)
    overdue = overdue_urgent_share(case, practitioner, recipient)

    def signed_in(person: Any) -> Client:
        client = Client(raise_request_exception=False)  # a 500 is counted, as a browser sees it
        client.force_login(person)
        return client

    clients = {p.username: signed_in(p) for p in (practitioner, colleague, lead, deputy, manager)}
    pages = [
        ("priya", url("case_list")),
        ("priya", url("case_detail", case.pk)),
        ("priya", url("share_detail", overdue.pk)),
        ("priya", url("my_shares")),
        ("priya", url("notifications")),
        ("grace", url("review_queue")),
        ("grace", url("lead_review", overdue.pk)),
        ("grace", url("notifications")),
        ("grace", url("break_glass_review")),
        ("dan", url("review_queue")),
        ("dan", url("notifications")),
        ("mona", url("notifications")),
        ("colin", url("case_list")),
        ("colin", url("break_glass")),
    ]
    statuses: Counter[tuple[int, str]] = Counter()

    def browse() -> None:
        for username, path in pages:
            statuses[(clients[username].get(path).status_code, path)] += 1

    browse()
    redis_server.kill()  # broker and cache gone
    started = time.monotonic()
    browse()
    # Writes while Redis is down: Colin takes break-glass access through the page (its
    # alert is queued after commit), and a timer sweep escalates the overdue share.
    page = clients["colin"].get(url("break_glass"))
    taken = clients["colin"].post(
        url("break_glass"), form_data(page, reference=case.reference, reason="Urgent call.")
    )
    statuses[(taken.status_code, "POST break_glass")] += 1
    assert sweep_timers() == 3  # the sweep's lock is in PostgreSQL: no Redis needed
    browse()
    outage = time.monotonic() - started

    failed = {key: n for key, n in statuses.items() if key[0] not in OK}
    assert failed == {}, f"answers other than 200/302 with Redis down: {failed}"
    assert sum(statuses.values()) == 3 * len(pages) + 1
    grant = BreakGlassGrant.objects.get(user=colleague)
    assert Notification.objects.filter(break_glass_grant=grant).count() == 2  # lead, deputy
    assert Notification.objects.filter(escalation__share=overdue).count() == 4
    followed = Notification.objects.filter(Q(escalation__isnull=False) | Q(break_glass_grant=grant))
    assert not followed.filter(emailed_at__isnull=False).exists()
    print(f"{sum(statuses.values())} requests with Redis down, in {outage:.1f} s")

    # Redis is back: a worker starts and beat's pass (twice) has everything sent, once.
    redis_server.start()
    workers.worker("worker")
    as_beat_would()
    pending = Notification.objects.filter(emailed_at__isnull=True)
    wait_for(
        lambda: not pending.exists(), "every notification to be emailed", workers.check_running
    )
    as_beat_would()
    time.sleep(2)  # room for a duplicate to show itself
    sent = Counter(_file_messages(tmp_path / "mail"))
    expected = expected_messages(followed)
    assert sent == expected and sum(sent.values()) == 6


def _file_messages(mail_dir: Path) -> list[tuple[str, str]]:
    separator = "\n" + "-" * 79 + "\n"
    found = []
    for path in sorted(mail_dir.glob("*.log")):
        for chunk in path.read_text().split(separator):
            if chunk.strip():
                message = email.message_from_string(chunk)
                found.append((str(message["To"]), " ".join(str(message["Subject"]).split())))
    return found


# -- 2. the mail server slow, then down, while a worker is killed ---------------------------


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True  # started again on the same port once it was "down"
    daemon_threads = True


class TinySMTP:
    """Just enough SMTP for Django's backend, on 127.0.0.1; slow or down on demand.

    Slow means it waits before greeting each connection (every step of the send waits on
    the one before). A message counts as received once its data ends and is acknowledged.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.delay = 0.0
        self.waiting = 0
        self.received: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.server: _Server | None = None

    def start(self) -> None:
        smtp = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                with smtp.lock:
                    smtp.waiting += 1
                time.sleep(smtp.delay)
                with smtp.lock:
                    smtp.waiting -= 1
                with contextlib.suppress(OSError):
                    smtp.converse(self.rfile, self.wfile)

        self.server = _Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def converse(self, rfile: Any, wfile: Any) -> None:
        def say(line: str) -> None:
            wfile.write(line.encode() + b"\r\n")
            wfile.flush()

        say("220 tiny ESMTP")
        recipients: list[str] = []
        while line := rfile.readline():
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                say("250 tiny")
            elif verb == b"RCPT":
                recipients.append(line.decode().split(":", 1)[1].strip().strip("<>"))
                say("250 OK")
            elif verb == b"DATA":
                say("354 go ahead")
                data = b""
                while (chunk := rfile.readline()) not in (b".\r\n", b""):
                    data += chunk
                if chunk != b".\r\n":
                    return  # the client went away mid-message: nothing was received
                subject = " ".join(str(email.message_from_bytes(data)["Subject"]).split())
                with self.lock:
                    self.received.extend((to, subject) for to in recipients)
                recipients = []
                say("250 queued")
            elif verb == b"QUIT":
                say("221 bye")
                return
            else:  # MAIL, RSET, NOOP
                say("250 OK")


def test_mail_slow_then_down_with_a_worker_killed_mid_send_sends_each_email_once(
    workers: Celery, lead: Any, deputy: Any, manager: Any, practitioner: Any
) -> None:
    people_with_email(lead, deputy, manager, practitioner)
    smtp = TinySMTP()
    smtp.delay = 3.0  # three times the claim's life: a claim that is not kept alive is retaken
    smtp.start()

    def notify(kind: str, *people: Any) -> None:
        Notification.objects.bulk_create(
            Notification(recipient=person, kind=kind, link="/safeguarding/review/")
            for person in people
        )

    try:
        notify(NotificationKind.REVIEW_REMINDER, lead, deputy, manager, practitioner)
        notify(NotificationKind.REVIEW_OVERDUE, lead, deputy)
        smtp_env = {
            "EMAIL_BACKEND": "",  # unset: a mail server (EMAIL_HOST) means SMTP
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp.port),
            "EMAIL_TIMEOUT": "20",
        }
        # Six sends at most in flight, eight pool processes: free ones are there to retake
        # any claim that is left to age while its send is still going.
        doomed = workers.worker("doomed", concurrency=2, **smtp_env)
        workers.worker("steady", concurrency=6, **smtp_env)

        def beat() -> None:  # a beat running deliver_pending_notifications far more often
            workers.check_running()
            as_beat_would()

        # Slow: every send takes longer than a claim lives. Kill one worker mid-send.
        as_beat_would()
        wait_for(lambda: smtp.waiting >= 6, "every send to be waiting on the slow server", beat)
        for _ in range(5):  # 1.5 s: every claim in flight has outlived CLAIM_SECONDS
            beat()
            time.sleep(0.3)
        doomed.kill()
        pending = Notification.objects.filter(emailed_at__isnull=True)
        wait_for(lambda: not pending.exists(), "the slow server to take every email", beat)

        # Down: connections refused while more is written; then the server is back.
        smtp.stop()
        notify(NotificationKind.REVIEW_STILL_OVERDUE, lead, deputy, manager, practitioner)
        for _ in range(8):
            beat()
            time.sleep(0.3)
        assert pending.count() == 4
        smtp.delay = 0.0
        smtp.start()
        wait_for(lambda: not pending.exists(), "every notification to be emailed", beat)
        for _ in range(6):  # room for a duplicate to show itself
            beat()
            time.sleep(0.3)
        expected = expected_messages(Notification.objects.all())
        with smtp.lock:
            received = Counter(smtp.received)
        assert received == expected and sum(received.values()) == 10
    finally:
        smtp.stop()


# -- 3. a sweep killed mid-way --------------------------------------------------------------

_STUCK_SWEEP = """
import os, time, django
from pathlib import Path
from unittest import mock
django.setup()
import workflows.tasks as tasks

def stuck():
    Path(os.environ["SWEEP_MARKER"]).write_text("sweeping")
    time.sleep(120)
    return 0

with mock.patch.object(tasks, "fire_due_timers", stuck):
    tasks.sweep_timers()
"""


def test_a_worker_killed_mid_sweep_does_not_hold_up_the_next_sweep(
    redis_server: PrivateRedis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "sweeping"
    env = {
        **{k: v for k, v in os.environ.items() if not k.endswith("_FILE")},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONPATH": str(REPO),
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_server.url,
        "SECRET_KEY": "integration-tests-only",
        "DEBUG": "true",
        "SWEEP_MARKER": str(marker),
    }
    sweeper = subprocess.Popen([sys.executable, "-c", _STUCK_SWEEP], cwd=REPO, env=env)
    try:
        wait_for(marker.exists, "the other process to start sweeping")
        monkeypatch.setattr("workflows.tasks.fire_due_timers", lambda: 7)
        assert sweep_timers() == 0  # it holds the lock: sweeps never overlap
        sweeper.send_signal(signal.SIGKILL)
        sweeper.wait(timeout=10)
        killed = time.monotonic()
        result: list[int] = []
        wait_for(lambda: bool(result.append(sweep_timers()) or result[-1] == 7), "a sweep to run")
        waited = time.monotonic() - killed
        assert waited < 5, f"the next sweep ran only {waited:.1f} s after the killed one"
    finally:
        if sweeper.poll() is None:
            sweeper.kill()
            sweeper.wait()
