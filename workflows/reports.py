"""Timing reports: how long each share's steps took, against its deadline.

Every figure is computed by the database, so a report costs the same handful of queries
for ten shares or a million; Python only formats the few rows that come back.

Definitions (shown to readers on the page too):

- A *review round* runs from a submission to the decision that closes it. A share returned
  for more information and submitted again has one round per submission, and **each round
  counts** in the figures: each submission set its own deadline, each decision records
  its own ``late_by``, and a "return" is the lead's answer to that round. Counting only
  the latest round would hide the lead's time on every returned round.
- *Time to decision* is the round's submission to its decision. The decision records when
  its round began (``Decision.round_started_at``) as it is written: the share's latest
  submission (or emergency release), which is the one it answers, and which a later
  submission no longer overwrites for it. Decisions written before that column existed
  were given what the reports computed for them until then (migration cases 0013): the
  share's submission when decided at or after it, else when the lead-review task of its
  round was created, which the flow does in the same transaction as the submission.
- *By urgency*: a round counts under the urgency it was reviewed under, which set its
  deadline; its decision records it. A returned share given another urgency before it is
  submitted again counts under that one from its next round, never retrospectively.
- *Within deadline*: the decision's ``late_by`` is empty.
- *Time to release* is from the decision a release acted on to when it was sent. An
  emergency release is sent before any decision (the lead reviews it afterwards), so it
  has no time from decision: its figure is the time from proposal to release, reported as
  a row of its own rather than mixed in as a negative time.
- A duration is only ever reported when its end is not before its start: a pair of times
  in the wrong order (say, records entered by hand) shows no figure, never a negative one.
- *Late now*: an open review (a share awaiting review, or released in an emergency and
  awaiting its retrospective review) whose deadline has passed, as of the moment the
  report is read, whatever months are chosen.
- Percentiles use the **nearest-rank** method: the p-th percentile of n values sorted
  ascending is the value at rank ceil(p/100 * n). It is always a time some round really
  took, it needs no interpolation (so both databases give identical answers), and for the
  median of an even count it is the lower of the two middle values.

How the figures are computed, and why it stays fast at a million decisions:

- Decisions carry their setting (``Decision.organisation``, indexed with ``decided_at``),
  their round's start and the urgency the round was reviewed under, all written with the
  decision and never changed, so the review rounds of a report are read with no join and
  no look-up per decision.
- On PostgreSQL every grouping of the time to decision (all rounds, by urgency, outcome,
  decider, month and setting) comes from **one query**: GROUPING SETS, with each group's
  count, its count within deadline (``COUNT(*) FILTER``) and both percentiles from one
  ``percentile_disc(ARRAY[0.5, 0.9])`` over the durations in whole microseconds (integers
  sort several times faster than intervals). ``percentile_disc(f)`` returns the value at
  rank ceil(f * n) with f * n computed in double precision: 0.5 * n is exact, and 0.9 * n
  comes out as exactly 9n/10 whenever that is a whole number (checked for every n below
  10^8) and at least a tenth away from one otherwise, so both are the nearest ranks above.
  Names (of deciders and settings) are joined to the few grouped rows, not to every
  decision.
- SQLite has neither GROUPING SETS nor percentile_disc. There each grouping is one query
  (``figures_by``) that ranks the rounds with window functions (ROW_NUMBER beside the
  group's size) and keeps only the rows at the two ranks: standard SQL, slower, and fine
  for the small installs SQLite serves. ``tests/test_reports_at_scale.py`` proves both
  ways give identical figures.
- Each share's timeline joins the decision that closed its latest round, the release and
  the latest lead-review task; a share's latest decision and latest task are found through
  their indexes, once each. The page reads only the timelines of the shares it shows,
  after counting and paging share numbers alone. The CSV streams from a server-side cursor, inside a
  transaction on PostgreSQL (a cursor declared outside one is held past its commit, which
  computes every row before the first is sent), planned for its first rows: the shares in
  primary key order, each share's records found through their indexes as it goes.
- On PostgreSQL the report's queries run with JIT compilation off: their work is index
  look-ups and sorts, which JIT does not speed up, and compiling their many expressions
  took longer than running them. The grouping sets' query may sort in memory
  (``FIGURES_WORK_MEM``, for that query's transaction only): with the server's default it
  wrote its sorts to disk once the rounds passed a few tens of thousands.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections, transaction
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    CharField,
    Count,
    DateTimeField,
    DurationField,
    Expression,
    ExpressionWrapper,
    F,
    FilteredRelation,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, Concat, NullIf, RowNumber, Trim, TruncMonth
from django.utils import timezone
from viewflow.workflow.models import Task

from cases.choices import UNDER_REVIEW, Outcome, ShareStatus, Urgency
from cases.deadlines import time_left
from cases.models import Decision, Organisation, Release, Share

from .flows import ShareFlow

MEDIAN, P90 = 50, 90


@dataclass(frozen=True)
class ReportScope:
    """Which records a report covers. ``settings`` comes from ``permissions`` only."""

    settings: Sequence[int]
    since: datetime | None = None  # inclusive: the start of the first month
    until: datetime | None = None  # exclusive: the start of the month after the last


def _elapsed(end: str, start: str) -> Case:
    """``end - start``, or nothing when ``end`` is before ``start``: never a negative time."""
    return Case(
        When(**{f"{end}__gte": F(start)}, then=F(end) - F(start)),
        default=None,
        output_field=DurationField(),
    )


def _on_postgresql(queryset: QuerySet[Any]) -> bool:
    return connections[queryset.db].vendor == "postgresql"


# Memory for the sorts of the grouping sets of time to decision (``_grouping_sets``), set
# for that one query only. Over a million review rounds its first sort holds 118 MB of
# rows; with the server's default (4 MB) every sort of its five rollups spilled to disk,
# writing and reading back some 660 MB of temporary files, and the query took 40% longer
# (medians of interleaved runs on the benchmark's million decisions, on a busy machine:
# 10.2 s with the default, 7.3 s with this). A sort takes only the memory its rows need,
# so a setting's or a month's report uses a few MB whatever this says; it is the most one
# sort may take.
FIGURES_WORK_MEM = "128MB"

# The planner's price of a parallel plan, lowered for the figures' queries only, so that
# PostgreSQL's workers scan the rounds (or releases) and sort them by the first grouping
# between them, the leader merging their sorted runs. Their aggregates (percentile_disc)
# cannot be split between workers, and with the server's defaults, which price every row
# handed from a worker to the leader as a tenth of reading a page, the planner kept the
# whole query in one process. On the benchmark's million decisions, on a quiet machine, a
# manager's figures took 3.6 s with these and 3.9 s without (medians of alternating runs);
# the rollups after the first grouping, in the leader alone, are most of what is left. A
# setting's own report reads a few thousand rows through its index whatever these say.
PARALLEL_SCAN = {"parallel_setup_cost": "100", "parallel_tuple_cost": "0.01"}


@contextmanager
def _reading(
    using: str, *, streaming: bool = False, work_mem: str | None = None, parallel: bool = False
) -> Iterator[None]:
    """One transaction for a report's big reads on PostgreSQL, with JIT compilation off.

    The transaction also keeps a server-side cursor from being declared WITH HOLD, which
    would compute every row before the first is sent; ``streaming`` plans the cursor's query
    for its first rows (index scans in share order), not for all of them at once, so the
    first row goes out at once however many follow. ``work_mem`` lets the query's sorts
    take that much memory each; SET LOCAL ends with the transaction, and a block that is
    only a savepoint puts it back, so no other query on the connection gets it. On SQLite
    nothing is opened: there every transaction takes the write lock (config.settings),
    which a long read must not.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield
        return
    settings = {"jit": "off"}
    if streaming:
        settings["cursor_tuple_fraction"] = "0.0001"
    if work_mem is not None:
        settings["work_mem"] = work_mem
    if parallel:
        settings.update(PARALLEL_SCAN)
    # Begun inside another transaction (a test's, or a caller's), this block is only a
    # savepoint, and a setting made for the transaction would outlast it: each is put back.
    nested = connection.in_atomic_block
    names = list(settings)
    with transaction.atomic(using=using):
        with connection.cursor() as cursor:
            # All in one statement, each value read before it is set: set_config(..., true)
            # is SET LOCAL, with the values as parameters (SET takes none).
            cursor.execute(
                "SELECT "
                + ", ".join("current_setting(%s)" for _ in names)
                + ", "
                + ", ".join("set_config(%s, %s, true)" for _ in names),
                [*names, *(part for setting in settings.items() for part in setting)],
            )
            before = cursor.fetchone()[: len(names)]
        yield
        if nested:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT " + ", ".join("set_config(%s, %s, true)" for _ in names),
                    [part for pair in zip(names, before, strict=True) for part in pair],
                )


