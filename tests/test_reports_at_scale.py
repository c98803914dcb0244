"""The reports' two ways of computing, and their cost as the records grow.

On PostgreSQL every grouping of the time to decision comes from one GROUPING SETS query with
percentile_disc, and the release figures from one GROUP BY; SQLite (and ``portable=True``)
ranks rounds with window functions instead. Both must give exactly the figures worked out
here in Python from the definitions (workflows/reports.py): nearest rank, each review round
counted once, each round under the urgency its decision recorded, months in UK time, times in the
wrong order or with no known start left out.

The records are written in bulk (the flow would take minutes for so many), with durations
chosen to reach the corners: ties, half seconds (rounded half to even), microseconds, group
sizes whose nearest ranks fall either side of a whole number, a month boundary in summer
time, and a returned share whose urgency was changed before it was submitted again. The
last tests drive the flow itself: the fill-in of migration cases 0013 gives the values the
service writes, and a page or an export costs the same queries however many decisions.
"""

from __future__ import annotations

import importlib
import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from cases import choices, services
from cases.models import Case, Decision, Organisation, Release, Share
from cases.services import case_team_add
from workflows.reports import (
    AFTER_DECISION,
    ALL,
    GROUPINGS,
    IN_EMERGENCY,
    TIMELINE_INSTANTS,
    ReportScope,
    csv_timelines,
    decision_figures,
    release_figures,
    share_timelines,
    utc_iso,
    whole_seconds,
)

from .factories import CaseFactory, MembershipFactory, OrganisationFactory, UserFactory
from .http_helpers import url
from .test_reports import (
    _queries,
    content_of,
    decide,
    open_review,
    propose,
    release,
    shared,
    submit,
)
from .test_reports_late import release_in_emergency

NAMES = (ALL, "urgency", "outcome", "decider", "month", "setting")
ON_POSTGRESQL = connection.vendor == "postgresql"
# Both ways where the database has both; SQLite has only the standard one.
WAYS = [
    pytest.param(True, id="standard-sql"),
    pytest.param(
        False,
        id="grouping-sets",
        marks=pytest.mark.skipif(not ON_POSTGRESQL, reason="only PostgreSQL has them"),
    ),
]


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


# --- Records in bulk --------------------------------------------------------------------------


@dataclass
class Ledger:
    oakfield: Organisation
    riverside: Organisation
    elsewhere: Organisation
    deciders: list[Any]
    cases: dict[int, Case]


@pytest.fixture
def ledger(oakfield: Organisation, riverside: Organisation) -> Ledger:
    elsewhere = Organisation.objects.create(name="Elsewhere", kind=choices.OrganisationKind.SCHOOL)
    deciders = [
        UserFactory(username="grace", first_name="Grace", last_name="Adeyemi"),
        UserFactory(username="dan"),  # no name on file: reported by username
        UserFactory(username="olu", first_name="Olu", last_name=""),
        UserFactory(username="zed", first_name="  ", last_name=" "),
    ]
    cases = {setting.pk: CaseFactory(organisation=setting) for setting in (oakfield, riverside)}
    cases[elsewhere.pk] = CaseFactory(organisation=elsewhere)
    return Ledger(oakfield, riverside, elsewhere, deciders, cases)


def new_share(
    ledger: Ledger, setting: Organisation, urgency: str, created: datetime, status: str
) -> Share:
    with time_machine.travel(created, tick=False):
        return Share.objects.create(
            case=ledger.cases[setting.pk],
            proposed_by=ledger.deciders[0],
            urgency=urgency,
            status=status,
            submitted_at=created,
        )


def decided(
    share: Share,
    by: Any,
    when: datetime,
    took: timedelta | None,
    *,
    outcome: str = choices.Outcome.APPROVE,
    late: bool = False,
    reconsiders: Decision | None = None,
) -> Decision:
    """One decision made at ``when``, its round begun ``took`` before (None: not known)."""
    with time_machine.travel(when, tick=False):
        [decision] = Decision.objects.bulk_create(
            [
                Decision(
                    share=share,
                    organisation_id=share.case.organisation_id,
                    round_started_at=None if took is None else when - took,
                    urgency=share.urgency,
                    outcome=outcome,
                    refusal_reason=(
                        choices.RefusalReason.ALREADY_HELD
                        if outcome == choices.Outcome.REFUSE
                        else ""
                    ),
                    reasons="Reasons.",
                    decided_by=by,
                    capacity=choices.DecidingCapacity.LEAD,
                    late_by=timedelta(minutes=30) if late else None,
                    reconsiders=reconsiders,
                )
            ]
        )
    return decision


