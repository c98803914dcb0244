"""Two leads decide one share at once on the embedded default, SQLite, while the proposer
reads it: one decision, the other lead told it is already decided, the page shown; never
"database is locked" (a 500, or a 503). A process of its own on a SQLite file, because
threads cannot share the in-memory test database (tests/sqlite_race.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parent.parent
ROUNDS = 20


def test_two_leads_decide_at_once_on_sqlite(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k != "TEST_DATABASE_NAME"},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'race.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "ALLOWED_HOSTS": "testserver",
        "PYTHONPATH": str(REPO),
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.sqlite_race", str(ROUNDS)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rounds = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(rounds) == ROUNDS
    for lead, deputy, reader, decisions, told in rounds:
        # Both are taken to the share; the later one is told who decided and how.
        assert [lead, deputy] == [302, 302], rounds
        assert reader == 200, rounds
        assert decisions == 1, rounds
        assert told == 1, rounds