def _rows(
    queryset: QuerySet[Any],
    sql: str,
    params: Sequence[Any],
    *,
    work_mem: str | None = None,
    parallel: bool = False,
) -> list[dict[str, Any]]:
    reading = _reading(queryset.db, work_mem=work_mem, parallel=parallel)
    with reading, connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _sql_of(queryset: QuerySet[Any]) -> tuple[str, tuple[Any, ...]]:
    return queryset.query.get_compiler(using=queryset.db).as_sql()


class _Microseconds(Func):
    """A duration in whole microseconds, on PostgreSQL: exact, and sorted much faster than
    an interval (an integer compares in one instruction)."""

    template = "(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)::bigint"
    output_field = BigIntegerField()


def _duration(microseconds: int | None) -> timedelta | None:
    return None if microseconds is None else timedelta(microseconds=microseconds)


# --- Review rounds -----------------------------------------------------------------------


def _person_name(prefix: str) -> Expression:
    """A member of staff's full name, or their username when they have none on file."""
    full = Trim(Concat(F(f"{prefix}first_name"), Value(" "), F(f"{prefix}last_name")))
    return Coalesce(NullIf(full, Value("")), F(f"{prefix}username"), output_field=CharField())


def review_rounds(scope: ReportScope) -> QuerySet[Decision]:
    """Every review round decided within the scope: one decision each, with its duration.

    Read through the (organisation, decided_at) index; no join is needed to choose them.
    """
    rounds = Decision.objects.filter(
        organisation__in=scope.settings,
        # A reconsideration answers no review round: it is the same lead looking again.
        reconsiders__isnull=True,
        # A round with no known start (a decision made outside the flow) has no duration,
        # nor has one whose times are in the wrong order; leaving them out also keeps the
        # ranking identical on both databases, which sort NULLs at opposite ends.
        round_started_at__isnull=False,
        decided_at__gte=F("round_started_at"),
    )
    if scope.since is not None:
        rounds = rounds.filter(decided_at__gte=scope.since)
    if scope.until is not None:
        rounds = rounds.filter(decided_at__lt=scope.until)
    return rounds.annotate(
        to_decision=ExpressionWrapper(
            F("decided_at") - F("round_started_at"), output_field=DurationField()
        )
    ).order_by()


