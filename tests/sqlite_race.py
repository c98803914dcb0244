"""Run by tests/test_concurrency_sqlite.py in a process of its own, on a SQLite file (the
embedded default), which threads can share and an in-memory test database cannot.

Each round: a lead and a deputy decide one share at once while the proposer opens its page.
Prints one JSON line: per round, the three status codes and how many decisions were made.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import get_resolver, reverse  # noqa: E402

from cases import choices  # noqa: E402
from cases.models import Case, Recipient  # noqa: E402
from cases.services import case_team_add  # noqa: E402
from workflows import steps  # noqa: E402

from .factories import (  # noqa: E402
    CaseFactory,
    MembershipFactory,
    OrganisationFactory,
    RecipientFactory,
    UserFactory,
    complete_fields,
    item,
)


def _member(organisation: Any, username: str, role: str) -> Any:
    user = UserFactory(username=username)
    MembershipFactory(user=user, organisation=organisation, role=role)
    return user


def _client(user: Any) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def _race(calls: list[Callable[[], Any]]) -> list[int]:
    barrier = threading.Barrier(len(calls))
    codes = [0] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            codes[index] = call().status_code
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return codes


def main(rounds: int) -> None:
    call_command("migrate", verbosity=0)
    _ = get_resolver().url_patterns
    oakfield = OrganisationFactory(name="Oakfield")
    priya = _member(oakfield, "priya", choices.Role.PRACTITIONER)
    grace = _member(oakfield, "grace", choices.Role.LEAD)
    dan = _member(oakfield, "dan", choices.Role.DEPUTY)
    case: Case = CaseFactory(organisation=oakfield)
    case_team_add(case=case, user=priya)
    recipient: Recipient = RecipientFactory(organisation=oakfield)
    results = []
    for _ in range(rounds):
        draft = steps.propose(
            case=case, user=priya, fields=complete_fields(recipient), items=[item()]
        )
        share = steps.submit(share=draft, user=priya)
        connections.close_all()
        review = reverse("safeguarding:lead_review", args=[share.pk])
        page = reverse("safeguarding:share_detail", args=[share.pk])
        data = {"outcome": choices.Outcome.APPROVE, "reasons": "Necessary."}
        lead, deputy, reader = _client(grace), _client(dan), _client(priya)
        codes = _race(
            [
                partial(lead.post, review, data),
                partial(deputy.post, review, data),
                partial(reader.get, page),
            ]
        )
        # The later decider is taken to the share and told who decided: exactly one is.
        told = sum(
            "Nothing was recorded" in client.get(page).content.decode() for client in (lead, deputy)
        )
        results.append([*codes, share.decisions.count(), told])
    print(json.dumps(results))


if __name__ == "__main__":
    main(int(sys.argv[1]))
