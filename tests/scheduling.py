"""How `make test` spreads the suite over its processes (pytest-xdist, ``--dist loadfile``).

Two changes to xdist's file-by-file sharing:

- The browser tests are one unit of work, not one per file. They share one demo server and
  one Chromium (package-scoped fixtures); split across processes, or interleaved with other
  files on one, each file paid the server's migrate-and-seed again (10-17 s each).
- The slow units start first. xdist hands out the files with the most tests first, which sent
  the browser tests (few tests, minutes of work) and the real-worker tests last, and left one
  process running them alone at the end. Here the browser tests go first, then the files
  that start real processes (marked ``integration``), then the rest, most tests first.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from xdist.scheduler import LoadFileScheduling

BROWSER_TESTS = "tests/e2e/"


def _file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


class LoadFileBrowserTestsTogether(LoadFileScheduling):
    """File by file in the collection's order, the browser tests as one unit."""

    def __init__(self, config: pytest.Config, log: Any = None) -> None:
        super().__init__(config, log)
        # The order is the collection's (``order_slowest_first``), not xdist's by test count.
        config.option.loadscopereorder = False

    def _split_scope(self, nodeid: str) -> str:
        return BROWSER_TESTS if nodeid.startswith(BROWSER_TESTS) else _file(nodeid)


def order_slowest_first(items: list[pytest.Item]) -> None:
    """Browser tests, then files with real-process tests, then the rest by their number of
    tests; each file's tests keep their own order (a stable sort)."""
    per_file = Counter(_file(item.nodeid) for item in items)
    starts_processes = {
        _file(item.nodeid) for item in items if item.get_closest_marker("integration")
    }

    def rank(item: pytest.Item) -> tuple[int, int, str]:
        path = _file(item.nodeid)
        if path.startswith(BROWSER_TESTS):
            return (0, 0, "")
        return (1 if path in starts_processes else 2, -per_file[path], path)

    items.sort(key=rank)