# --- Figures per group ---------------------------------------------------------------------


@dataclass
class Figures:
    """Times for one group: of review rounds to decision, or of releases to release.

    ``rounds`` is how many were counted; ``on_time`` (within deadline) is for review rounds.
    """

    key: Any
    label: str
    rounds: int
    on_time: int
    median_seconds: int | None = None
    p90_seconds: int | None = None

    @property
    def on_time_percent(self) -> float:
        return 100 * self.on_time / self.rounds if self.rounds else 0.0

    @property
    def median_hours(self) -> float:
        return (self.median_seconds or 0) / 3600

    @property
    def p90_hours(self) -> float:
        return (self.p90_seconds or 0) / 3600

    @property
    def median_text(self) -> str:
        return format_duration(self.median_seconds)

    @property
    def p90_text(self) -> str:
        return format_duration(self.p90_seconds)


def _decider_names() -> QuerySet[Any, dict[str, Any]]:
    return (
        get_user_model()
        .objects.annotate(name_key=F("pk"), group_name=_person_name(""))
        .values("name_key", "group_name")
        .order_by()
    )


def _setting_names() -> QuerySet[Any, dict[str, Any]]:
    return (
        Organisation.objects.annotate(name_key=F("pk"), group_name=F("name"))
        .values("name_key", "group_name")
        .order_by()
    )


@dataclass(frozen=True)
class Grouping:
    """A way of grouping review rounds: the SQL expression and how to name each group."""

    name: str
    title: str
    key: Expression | F
    # Each group is named from a fixed vocabulary, or from a column read with its figures
    # (``name_column``, per round, by ``figures_by``; ``names``, once per group, by the
    # grouping sets: a query of each key's ``name_key`` and ``group_name``).
    labels: Mapping[str, str] | None = None
    name_column: Expression | F | None = None
    names: Callable[[], QuerySet[Any, dict[str, Any]]] | None = None
    order: tuple[str, ...] = ()

    def label(self, key: Any, row: dict[str, Any]) -> str:
        if self.labels is not None:
            return self.labels.get(key, str(key))
        if self.name_column is not None:
            return row["group_name"]
        if isinstance(key, datetime):
            return key.strftime("%B %Y")
        return self.title


STATUS_LABELS = dict(ShareStatus.choices)
URGENCY_LABELS = dict(Urgency.choices)
OUTCOME_LABELS = dict(Outcome.choices)
ALL = "all"

GROUPINGS: dict[str, Grouping] = {
    grouping.name: grouping
    for grouping in (
        Grouping(ALL, "All review rounds", Value(1, output_field=IntegerField())),
        Grouping(
            "urgency",
            "By urgency",
            # The urgency the round was reviewed under, which set its deadline: recorded by
            # its decision. A returned share given another urgency before it goes back is
            # reviewed under that one in its next round, which its next decision records.
            F("urgency"),
            labels=URGENCY_LABELS,
            order=tuple(Urgency.values),
        ),
        Grouping(
            "outcome",
            "By outcome",
            F("outcome"),
            labels=OUTCOME_LABELS,
            order=tuple(Outcome.values),
        ),
        Grouping(
            "decider",
            "By decider",
            F("decided_by"),
            name_column=_person_name("decided_by__"),
            names=_decider_names,
        ),
        # Months in the site's timezone (the current one), as people count them.
        Grouping("month", "By month", TruncMonth("decided_at")),
        Grouping(
            "setting",
            "By setting",
            F("organisation"),
            name_column=F("organisation__name"),
            names=_setting_names,
        ),
    )
}


def _nearest_rank(percentile: int) -> ExpressionWrapper:
    """ceil(p/100 * n) in integer arithmetic, which both databases do exactly."""
    return ExpressionWrapper((F("group_size") * percentile + 99) / 100, output_field=IntegerField())