def sent(share: Share, decision: Decision | None, when: datetime) -> Release:
    with time_machine.travel(when + timedelta(minutes=5), tick=False):
        return Release.objects.create(
            share=share,
            decision=decision,
            recipient_name="Sam Carter",
            recipient_agency="Northshire",
            sending_method=choices.SendingMethod.SECURE_EMAIL,
            purpose="Refer a concern.",
            content=[],
            sent_at=when,
            released_by=share.proposed_by,
        )


def durations(rng: random.Random, count: int) -> Iterable[timedelta]:
    """Times to decision with ties, half seconds and stray microseconds among them."""
    for n in range(count):
        kind = n % 5
        if kind == 0:
            yield timedelta(hours=2)  # many alike
        elif kind == 1:
            yield timedelta(seconds=rng.randrange(60, 90_000), milliseconds=500)
        else:
            yield timedelta(microseconds=rng.randrange(1, 6 * 24 * 3600 * 10**6))


@pytest.fixture
def history(ledger: Ledger) -> Ledger:
    """About 300 review rounds over January to July 2026, and what must not count."""
    rng = random.Random(20260105)
    urgencies, outcomes = choices.Urgency.values, choices.Outcome.values
    # Months either side of the change to summer time (29 March); late evenings in UTC:
    # 31 March 22:30 is still March in the UK, 30 June 23:15 is already July.
    moments = [at(1, 20, 10), at(2, 27, 16), at(3, 31, 22, 30), at(4, 15, 9), at(6, 30, 23, 15)]
    settings = (ledger.oakfield, ledger.riverside, ledger.elsewhere)
    for index, took in enumerate(durations(rng, 300)):
        setting = settings[index % 3 if index % 7 else 0]
        when = moments[index % len(moments)] + timedelta(seconds=index)
        outcome = outcomes[index % len(outcomes)]
        status = choices.ShareStatus.DRAFT if outcome == choices.Outcome.RETURN else "approved"
        share = new_share(ledger, setting, urgencies[index % 3], when - took, status)
        decision = decided(
            share,
            ledger.deciders[index % len(ledger.deciders)],
            when,
            took,
            outcome=outcome,
            late=index % 4 == 0,
        )
        if outcome == choices.Outcome.RETURN and index % 2:
            # Changed before it goes back to the lead: this round still counts under the
            # urgency it was reviewed under, which its decision recorded.
            share.urgency = urgencies[(index + 1) % 3]
            share.save(update_fields=["urgency"])
        if outcome in (choices.Outcome.APPROVE, choices.Outcome.APPROVE_IN_PART) and index % 3:
            sent(share, decision, when + timedelta(minutes=rng.randrange(1, 600), microseconds=7))
    oakfield = ledger.oakfield
    # Never counted: a reconsideration, a round with no known start, times the wrong way round.
    refused = new_share(ledger, oakfield, "urgent", at(2, 2, 9), "refused")
    refusal = decided(
        refused, ledger.deciders[0], at(2, 2, 10), timedelta(hours=1), outcome="refuse"
    )
    decided(refused, ledger.deciders[1], at(2, 9, 10), None, reconsiders=refusal)
    unknown_start = new_share(ledger, oakfield, "urgent", at(2, 3, 9), "approved")
    decided(unknown_start, ledger.deciders[0], at(2, 3, 10), None)
    backwards = new_share(ledger, oakfield, "routine", at(2, 4, 9), "approved")
    decided(backwards, ledger.deciders[0], at(2, 4, 10), timedelta(hours=-1))
    sent(backwards, None, at(2, 4, 8))  # sent before it was proposed: no time at all
    # Emergency releases: timed from the proposal.
    for hours in (1, 3, 3, 8):
        emergency = new_share(ledger, oakfield, "immediate", at(3, 2, 9), "released")
        sent(emergency, None, at(3, 2, 9) + timedelta(hours=hours, seconds=0.5))
    return ledger


# --- The definitions, in Python ---------------------------------------------------------------


def nearest_rank(ordered: list[timedelta], percentile: int) -> int | None:
    return whole_seconds(ordered[math.ceil(percentile * len(ordered) / 100) - 1])


def month_of(moment: datetime) -> datetime:
    local = timezone.localtime(moment)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def person(user: Any) -> str:
    return f"{user.first_name} {user.last_name}".strip() or user.username


