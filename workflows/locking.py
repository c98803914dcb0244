"""The flow lock: the process row, waited for briefly rather than refused at once.

viewflow's ``select_for_update_lock`` asks for the row with NOWAIT and, after a few random
sleeps, raises ``FlowLockFailed``, which a page would answer with a 500. Two people acting
on one share at once should instead queue: the second waits for the first to commit and is
then told, by the service, what happened ("already decided", "already released").

The row is locked FOR NO KEY UPDATE, which excludes every other flow lock just the same but
not the key-share locks that inserting rows pointing at the process needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DatabaseError, connection
from viewflow.workflow.exceptions import FlowLockFailed

from cases.transactions import atomic_change

# Long enough for any step to finish; short enough that a stuck one is reported, not hung on.
WAIT_SECONDS = 15


def _limit_lock_wait(seconds: float) -> None:
    if connection.vendor != "postgresql":
        return  # SQLite serialises writers itself (IMMEDIATE transactions, a busy timeout)
    with connection.cursor() as cursor:
        # For the rest of the transaction: any lock a step waits on (this row, then the
        # audit chain's) is reported after this long rather than hung on.
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{int(seconds * 1000)}ms"])


class WaitingLock:
    """Wait up to ``seconds`` for the process row, then raise ``FlowLockFailed``."""

    def __init__(self, seconds: float = WAIT_SECONDS) -> None:
        self.seconds = seconds

    @contextmanager
    def __call__(self, flow_class: Any, process_pk: Any) -> Iterator[None]:
        # Its own transaction when none is open; inside a caller's that may carry on after
        # an error, a savepoint, so that a wait that times out leaves that transaction
        # usable (steps.py says so to the person).
        with atomic_change():
            try:
                _limit_lock_wait(self.seconds)
                rows = flow_class.process_class._default_manager.filter(pk=process_pk)
                rows.select_for_update(no_key=True).exists()
            except DatabaseError as error:
                raise FlowLockFailed(f"Lock failed for {flow_class}") from error
            yield


waiting_lock = WaitingLock()