def _at_nearest_ranks(
    grouped: QuerySet[Any], duration: str, on_time: Q | None = None
) -> QuerySet[Any]:
    """The rows of each ``group_key`` at the median's and the p90's nearest rank by ``duration``.

    Each row is ranked by duration within its group (ROW_NUMBER) beside the group's size and,
    given ``on_time``, how many of the group meet it (window aggregates); only the rows at
    the two ranks come back, at most two per group.
    """
    partition = [F("group_key")]
    windows: dict[str, Window] = {
        "row_rank": Window(
            RowNumber(), partition_by=partition, order_by=[F(duration).asc(), F("pk").asc()]
        ),
        "group_size": Window(Count("pk"), partition_by=partition),
    }
    if on_time is not None:
        windows["group_on_time"] = Window(
            Sum(Case(When(on_time, then=1), default=0)), partition_by=partition
        )
    return (
        grouped.annotate(**windows)
        .annotate(median_rank=_nearest_rank(MEDIAN), p90_rank=_nearest_rank(P90))
        .filter(Q(row_rank=F("median_rank")) | Q(row_rank=F("p90_rank")))
    )


def _figures_from(
    rows: Iterable[dict[str, Any]], duration: str, label: Callable[[Any, dict[str, Any]], str]
) -> dict[Any, Figures]:
    groups: dict[Any, Figures] = {}
    for row in rows:
        key = row["group_key"]
        figures = groups.get(key)
        if figures is None:
            figures = groups[key] = Figures(
                key=key,
                label=label(key, row),
                rounds=row["group_size"],
                on_time=row.get("group_on_time") or 0,
            )
        seconds = whole_seconds(row[duration])
        # One row can be both ranks (a group of one).
        if row["row_rank"] == row["median_rank"]:
            figures.median_seconds = seconds
        if row["row_rank"] == row["p90_rank"]:
            figures.p90_seconds = seconds
    return groups


def figures_by(rounds: QuerySet[Decision], grouping: Grouping) -> list[Figures]:
    """Count, within-deadline count, median and p90 time to decision for each group.

    One query in standard SQL (the way SQLite computes every grouping): only the rows at
    the median's and the 90th percentile's nearest rank come back, at most two per group.
    """
    annotated = rounds.annotate(group_key=grouping.key)
    extra: tuple[str, ...] = ()
    if grouping.name_column is not None:
        annotated, extra = annotated.annotate(group_name=grouping.name_column), ("group_name",)
    ranked = _at_nearest_ranks(annotated, "to_decision", on_time=Q(late_by__isnull=True)).values(
        "group_key",
        "to_decision",
        "row_rank",
        "median_rank",
        "p90_rank",
        "group_size",
        "group_on_time",
        *extra,
    )
    return _in_order(_figures_from(ranked, "to_decision", grouping.label), grouping)


# Both nearest ranks from one sort of each group (see the module docstring).
_PERCENTILES = f"PERCENTILE_DISC(ARRAY[{MEDIAN / 100}, {P90 / 100}]) WITHIN GROUP (ORDER BY {{}})"


def _grouping_sets(
    rounds: QuerySet[Decision], groupings: Sequence[Grouping]
) -> dict[str, list[Figures]]:
    """Every grouping's figures from one PostgreSQL query: GROUPING SETS over the rounds."""
    keyed = [grouping for grouping in groupings if grouping.name != ALL]
    rounds_sql, params = _sql_of(
        rounds.annotate(**{f"key_{g.name}": g.key for g in keyed})
        .annotate(
            round_us=_Microseconds("to_decision"),
            round_on_time=ExpressionWrapper(Q(late_by__isnull=True), output_field=BooleanField()),
        )
        .values("round_us", "round_on_time", *(f"key_{g.name}" for g in keyed))
    )
    sets = [f'("key_{g.name}")' for g in keyed]
    if len(keyed) < len(groupings):
        sets.append("()")  # every round together
    columns = [f'"key_{g.name}", GROUPING("key_{g.name}") AS "apart_{g.name}"' for g in keyed]
    names, joins, all_params = [], [], list(params)
    for g in keyed:
        if g.names is not None:
            names_sql, names_params = _sql_of(g.names())
            names.append(f', "names_{g.name}"."group_name" AS "name_{g.name}"')
            joins.append(
                f'LEFT JOIN ({names_sql}) AS "names_{g.name}" '
                f'ON "names_{g.name}"."name_key" = figures."key_{g.name}"'
            )
            all_params.extend(names_params)
    # Only SQL built here from fixed names and Django's own compiled queries; every value
    # is a parameter.
    sql = f"""
        SELECT figures.*{"".join(names)}
        FROM (
            SELECT {"".join(column + ", " for column in columns)}
                COUNT(*) AS group_size,
                COUNT(*) FILTER (WHERE rounds."round_on_time") AS group_on_time,
                {_PERCENTILES.format('rounds."round_us"')} AS ranks
            FROM ({rounds_sql}) AS rounds
            GROUP BY GROUPING SETS ({", ".join(sets)})
        ) AS figures
        {" ".join(joins)}
    """  # noqa: S608
    found: dict[str, dict[Any, Figures]] = {grouping.name: {} for grouping in groupings}
    for row in _rows(rounds, sql, all_params, work_mem=FIGURES_WORK_MEM, parallel=True):
        if not row["group_size"]:
            continue  # the set of every round, when there is none
        grouping = next((g for g in keyed if row[f"apart_{g.name}"] == 0), GROUPINGS[ALL])
        key = row[f"key_{grouping.name}"] if grouping.name != ALL else 1
        if isinstance(key, datetime) and timezone.is_naive(key):
            # A month truncated in the site's timezone comes back as its local midnight.
            key = timezone.make_aware(key)
        found[grouping.name][key] = _ranked_figures(
            row,
            key,
            grouping.label(key, {"group_name": row.get(f"name_{grouping.name}")}),
            on_time=row["group_on_time"],
        )
    return {grouping.name: _in_order(found[grouping.name], grouping) for grouping in groupings}


