"""A share's life through the web pages, as its people live it, and the bare flow's.

Used by ``tests.benchmarks.scale``: to time each request of one lifecycle (with ``Meter``),
and to play the template lifecycles whose rows the seeding then clones. Every form is
posted as the page rendered it (``tests.http_helpers.form_data``), with only what a person
would type changed, exactly as tests/test_http_walkthroughs.py does.
"""

from __future__ import annotations

import gc
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from viewflow.workflow.models import Task

from cases import choices
from cases.models import Case
from tests.http_helpers import complete_share, form_data

from .bare_approval.flows import ApprovalFlow
from .bare_approval.models import Approval

_SHARE_PAGE = re.compile(r"/shares/(\d+)/")


@dataclass
class Sample:
    seconds: float
    queries: int
    size: int
    status: int
    # The time the database took, as the connection measured each query.
    sql_seconds: float = 0.0


@dataclass
class Meter:
    """Times each request and counts its queries; keeps every sample under its label."""

    samples: dict[str, list[Sample]] = field(default_factory=dict)
    # Labels in the order first seen, so a report reads in the order of the lifecycle.
    order: list[str] = field(default_factory=list)

    def request(self, label: str, send: Callable[[], Any]) -> Any:
        # The collector runs between requests, not during one (paused here, it runs at the
        # first allocation after): the heap grows with each level seeded in this process, so
        # a collection landing inside a page's timing cost more at 110k than at 2k and
        # showed as the page's own growth.
        gc.disable()
        try:
            with CaptureQueriesContext(connection) as queries:
                started = perf_counter()
                response = send()
                if getattr(response, "streaming", False):
                    # A streamed page is only served once its last chunk is read.
                    size = sum(len(chunk) for chunk in response.streaming_content)
                else:
                    size = len(response.content)
                seconds = perf_counter() - started
        finally:
            gc.enable()
        if label not in self.samples:
            self.samples[label] = []
            self.order.append(label)
        sql = sum(float(query["time"]) for query in queries.captured_queries)
        self.samples[label].append(
            Sample(seconds, len(queries), size, response.status_code, sql_seconds=sql)
        )
        return response

    def median_ms(self, label: str) -> float:
        return 1000 * statistics.median(sample.seconds for sample in self.samples[label])

    def median_sql_ms(self, label: str) -> float:
        return 1000 * statistics.median(sample.sql_seconds for sample in self.samples[label])

    def queries(self, label: str) -> int:
        # The most any run took: a count that varies between runs should show.
        return max(sample.queries for sample in self.samples[label])

    def size(self, label: str) -> int:
        return self.samples[label][-1].size

    def status(self, label: str) -> int:
        return self.samples[label][-1].status


def _untimed(label: str, send: Callable[[], Any]) -> Any:
    return send()


def _ok(response: Any, *expected: int) -> Any:
    if response.status_code not in expected:
        body = response.content.decode(errors="replace")[:2000] if not response.streaming else ""
        raise AssertionError(f"{response.status_code} where {expected} was expected: {body}")
    return response


def typed_now() -> str:
    """The present minute as a person types the time a release was sent."""
    return timezone.localtime(timezone.now()).strftime("%Y-%m-%dT%H:%M")


