"""One transaction per change, with savepoints only where someone may carry on after an error.

Django's ``atomic`` writes a savepoint for every nested block, and releases it after: two
round trips to the database per block, and a step of a share's life nests several (the page,
the flow's lock, the step, the service). A savepoint is only of use to a caller that catches
an error inside its own transaction and carries on. ``atomic_change`` knows when there is
none: a transaction it begins itself is one that any error ends whole (nothing in it carries
on after an error: the error leaves the block), so the blocks opened inside it, by
``atomic_change`` again, need no savepoints. Inside a transaction someone else began (a test,
a management command, a caller that catches refusals) it keeps its savepoint, exactly as
``atomic`` does.

Blocks that do catch an error and carry on (``get_or_create``, a guard against a duplicate)
keep Django's own ``atomic``, which always writes its savepoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction

_WHOLE = "_safeshare_whole_transaction"


def in_whole_transaction() -> bool:
    """Whether the open transaction was begun by ``atomic_change`` (any error ends it)."""
    if not connection.in_atomic_block:
        return False
    # The outermost block itself marks it: a later transaction has a block of its own, so
    # the mark can never outlive the transaction it was made for.
    return getattr(connection, _WHOLE, None) is connection.atomic_blocks[0]


@contextmanager
def atomic_change() -> Iterator[None]:
    """``transaction.atomic()`` for a change that stands or falls whole (also a decorator:
    ``@atomic_change()``)."""
    with transaction.atomic(savepoint=not in_whole_transaction()):
        if len(connection.atomic_blocks) == 1:
            setattr(connection, _WHOLE, connection.atomic_blocks[0])
        yield