def _ranked_figures(row: dict[str, Any], key: Any, label: str, *, on_time: int = 0) -> Figures:
    """One group's figures from a PostgreSQL row: its size and its two nearest ranks
    (``_PERCENTILES``, in whole microseconds)."""
    median, p90 = row["ranks"]
    return Figures(
        key=key,
        label=label,
        rounds=row["group_size"],
        on_time=on_time,
        median_seconds=whole_seconds(_duration(median)),
        p90_seconds=whole_seconds(_duration(p90)),
    )


def decision_figures(
    scope: ReportScope, names: Sequence[str], *, portable: bool = False
) -> dict[str, list[Figures]]:
    """The figures of time to decision for each grouping named (``GROUPINGS``), in order.

    On PostgreSQL one query computes them all; ``portable`` (and SQLite) computes each
    grouping with ``figures_by``, one query each, in standard SQL.
    """
    rounds = review_rounds(scope)
    groupings = [GROUPINGS[name] for name in names]
    if portable or not _on_postgresql(rounds):
        return {grouping.name: figures_by(rounds, grouping) for grouping in groupings}
    return _grouping_sets(rounds, groupings)


# --- Time to release ---------------------------------------------------------------------------

AFTER_DECISION, IN_EMERGENCY = "after_decision", "in_emergency"
RELEASE_LABELS = {
    AFTER_DECISION: "Released after a decision: time from decision to release",
    IN_EMERGENCY: "Released in an emergency: time from proposal to release",
}


def release_figures(scope: ReportScope, *, portable: bool = False) -> list[Figures]:
    """Count, median and p90 time to release, releases after a decision and emergency ones
    apart (in that order; a kind with no release has no row). One query: two filtered
    aggregates with percentile_disc on PostgreSQL, window functions with ``portable`` and
    on SQLite.

    Each release records its setting and when its time began (``Release.timed_from``: the
    decision it acted on, or for an emergency release, sent before any decision, the
    proposal; measured from its retrospective review it would be negative), so a setting's
    releases are read from one index with no join. Months are those of the release (when
    it was sent).
    """
    releases = _releases_in(scope)
    if not portable and _on_postgresql(releases):
        return _release_figures_filtered(releases)
    grouped = releases.annotate(
        group_key=Case(
            When(decision__isnull=True, then=Value(IN_EMERGENCY)),
            default=Value(AFTER_DECISION),
            output_field=CharField(),
        )
    )
    ranked = _at_nearest_ranks(grouped, "to_release").values(
        "group_key", "to_release", "row_rank", "median_rank", "p90_rank", "group_size"
    )
    groups = _figures_from(ranked, "to_release", lambda key, row: RELEASE_LABELS[key])
    return [groups[kind] for kind in RELEASE_LABELS if kind in groups]


def _releases_in(scope: ReportScope) -> QuerySet[Release]:
    """The scope's releases with their time to release, through the (organisation, sent_at)
    index; one sent before its time began (records entered by hand) has none and is left out."""
    releases = Release.objects.filter(organisation__in=scope.settings)
    if scope.since is not None:
        releases = releases.filter(sent_at__gte=scope.since)
    if scope.until is not None:
        releases = releases.filter(sent_at__lt=scope.until)
    return (
        releases.annotate(to_release=_elapsed("sent_at", "timed_from"))
        .filter(to_release__isnull=False)
        .order_by()
    )


def _release_figures_filtered(releases: QuerySet[Release]) -> list[Figures]:
    """``release_figures`` on PostgreSQL: each kind's count and percentiles are aggregates
    filtered by kind over one scan, so no row is sorted by its kind first."""
    releases_sql, params = _sql_of(
        releases.annotate(
            in_emergency=ExpressionWrapper(Q(decision__isnull=True), output_field=BooleanField()),
            release_us=_Microseconds("to_release"),
        ).values("in_emergency", "release_us")
    )
    kinds = {AFTER_DECISION: "NOT releases.in_emergency", IN_EMERGENCY: "releases.in_emergency"}
    columns = ", ".join(
        f"COUNT(*) FILTER (WHERE {where}) AS size_{kind}, "
        f"{_PERCENTILES.format('releases.release_us')} FILTER (WHERE {where}) AS ranks_{kind}"
        for kind, where in kinds.items()
    )
    # Only SQL built here from fixed names and Django's own compiled query; every value is
    # a parameter.
    sql = f"SELECT {columns} FROM ({releases_sql}) AS releases"  # noqa: S608
    [row] = _rows(releases, sql, params, parallel=True)
    return [
        _ranked_figures(
            {"group_size": row[f"size_{kind}"], "ranks": row[f"ranks_{kind}"]},
            kind,
            RELEASE_LABELS[kind],
        )
        for kind in kinds
        if row[f"size_{kind}"]
    ]