KEYS: dict[str, Callable[[Decision], Any]] = {
    ALL: lambda d: 1,
    "urgency": lambda d: d.urgency,
    "outcome": lambda d: d.outcome,
    "decider": lambda d: d.decided_by_id,
    "month": lambda d: month_of(d.decided_at),
    "setting": lambda d: d.organisation_id,
}


def in_range(moment: datetime, scope: ReportScope) -> bool:
    return (scope.since is None or moment >= scope.since) and (
        scope.until is None or moment < scope.until
    )


def expected_rounds(scope: ReportScope) -> dict[str, dict[Any, tuple[int, int, int, int]]]:
    """(rounds, within deadline, median s, p90 s) per group of each grouping."""
    rounds = [
        d
        for d in Decision.objects.select_related("share", "decided_by")
        if d.share.case.organisation_id in scope.settings
        and d.reconsiders_id is None
        and d.round_started_at is not None
        and d.decided_at >= d.round_started_at
        and in_range(d.decided_at, scope)
    ]
    figures: dict[str, dict[Any, tuple[int, int, int, int]]] = {}
    for name in NAMES:
        groups: dict[Any, list[Decision]] = defaultdict(list)
        for d in rounds:
            groups[KEYS[name](d)].append(d)
        figures[name] = {}
        for key, members in groups.items():
            ordered = sorted(d.decided_at - d.round_started_at for d in members)
            on_time = sum(1 for d in members if d.late_by is None)
            figures[name][key] = (
                len(members),
                on_time,
                nearest_rank(ordered, 50),
                nearest_rank(ordered, 90),
            )
    return figures


def expected_releases(scope: ReportScope) -> dict[str, tuple[int, int, int]]:
    times: dict[str, list[timedelta]] = defaultdict(list)
    for record in Release.objects.select_related("share__case", "decision"):
        if record.share.case.organisation_id not in scope.settings:
            continue
        if not in_range(record.sent_at, scope):
            continue
        if record.decision is None:
            kind, start = IN_EMERGENCY, record.share.created_at
        else:
            kind, start = AFTER_DECISION, record.decision.decided_at
        if record.sent_at >= start:
            times[kind].append(record.sent_at - start)
    return {
        kind: (len(found), nearest_rank(sorted(found), 50), nearest_rank(sorted(found), 90))
        for kind, found in times.items()
    }


def label_of(name: str, key: Any, ledger: Ledger) -> str:
    if name == ALL:
        return "All review rounds"
    if name in ("urgency", "outcome"):
        labels = GROUPINGS[name].labels
        assert labels is not None
        return labels[key]
    if name == "decider":
        return person(next(u for u in ledger.deciders if u.pk == key))
    if name == "setting":
        return Organisation.objects.get(pk=key).name
    return key.strftime("%B %Y")


def scopes(ledger: Ledger) -> dict[str, ReportScope]:
    both = [ledger.oakfield.pk, ledger.riverside.pk]
    return {
        "one setting": ReportScope(settings=[ledger.oakfield.pk]),
        "two settings": ReportScope(settings=both),
        # From 28 February to the end of April in UK time (1 May 00:00 BST is 30 April
        # 23:00 UTC): the decisions of 27 February fall outside, those of 31 March in.
        "some months": ReportScope(settings=both, since=at(2, 28, 0), until=at(4, 30, 23)),
    }


# --- Both ways against the definitions ---------------------------------------------------------


@pytest.mark.parametrize("portable", WAYS)
def test_time_to_decision_matches_the_definitions(history: Ledger, portable: bool) -> None:
    for scope_name, scope in scopes(history).items():
        expected = expected_rounds(scope)
        found = decision_figures(scope, NAMES, portable=portable)
        for name in NAMES:
            got = {
                f.key: (f.rounds, f.on_time, f.median_seconds, f.p90_seconds) for f in found[name]
            }
            assert got == expected[name], (scope_name, name)
            for figures in found[name]:
                assert figures.label == label_of(name, figures.key, history)
    # The groups that are there to be found, found.
    months = [
        f.label for f in decision_figures(scopes(history)["two settings"], ["month"])["month"]
    ]
    assert months == ["January 2026", "February 2026", "March 2026", "April 2026", "July 2026"]


@pytest.mark.parametrize("portable", WAYS)
def test_time_to_release_matches_the_definitions(history: Ledger, portable: bool) -> None:
    for scope_name, scope in scopes(history).items():
        expected = expected_releases(scope)
        found = release_figures(scope, portable=portable)
        assert [f.key for f in found] == [
            k for k in (AFTER_DECISION, IN_EMERGENCY) if k in expected
        ]
        got = {f.key: (f.rounds, f.median_seconds, f.p90_seconds) for f in found}
        assert got == expected, scope_name


