"""The demo, seeded once for a test module and rolled back after it.

``seeded_once`` opens a transaction, runs ``build`` inside it and keeps it open while the
module's tests run; each test runs in a savepoint of its own (pytest-django's ``db``
fixture), so whatever a test changes is undone before the next one, and everything is
undone when the module ends. ``transaction.on_commit`` callbacks never run inside it: a test
that needs them uses ``django_capture_on_commit_callbacks(execute=True)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.db import transaction

from cases.models import Case, Organisation, Share
from workflows.demo import seed_demo
from workflows.escalation import escalate_due_reviews
from workflows.models import ShareProcess

T = TypeVar("T")


@contextmanager
def seeded_once(django_db_blocker: Any, build: Callable[[], T]) -> Iterator[T]:
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            built = build()
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    try:
        yield built
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


class Demo:
    """The seeded demo's people and records, fetched afresh (tests change them)."""

    password = "safeshare-demo"

    def seed(self) -> Demo:
        seed_demo()
        # The demo's overdue share escalates at the first sweep: make those steps exist too.
        escalate_due_reviews()
        return self

    def user(self, username: str) -> Any:
        return get_user_model().objects.get(username=username)

    def case(self, reference: str) -> Case:
        return Case.objects.select_related("child", "organisation").get(reference=reference)

    def setting(self, name: str) -> Organisation:
        full = {"Oakfield": "Oakfield Nursery", "Riverside": "Riverside Primary School"}
        return Organisation.objects.get(name=full.get(name, name))

    def shares_of(self, reference: str) -> list[Share]:
        return list(Share.objects.filter(case__reference=reference).order_by("pk"))

    def process_of(self, share: Share) -> ShareProcess:
        return ShareProcess.objects.get(share=share)