# --- Late now ------------------------------------------------------------------------------------

# A share whose review is still to come: the lead's decision, or the retrospective review of
# what was already sent in an emergency.
OPEN_REVIEW = tuple(sorted(UNDER_REVIEW))


@dataclass(frozen=True)
class LateReviews:
    """One setting's open reviews past their deadline, at the moment the report was read."""

    setting: str
    count: int
    retrospective: int  # of which retrospective reviews of emergency releases
    oldest_share: int | None = None
    oldest_reference: str = ""
    oldest_due: datetime | None = None
    oldest_overdue_by: str = ""  # in words: "overdue by 2 days 1 hour"
    oldest_overdue_seconds: int | None = None


def late_reviews(
    settings: Iterable[Organisation], now: datetime | None = None
) -> list[LateReviews]:
    """Per setting (every one given, in name order, none late included): how many open
    reviews are past their deadline now, and the one most overdue.

    One query whatever the number of shares: each late review is ranked by deadline within
    its setting (ROW_NUMBER) beside its setting's counts (window aggregates), and only each
    setting's most overdue comes back. Open reviews are found through the (status, case)
    index of shares.
    """
    now = now or timezone.now()
    settings = sorted(settings, key=lambda s: s.name.casefold())
    partition = [F("case__organisation")]
    most_overdue = (
        Share.objects.filter(
            case__organisation__in=[s.pk for s in settings],
            status__in=OPEN_REVIEW,
            review_due_at__lt=now,
        )
        .annotate(
            lateness_rank=Window(
                RowNumber(),
                partition_by=partition,
                order_by=[F("review_due_at").asc(), F("pk").asc()],
            ),
            late_count=Window(Count("pk"), partition_by=partition),
            retrospective_count=Window(
                Sum(Case(When(status=ShareStatus.RELEASED_IN_EMERGENCY, then=1), default=0)),
                partition_by=partition,
            ),
        )
        .filter(lateness_rank=1)
        .values(
            "pk",
            "case__organisation",
            "case__reference",
            "review_due_at",
            "late_count",
            "retrospective_count",
        )
    )
    by_setting = {row["case__organisation"]: row for row in most_overdue}
    late = []
    for setting in settings:
        row = by_setting.get(setting.pk)
        if row is None:
            late.append(LateReviews(setting=setting.name, count=0, retrospective=0))
            continue
        due = row["review_due_at"]
        late.append(
            LateReviews(
                setting=setting.name,
                count=row["late_count"],
                retrospective=row["retrospective_count"] or 0,
                oldest_share=row["pk"],
                oldest_reference=row["case__reference"],
                oldest_due=due,
                oldest_overdue_by=time_left(due, now)[0],
                oldest_overdue_seconds=whole_seconds(now - due),
            )
        )
    return late


def _in_order(groups: dict[Any, Figures], grouping: Grouping) -> list[Figures]:
    if grouping.order:
        position = {key: index for index, key in enumerate(grouping.order)}
        return sorted(groups.values(), key=lambda f: position.get(f.key, len(position)))
    if grouping.name == "month":
        return sorted(groups.values(), key=lambda f: f.key)
    return sorted(groups.values(), key=lambda f: f.label.casefold())


def whole_seconds(duration: timedelta | None) -> int | None:
    """Seconds, rounded to the nearest whole one: reports do not need microseconds."""
    return None if duration is None else round(duration.total_seconds())


# --- One timeline per share -----------------------------------------------------------------

TIMELINE_COLUMNS = (
    "share_id",
    "case_reference",
    "setting",
    "urgency",
    "status",
    "outcome",
    "decided_by",
    "capacity",
    "review_rounds",
    "created_at",
    "submitted_at",
    "picked_up_at",
    "decided_at",
    "released_at",
    "release_recorded_at",
    "deadline",
    "draft_seconds",
    "to_pick_up_seconds",
    "to_decision_seconds",
    "to_release_seconds",
    "total_seconds",
    "within_deadline",
    "late_by_seconds",
    # Added after the original columns, so spreadsheets built on those keep working.
    "released_in_emergency",
    "overdue_seconds",
)


def shares_in(scope: ReportScope) -> QuerySet[Share]:
    """The shares of the scope's settings; with a month range, those proposed or decided in it.

    Cheap to count and to page through: no decision or task is read per share, and the
    decisions in range are found once, through the (organisation, decided_at) index.
    """
    shares = Share.objects.filter(case__organisation__in=scope.settings)
    if scope.since is None and scope.until is None:
        return shares
    created, decided = Q(), Q()
    if scope.since is not None:
        created &= Q(created_at__gte=scope.since)
        decided &= Q(decided_at__gte=scope.since)
    if scope.until is not None:
        created &= Q(created_at__lt=scope.until)
        decided &= Q(decided_at__lt=scope.until)
    decided_in_range = Decision.objects.filter(decided, organisation__in=scope.settings)
    return shares.filter(created | Q(pk__in=decided_in_range.values("share")))


