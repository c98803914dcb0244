"""A manager's reports across many settings: the same figures both ways, the same queries.

A manager reads every one of their settings at once, so the figures of time to decision are
grouped across settings too. On PostgreSQL they come from one GROUPING SETS query, on SQLite
(and with ``portable=True``) from standard SQL; both must equal the definitions worked out
in Python (``tests.test_reports_at_scale.expected_rounds``) for any number of settings, and
the page must cost the same queries for two settings as for many.
"""

from __future__ import annotations

import random
from calendar import monthrange
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection

from cases import choices
from cases.models import Organisation
from workflows.reports import (
    FIGURES_WORK_MEM,
    ReportScope,
    _reading,
    decision_figures,
    release_figures,
)

from .factories import CaseFactory, MembershipFactory, UserFactory
from .http_helpers import url
from .test_reports import _queries
from .test_reports_at_scale import (
    NAMES,
    ON_POSTGRESQL,
    Ledger,
    at,
    decided,
    durations,
    expected_releases,
    expected_rounds,
    label_of,
    new_share,
    sent,
)

SETTINGS = 9


def _settings(count: int, first: int = 0) -> list[Organisation]:
    return [
        Organisation.objects.create(
            name=f"Setting {first + n:02d}", kind=choices.OrganisationKind.NURSERY
        )
        for n in range(count)
    ]


def _ledger(settings: list[Organisation], deciders: list[Any]) -> Ledger:
    cases = {setting.pk: CaseFactory(organisation=setting) for setting in settings}
    return Ledger(settings[0], settings[1], settings[2], deciders, cases)


def _rounds(ledger: Ledger, settings: list[Organisation], count: int, seed: int) -> None:
    """``count`` review rounds spread over ``settings`` and January to July 2026: every
    urgency and outcome, late ones, ties, half seconds and stray microseconds (``durations``),
    returned shares whose urgency changed before they went back, and releases."""
    rng = random.Random(seed)
    urgencies, outcomes = choices.Urgency.values, choices.Outcome.values
    for index, took in enumerate(durations(rng, count)):
        setting = settings[rng.randrange(len(settings))]
        month = 1 + index % 7
        if index % 4:
            when = at(month, 1 + index % 28, 8 + index % 10)
        else:
            # 23:30 UTC on a month's last day: in the UK, still that month in winter and
            # already the next in summer.
            when = at(month, monthrange(2026, month)[1], 23, 30)
        when += timedelta(seconds=index)
        outcome = outcomes[rng.randrange(len(outcomes))]
        status = choices.ShareStatus.DRAFT if outcome == choices.Outcome.RETURN else "approved"
        share = new_share(ledger, setting, urgencies[index % 3], when - took, status)
        decision = decided(
            share,
            ledger.deciders[rng.randrange(len(ledger.deciders))],
            when,
            took,
            outcome=outcome,
            late=rng.random() < 0.3,
        )
        if outcome == choices.Outcome.RETURN and index % 2:
            # Changed before it goes back to the lead: this round still counts under the
            # urgency it was reviewed under, which its decision recorded.
            share.urgency = urgencies[(index + 1) % 3]
            share.save(update_fields=["urgency"])
        if outcome == choices.Outcome.APPROVE and index % 3:
            sent(share, decision, when + timedelta(minutes=rng.randrange(1, 900), microseconds=3))


@pytest.fixture
def many_settings(db: Any) -> Ledger:
    settings = _settings(SETTINGS)
    deciders = [UserFactory(username=f"decider{n}", first_name=f"Lead {n}") for n in range(7)]
    ledger = _ledger(settings, deciders)
    _rounds(ledger, settings, 450, seed=15)
    return ledger


def _scopes(ledger: Ledger) -> dict[str, ReportScope]:
    every = sorted(ledger.cases)
    return {
        "every setting": ReportScope(settings=every),
        "all but one": ReportScope(settings=every[1:]),
        "every setting, some months": ReportScope(
            settings=every, since=at(2, 28, 0), until=at(5, 31, 23)
        ),
    }


