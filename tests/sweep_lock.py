"""Holding the timer-sweep lock as another process's sweep would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache
from django.db import connection

from workflows.tasks import SWEEP_ADVISORY_KEYS, SWEEP_LOCK, SWEEP_LOCK_SECONDS


def other_connection() -> object:
    """A second PostgreSQL session on the test database (another worker's)."""
    import psycopg

    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"],
        dbname=db["NAME"],
        autocommit=True,
    )


@contextmanager
def another_sweep_running() -> Iterator[None]:
    if connection.vendor == "postgresql":
        with other_connection() as other:  # type: ignore[attr-defined]
            taken = other.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", SWEEP_ADVISORY_KEYS
            ).fetchone()[0]
            assert taken
            yield
            other.execute("SELECT pg_advisory_unlock(%s, %s)", SWEEP_ADVISORY_KEYS)
        return
    cache.add(SWEEP_LOCK, "another", SWEEP_LOCK_SECONDS)
    try:
        yield
    finally:
        cache.delete(SWEEP_LOCK)