# The instants of a share's timeline, as the page shows them and the CSV writes them.
TIMELINE_INSTANTS = (
    "created_at",
    "submitted_at",
    "picked_up_at",
    "decided_at",
    "released_at",
    "release_recorded_at",
    "review_due_at",
)
_TIMELINE_FIGURES = (
    "pk",
    "case_reference",
    "setting",
    "urgency",
    "status",
    "outcome",
    "decided_by",
    "capacity",
    "review_rounds",
    "draft_time",
    "to_pick_up",
    "to_decision",
    "to_release",
    "total_time",
    "late_by",
    "released_in_emergency",
    "overdue",
)


def share_timelines(
    scope: ReportScope, now: datetime | None = None, *, only: Iterable[int] | None = None
) -> QuerySet[Share, dict[str, Any]]:
    """Each share's steps (created, submitted, picked up, decided, released) and durations.

    One row per share, for its latest review round: ``submitted_at`` and the deadline are
    the latest submission's, "decided" is the decision that closed that round (none while
    it awaits review), "picked up" is when a lead first took that round's review task. With
    a month range, the shares proposed or decided in it; ``only`` narrows them to the shares
    given (a page of them). Child names and case content are not selected at all.

    "To release" runs from the decision the release acted on; an emergency release has
    none (it came before its review), so its row says it was released in an emergency and
    its total (proposal to release) is the time that counts. "Overdue" is how long an open
    review has been past its deadline at ``now``.
    """
    return (
        _timelines(scope, now or timezone.now(), only)
        .values(*_TIMELINE_FIGURES, *TIMELINE_INSTANTS)
        .order_by("pk")
    )


def csv_timelines(
    scope: ReportScope, now: datetime | None = None
) -> QuerySet[Share, dict[str, Any]]:
    """``share_timelines`` as the CSV writes them: each instant as UTC text, ``<name>_utc``.

    The database writes the text, so a million rows are read as strings, with none of the
    time-zone conversions a datetime costs in Python.
    """
    return (
        _timelines(scope, now or timezone.now(), None)
        .annotate(**{f"{name}_utc": _UtcIso(name) for name in TIMELINE_INSTANTS})
        .values(*_TIMELINE_FIGURES, *(f"{name}_utc" for name in TIMELINE_INSTANTS))
        .order_by("pk")
    )