def _found(figures: dict[str, list[Any]]) -> dict[str, dict[Any, tuple[Any, ...]]]:
    return {
        name: {f.key: (f.rounds, f.on_time, f.median_seconds, f.p90_seconds) for f in rows}
        for name, rows in figures.items()
    }


def test_a_managers_figures_are_the_definitions_on_either_database(many_settings: Ledger) -> None:
    """The way this database computes them (grouping sets on PostgreSQL, standard SQL on
    SQLite), against the definitions in Python, across every setting at once."""
    for scope_name, scope in _scopes(many_settings).items():
        expected = expected_rounds(scope)
        figures = decision_figures(scope, NAMES)
        assert _found(figures) == expected, scope_name
        assert len(expected["setting"]) >= SETTINGS - 1 and len(expected["month"]) >= 4
        for name in NAMES:
            for group in figures[name]:
                assert group.label == label_of(name, group.key, many_settings)
        assert {
            f.key: (f.rounds, f.median_seconds, f.p90_seconds) for f in release_figures(scope)
        } == expected_releases(scope), scope_name


@pytest.mark.skipif(not ON_POSTGRESQL, reason="only PostgreSQL has the grouping sets")
def test_postgresql_and_sqlites_sql_give_a_manager_identical_figures(many_settings: Ledger) -> None:
    """The PostgreSQL query and the standard SQL SQLite runs, on the same rounds: identical
    figures, labels and order, for every grouping of a manager's page."""
    for scope_name, scope in _scopes(many_settings).items():
        assert decision_figures(scope, NAMES) == decision_figures(scope, NAMES, portable=True), (
            scope_name
        )
        assert release_figures(scope) == release_figures(scope, portable=True), scope_name


@pytest.mark.skipif(not ON_POSTGRESQL, reason="work_mem is PostgreSQL's")
def test_the_figures_sort_in_memory_for_their_own_query_only(many_settings: Ledger) -> None:
    def work_mem() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW work_mem")
            return str(cursor.fetchone()[0])

    default = work_mem()
    assert default != FIGURES_WORK_MEM
    with _reading(connection.alias, work_mem=FIGURES_WORK_MEM):
        assert work_mem() == FIGURES_WORK_MEM
    assert work_mem() == default
    decision_figures(_scopes(many_settings)["every setting"], NAMES)
    assert work_mem() == default


def test_a_managers_page_costs_the_same_queries_for_two_settings_or_ten(
    client: Any, db: Any
) -> None:
    """Every figure of every setting comes from the same few queries: adding settings (each
    with its rounds, releases, deciders) to a manager's adds none."""
    manager = UserFactory(username="morgan")
    deciders = [UserFactory(username=f"decider{n}") for n in range(3)]
    first = _settings(3)
    for setting in first[:2]:
        MembershipFactory(user=manager, organisation=setting, role=choices.Role.MANAGER)
    _rounds(_ledger(first, deciders), first[:2], 20, seed=1)
    client.force_login(manager)
    paths = (url("reports"), url("reports") + "?month_from=2026-02&month_to=2026-05")
    client.get(url("reports"))  # warm-up: session, permission caches
    budgets = {path: _queries(client, path) for path in paths}

    more = _settings(8, first=3)
    for setting in more:
        MembershipFactory(user=manager, organisation=setting, role=choices.Role.MANAGER)
    more_deciders = [UserFactory(username=f"another{n}") for n in range(5)]
    _rounds(_ledger(more, more_deciders), more, 120, seed=2)
    client.get(url("reports"))
    for path, budget in budgets.items():
        assert _queries(client, path) == budget, path
    body = client.get(url("reports")).content.decode()
    # Every setting's figures are on the page: one row per setting in "By setting".
    for setting in (*first[:2], *more):
        assert setting.name in body
    assert first[2].name not in body