@dataclass
class ShareWalk:
    """One setting's practitioner and lead, each signed in with a client of their own.

    ``timed`` wraps each request (a Meter's ``request``, or nothing); ``follow`` also opens
    the page a form sends its person to afterwards, as a browser does (each such page logs
    its reads in the audit chain). ``pause`` moves the clock on between the people's steps,
    so that the records carry the hours a real review takes.
    """

    practitioner: Client
    lead: Client
    timed: Callable[[str, Callable[[], Any]], Any] = _untimed
    follow: bool = False
    pause: Callable[[float], None] = lambda hours: None

    def _post(self, client: Client, label: str, path: str, data: dict[str, Any]) -> Any:
        response = _ok(self.timed(label, lambda: client.post(path, data)), 302)
        if self.follow:
            _ok(client.get(response["Location"]), 200)
        return response

    def propose(self, case: Case, *, submit: bool = True) -> int:
        """The practitioner opens the form for a new share and submits it (or saves a draft)."""
        path = reverse("safeguarding:share_propose", args=[case.pk])
        page = _ok(self.timed("propose: open the form", lambda: self.practitioner.get(path)), 200)
        recipient = case.organisation.recipients.filter(retired_at__isnull=True).first()
        assert recipient is not None, f"{case.organisation} has no address book"
        data = complete_share(page, recipient.pk, action="submit" if submit else "save")
        response = self._post(self.practitioner, "propose: submit", path, data)
        match = _SHARE_PAGE.search(response["Location"])
        assert match, response["Location"]
        return int(match.group(1))

    def open_review(self, share_pk: int) -> Any:
        """The lead opens the review page: the lead-review task is theirs from then on."""
        self.pause(2)
        path = reverse("safeguarding:lead_review", args=[share_pk])
        return _ok(self.timed("review: open", lambda: self.lead.get(path)), 200)

    def decide(self, share_pk: int, outcome: str, page: Any = None, **typed: Any) -> None:
        page = page if page is not None else self.open_review(share_pk)
        self.pause(1)
        path = reverse("safeguarding:lead_review", args=[share_pk])
        data = form_data(page, outcome=outcome, **typed)
        self._post(self.lead, "review: decide", path, data)

    def approve(self, share_pk: int, page: Any = None) -> None:
        self.decide(
            share_pk,
            choices.Outcome.APPROVE,
            page,
            reasons="Necessary and proportionate: social care need it to assess today.",
        )

    def release(self, share_pk: int) -> None:
        """The practitioner opens the release form and records what was sent."""
        self.pause(1)
        path = reverse("safeguarding:record_release", args=[share_pk])
        page = _ok(self.timed("release: open", lambda: self.practitioner.get(path)), 200)
        data = form_data(page, sent_at=typed_now(), note="Sent to the duty inbox.")
        self._post(self.practitioner, "release: record", path, data)

    def lifecycle(self, case: Case) -> int:
        """Propose, approve, release: one share's whole life."""
        share_pk = self.propose(case)
        self.approve(share_pk)
        self.release(share_pk)
        return share_pk

    def play(self, case: Case, state: str) -> int:
        """One share taken as far as ``state`` (a name of ``STATES``)."""
        share_pk = self.propose(case, submit=state != "draft")
        if state in ("draft", "awaiting review"):
            return share_pk
        page = self.open_review(share_pk)
        if state == "opened by the lead":
            return share_pk
        if state in ("approved", "released"):
            self.approve(share_pk, page)
            if state == "released":
                self.release(share_pk)
        elif state == "refused":
            self.decide(
                share_pk,
                choices.Outcome.REFUSE,
                page,
                refusal_reason=choices.RefusalReason.ALREADY_HELD,
                reasons="The health visitor already holds this and has acted on it.",
            )
        elif state == "returned":
            self.decide(
                share_pk,
                choices.Outcome.RETURN,
                page,
                reasons="Add what the child said, in their own words.",
            )
        else:
            raise ValueError(f"No such state: {state}")
        self.pause(3)
        return share_pk


# Every state a template lifecycle is played to (ShareWalk.play).
STATES = (
    "draft",
    "awaiting review",
    "opened by the lead",
    "approved",
    "released",
    "refused",
    "returned",
)


@dataclass
class BareWalk:
    """The bare flow's three steps by one user who may see the flow (no separation of duty:
    the bare flow has no rules)."""

    client: Client
    timed: Callable[[str, Callable[[], Any]], Any] = _untimed

    def _task(self, process: Approval, node: Any) -> Task:
        return Task.objects.get(process=process, flow_task=node)

    def lifecycle(self) -> int:
        start = reverse("approval:start:execute")
        _ok(self.timed("start: open the form", lambda: self.client.get(start)), 200)
        text = "Bruise on the left cheek seen at drop-off; recorded on a body map."
        _ok(self.timed("start: submit", lambda: self.client.post(start, {"text": text})), 302)
        process = Approval.objects.order_by("-pk").first()
        assert process is not None
        review = self._task(process, ApprovalFlow.review)
        args = [process.pk, review.pk]
        assign = reverse("approval:review:assign", args=args)
        _ok(self.timed("review: assign", lambda: self.client.post(assign)), 302)
        execute = reverse("approval:review:execute", args=args)
        _ok(self.timed("review: open", lambda: self.client.get(execute)), 200)
        decided = {"approved": "on"}
        _ok(self.timed("review: decide", lambda: self.client.post(execute, decided)), 302)
        release = self._task(process, ApprovalFlow.release)
        execute = reverse("approval:release:execute", args=[process.pk, release.pk])
        _ok(self.timed("release: open", lambda: self.client.get(execute)), 200)
        sent = {"note": "Sent to the duty inbox."}
        _ok(self.timed("release: record", lambda: self.client.post(execute, sent)), 302)
        process.refresh_from_db()
        assert process.status == "DONE" and process.approved, process.data
        return process.pk