@pytest.mark.skipif(not ON_POSTGRESQL, reason="only PostgreSQL has the grouping sets")
def test_grouping_sets_and_standard_sql_give_identical_figures(history: Ledger) -> None:
    for scope in scopes(history).values():
        assert decision_figures(scope, NAMES) == decision_figures(scope, NAMES, portable=True)
        assert release_figures(scope) == release_figures(scope, portable=True)


def test_the_csv_writes_each_instant_as_the_page_reads_it(history: Ledger) -> None:
    """The database writes the CSV's UTC text; it is ``utc_iso`` of the page's instants,
    to the second (fractions of a second dropped, never rounded up)."""
    scope = scopes(history)["two settings"]
    read = {row["pk"]: row for row in share_timelines(scope)}
    written = {row["pk"]: row for row in csv_timelines(scope)}
    assert written.keys() == read.keys() and len(read) > 150
    for pk, row in written.items():
        for name in TIMELINE_INSTANTS:
            expected = utc_iso(read[pk][name]) or None
            assert row[f"{name}_utc"] == expected, (pk, name)
    # Among them, instants with fractions of a second (proposed at a decision less a time
    # taken to the microsecond) and half seconds.
    assert {row["created_at"].microsecond for row in read.values()} - {0, 500_000}
    assert any(row["created_at"].microsecond == 500_000 for row in read.values())


@pytest.mark.parametrize("portable", WAYS)
def test_nearest_ranks_for_group_sizes(ledger: Ledger, portable: bool) -> None:
    """Group sizes whose 50th and 90th percentile ranks fall on and either side of a whole
    number: n rounds taking 1, 2, ... n minutes, each group decided by a decider of its own.
    The p-th percentile of n is the ceil(p * n / 100)-th time: for 10, the 5th and the 9th;
    for 11, the 6th and the 10th; for 70, the 35th and the 63rd."""
    sizes = (1, 2, 3, 9, 10, 11, 19, 20, 21, 69, 70, 71)
    shuffle = random.Random(7)
    for size in sizes:
        decider = UserFactory(username=f"decider{size:03d}")
        minutes = list(range(1, size + 1))
        shuffle.shuffle(minutes)
        for taken in minutes:
            share = new_share(ledger, ledger.oakfield, "urgent", at(5, 1, 9), "approved")
            decided(share, decider, at(5, 1, 12), timedelta(minutes=taken))
    rows = decision_figures(
        ReportScope(settings=[ledger.oakfield.pk]), ["decider"], portable=portable
    )["decider"]
    found = {f.rounds: (f.median_seconds, f.p90_seconds) for f in rows}
    assert found == {n: (60 * math.ceil(n * 50 / 100), 60 * math.ceil(n * 90 / 100)) for n in sizes}
    assert found[10] == (5 * 60, 9 * 60) and found[11] == (6 * 60, 10 * 60)
    assert found[70] == (35 * 60, 63 * 60)


# --- Through the flow -----------------------------------------------------------------------------


@pytest.fixture
def rounds_through_the_flow(
    oakfield: Organisation, practitioner: Any, lead: Any, deputy: Any, recipient: Any
) -> list[Share]:
    """A returned share submitted again, an emergency release reviewed afterwards, a refusal
    reconsidered: every kind of round the fill-in of existing decisions must place."""
    case = CaseFactory(organisation=oakfield, reference="OAK-300")
    case_team_add(case=case, user=practitioner)
    p, urgent = practitioner, choices.Urgency.URGENT
    returned = shared(
        case, p, recipient, urgency=urgent, created=at(1, 5, 8), submitted=at(1, 5, 9)
    )
    open_review(returned, lead, at(1, 5, 9, 20))
    decide(returned, lead, at(1, 5, 11), choices.Outcome.RETURN)
    submit(returned, p, at(1, 6, 9))
    decide(returned, deputy, at(1, 6, 10), choices.Outcome.APPROVE)
    release(returned, p, recorded=at(1, 6, 10, 30), sent=at(1, 6, 10, 20))
    emergency = propose(case, p, recipient, at(1, 7, 16), choices.Urgency.IMMEDIATE)
    release_in_emergency(emergency, p, recorded=at(1, 7, 16, 30), sent=at(1, 7, 16, 20))
    decide(emergency, lead, at(1, 8, 9), choices.Outcome.APPROVE)
    refused = shared(case, p, recipient, urgency=urgent, created=at(1, 9, 8), submitted=at(1, 9, 9))
    decide(refused, lead, at(1, 9, 12), choices.Outcome.REFUSE)
    with time_machine.travel(at(1, 12, 9), tick=False):
        services.decision_reconsider(
            share=refused, user=deputy, outcome=choices.Outcome.APPROVE, reasons="New concern."
        )
    return [returned, emergency, refused]


