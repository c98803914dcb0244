"""The site as people reach it: a real ``runserver`` process on a database of its own.

The server is seeded with the demonstration data and runs with the embedded defaults
(in-process tasks, timers swept by the server itself), exactly as ``make run`` does. Its
database is separate from pytest-django's test database: on PostgreSQL a dedicated database
on the same server, dropped and recreated each run; otherwise a SQLite file in a temporary
folder. pytest-django's live server is not used because flushing its database between
tests means DELETEs that the audit log's triggers refuse.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parents[2]
START_SECONDS = 60
COMMAND_SECONDS = 180


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _e2e_database_name(kind: str) -> str:
    # Two runs sharing one PostgreSQL server name their test databases apart, and so do the
    # parallel workers of one run (pytest-xdist); follow suit.
    prefix = os.environ.get("TEST_DATABASE_NAME") or "safeshare"
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return f"{prefix}_{kind}{'_' + worker if worker else ''}"


def _recreate_postgres_database(url: str, kind: str) -> str:
    """Drop and create the e2e database beside the one ``url`` names; return its URL."""
    parts = urlsplit(url)
    name = _e2e_database_name(kind)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return urlunsplit(parts._replace(path=f"/{name}"))


def server_database_url(workdir: Path, kind: str = "e2e") -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        return _recreate_postgres_database(url, kind)
    return f"sqlite:///{workdir / f'{kind}.sqlite3'}"


class DemoServer:
    """Migrate, seed the demo, serve on a free port; ``manage()`` reaches the same database.

    ``demo=False``: an empty installation instead, as a new setting starts (on a database
    of its own, ``kind``)."""

    def __init__(self, workdir: Path, *, demo: bool = True, kind: str = "e2e") -> None:
        self.workdir = workdir
        self.demo = demo
        self.log_path = workdir / "server.log"
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {
            key: value
            for key, value in os.environ.items()
            # The site's own settings, not the test ones; no broker, so tasks run in-process.
            if key not in {"DJANGO_SETTINGS_MODULE", "REDIS_URL"}
        }
        env.update(
            DEBUG="true",
            SECRET_KEY="browser-tests-only-secret-key",
            DATABASE_URL=server_database_url(workdir, kind),
            PYTHONUNBUFFERED="1",
        )
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def manage(self, *args: str) -> str:
        """Run a management command against the server's database; return what it printed."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_SECONDS,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def start(self) -> None:
        self.manage("migrate", "--noinput", "-v0")
        if self.demo:
            self.manage("seed_demo")
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "runserver",
                    f"127.0.0.1:{self.port}",
                    "--noreload",
                ],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_until_serving()

    def _wait_until_serving(self) -> None:
        """Poll the sign-in page until it answers; fail with the server's log if it died."""
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"The server stopped while starting:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/accounts/login/", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"The server did not answer in {START_SECONDS} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