def _timelines(scope: ReportScope, now: datetime, only: Iterable[int] | None) -> QuerySet[Share]:
    shares = shares_in(scope)
    if only is not None:
        shares = shares.filter(pk__in=list(only))
    # The share's latest decision (reconsiderations aside) closed its latest round if it
    # was made at or after the latest submission; made before, it closed an earlier round
    # and the latest still awaits its decision. Read through decision_share_latest_round.
    latest_decision = (
        Decision.objects.filter(share=OuterRef("pk"), reconsiders__isnull=True)
        .order_by("-decided_at", "-pk")
        .values("pk")[:1]
    )
    # The latest round's review task: the newest lead review of the share's process.
    latest_review = (
        Task.objects.filter(process=OuterRef("process"), flow_task=ShareFlow.lead_review)
        .order_by("-created", "-pk")
        .values("pk")[:1]
    )
    rounds = (
        Decision.objects.filter(share=OuterRef("pk"), reconsiders__isnull=True)
        .order_by()
        .values("share")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        shares.alias(
            latest_decision=Subquery(latest_decision), latest_review=Subquery(latest_review)
        )
        .annotate(
            closing=FilteredRelation(
                "decisions",
                condition=Q(
                    decisions__pk=F("latest_decision"),
                    decisions__decided_at__gte=F("submitted_at"),
                ),
            ),
            review=FilteredRelation(
                "process__task", condition=Q(process__task__pk=F("latest_review"))
            ),
        )
        .annotate(
            case_reference=F("case__reference"),
            setting=F("case__organisation__name"),
            picked_up_at=F("review__assigned"),
            decided_at=F("closing__decided_at"),
            outcome=F("closing__outcome"),
            decided_by=_person_name("closing__decided_by__"),
            capacity=F("closing__capacity"),
            late_by=F("closing__late_by"),
            review_rounds=Coalesce(Subquery(rounds), 0),
            released_at=F("release__sent_at"),
            release_recorded_at=F("release__recorded_at"),
            released_in_emergency=Case(
                When(release__isnull=True, then=None),
                When(release__decision__isnull=True, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            ),
            read_at=Value(now, output_field=DateTimeField()),
        )
        .annotate(
            draft_time=_elapsed("submitted_at", "created_at"),
            to_pick_up=_elapsed("picked_up_at", "submitted_at"),
            to_decision=_elapsed("decided_at", "submitted_at"),
            to_release=_elapsed("released_at", "release__decision__decided_at"),
            total_time=_elapsed("released_at", "created_at"),
            overdue=Case(
                When(
                    status__in=OPEN_REVIEW,
                    review_due_at__lt=now,
                    then=F("read_at") - F("review_due_at"),
                ),
                default=None,
                output_field=DurationField(),
            ),
        )
    )


class _UtcIso(Func):
    """An instant as ``utc_iso`` writes it (2026-01-05T09:00:00Z), written by the database."""

    output_field = CharField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = """TO_CHAR(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # Stored as UTC text, "2026-01-05 09:00:00" and any fraction of a second after it.
        template = "REPLACE(SUBSTR(%(expressions)s, 1, 19), ' ', 'T') || 'Z'"
        return self.as_sql(compiler, connection, template=template, **extra)


def utc_iso(moment: datetime | None) -> str:
    """ISO 8601 in UTC to the second, e.g. 2026-01-05T09:00:00Z; empty when there is none."""
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(duration: timedelta | None) -> str:
    seconds = whole_seconds(duration)
    return "" if seconds is None else str(seconds)


def _plain(text: str | None) -> str:
    """Text a spreadsheet will not run as a formula (references and names are typed in)."""
    text = text or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def timeline_row(row: dict[str, Any]) -> list[str]:
    """One CSV row of ``csv_timelines``, in the order of ``TIMELINE_COLUMNS``."""
    decided = row["decided_at_utc"] is not None
    return [
        str(row["pk"]),
        _plain(row["case_reference"]),
        _plain(row["setting"]),
        row["urgency"],
        row["status"],
        row["outcome"] or "",
        _plain(row["decided_by"]),
        row["capacity"] or "",
        str(row["review_rounds"]),
        *(row[f"{name}_utc"] or "" for name in TIMELINE_INSTANTS),
        _seconds(row["draft_time"]),
        _seconds(row["to_pick_up"]),
        _seconds(row["to_decision"]),
        _seconds(row["to_release"]),
        _seconds(row["total_time"]),
        ("no" if row["late_by"] is not None else "yes") if decided else "",
        _seconds(row["late_by"]),
        _yes_no(row["released_in_emergency"]),
        _seconds(row["overdue"]),
    ]


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def timeline_rows(
    timelines: QuerySet[Share, dict[str, Any]], chunk_size: int = 2000
) -> Iterator[list[str]]:
    """Stream the rows of ``csv_timelines`` from a server-side cursor: never every share in
    memory at once.

    The first row goes out as soon as the database has it: the rows come in share order
    from the share's primary key index, and on PostgreSQL the cursor lives in a transaction
    (``_reading``).
    """
    with _reading(timelines.db, streaming=True):
        for row in timelines.iterator(chunk_size=chunk_size):
            yield timeline_row(row)


# --- Formatting ---------------------------------------------------------------------------------


def format_duration(seconds: int | None) -> str:
    """A duration people read at a glance: "45 min", "3 h 05 min", "2 d 4 h"."""
    if seconds is None:
        return ""
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


# --- Charts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: str
    series: str

    @property
    def label_x(self) -> float:
        return round(self.x + self.width / 2, 1)

    @property
    def label_y(self) -> float:
        return round(self.y - 4, 1)


@dataclass(frozen=True)
class BarGroup:
    label: str
    label_x: float
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class BarChart:
    """The geometry of a grouped bar chart, drawn as inline SVG by the template."""

    title: str
    description: str
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    groups: tuple[BarGroup, ...]
    ticks: tuple[Tick, ...]

    @property
    def label_y(self) -> int:
        return self.plot_bottom + 18


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value``: a readable axis."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(power * step for step in (1, 2, 5, 10) if power * step >= value)


def _hours(value: float) -> str:
    return f"{value:.1f}"


# Each group gets at least this many pixels, so labels such as "September 2026" never
# overlap; a long chart scrolls sideways instead of squashing.
_SLOT = 120
_SERIES = (("median", "median_hours"), ("p90", "p90_hours"))


def hours_chart(title: str, figures: Iterable[Figures]) -> BarChart | None:
    """Median and p90 hours to decision per group, as bars; None when there is nothing."""
    figures = [f for f in figures if f.median_seconds is not None]
    if not figures:
        return None
    left, top, height = 56, 24, 280
    width = left + 16 + max(len(figures) * _SLOT, 4 * _SLOT)
    right, bottom = width - 16, height - 40
    top_value = _nice_ceiling(max(f.p90_hours for f in figures))
    scale = (bottom - top) / top_value
    slot = (right - left) / len(figures)
    bar_width = min(40.0, slot / 3)
    groups = []
    for index, group in enumerate(figures):
        centre = left + slot * (index + 0.5)
        bars = []
        for offset, (series, attribute) in zip((-bar_width, 0.0), _SERIES, strict=True):
            value = getattr(group, attribute)
            bars.append(
                Bar(
                    x=round(centre + offset, 1),
                    y=round(bottom - value * scale, 1),
                    width=round(bar_width, 1),
                    height=round(value * scale, 1),
                    value=_hours(value),
                    series=series,
                )
            )
        groups.append(BarGroup(label=group.label, label_x=round(centre, 1), bars=tuple(bars)))
    ticks = tuple(
        Tick(y=round(bottom - top_value * step / 4 * scale, 1), label=_hours(top_value * step / 4))
        for step in range(5)
    )
    description = "; ".join(
        f"{f.label}: median {_hours(f.median_hours)} hours, "
        f"90th percentile {_hours(f.p90_hours)} hours"
        for f in figures
    )
    return BarChart(
        title=title,
        description=description,
        width=width,
        height=height,
        plot_left=left,
        plot_right=right,
        plot_top=top,
        plot_bottom=bottom,
        groups=tuple(groups),
        ticks=ticks,
    )