def test_the_service_records_each_rounds_start_setting_and_urgency(
    rounds_through_the_flow: list[Share], oakfield: Organisation
) -> None:
    returned, emergency, refused = rounds_through_the_flow
    rows = list(
        Decision.objects.order_by("pk").values_list(
            "share", "outcome", "round_started_at", "organisation", "urgency"
        )
    )
    assert rows == [
        (returned.pk, "return", at(1, 5, 9), oakfield.pk, "urgent"),
        (returned.pk, "approve", at(1, 6, 9), oakfield.pk, "urgent"),
        (emergency.pk, "approve", at(1, 7, 16, 30), oakfield.pk, "immediate"),
        (refused.pk, "refuse", at(1, 9, 9), oakfield.pk, "urgent"),
        (refused.pk, "approve", None, oakfield.pk, "urgent"),  # a reconsideration: no round
    ]


def test_the_fill_in_of_existing_decisions_gives_what_the_service_writes(
    rounds_through_the_flow: list[Share],
) -> None:
    migration = importlib.import_module("cases.migrations.0013_decision_setting_and_round_start")
    columns = ("pk", "organisation", "round_started_at", "urgency")
    written = list(Decision.objects.order_by("pk").values_list(*columns))
    with connection.cursor() as cursor:
        cursor.execute(migration.FILL_IN)
    assert list(Decision.objects.order_by("pk").values_list(*columns)) == written


def test_each_release_records_its_setting_and_when_its_time_to_release_began(
    rounds_through_the_flow: list[Share], oakfield: Organisation
) -> None:
    returned, emergency, _ = rounds_through_the_flow
    rows = list(Release.objects.order_by("pk").values_list("share", "organisation", "timed_from"))
    assert rows == [
        (returned.pk, oakfield.pk, at(1, 6, 10)),  # the approval it acted on
        (emergency.pk, oakfield.pk, at(1, 7, 16)),  # sent before any decision: the proposal
    ]


def test_the_fill_in_of_existing_releases_gives_what_a_release_records(
    rounds_through_the_flow: list[Share],
) -> None:
    migration = importlib.import_module("cases.migrations.0016_release_setting_and_timed_from")
    columns = ("pk", "organisation", "timed_from")
    written = list(Release.objects.order_by("pk").values_list(*columns))
    elsewhere = OrganisationFactory(name="Elsewhere Nursery")
    with connection.cursor() as cursor:
        # Wrong values first, for the fill-in to put right.
        cursor.execute(
            "UPDATE cases_release SET timed_from = sent_at, organisation_id = %s", [elsewhere.pk]
        )
        cursor.execute(migration.FILL_IN)
    assert list(Release.objects.order_by("pk").values_list(*columns)) == written


# --- Cost -------------------------------------------------------------------------------------


def test_a_managers_page_and_export_cost_the_same_however_many_decisions(
    client: Any, ledger: Ledger
) -> None:
    manager = UserFactory(username="morgan")
    for setting in (ledger.oakfield, ledger.riverside):
        MembershipFactory(user=manager, organisation=setting, role=choices.Role.MANAGER)
    client.force_login(manager)
    paths = (url("reports"), url("reports_export"), url("reports") + "?month_from=2026-02")

    def grow(count: int, seed: int) -> None:
        rng = random.Random(seed)
        for index, took in enumerate(durations(rng, count)):
            setting = (ledger.oakfield, ledger.riverside)[index % 2]
            when = at(1 + index % 6, 10, 9) + timedelta(minutes=index)
            share = new_share(ledger, setting, choices.Urgency.values[index % 3], when, "approved")
            decision = decided(share, ledger.deciders[index % 4], when + took, took)
            if index % 2:
                sent(share, decision, when + took + timedelta(hours=1))

    grow(6, 1)
    client.get(url("reports"))  # warm-up: session, permission caches
    budgets = {path: _queries(client, path) for path in paths}
    grow(250, 2)
    for path, budget in budgets.items():
        assert _queries(client, path) <= budget, path
    rows = content_of(client.get(url("reports_export"))).split("\r\n")
    assert len(rows) == 1 + 256 + 1
