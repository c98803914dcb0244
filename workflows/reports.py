"""Timing reports: how long each share's steps took, against its deadline.

Every figure is computed by the database, so a report costs the same handful of queries
for ten shares or a hundred thousand; Python only formats the few rows that come back.
The queries use nothing but standard SQL that PostgreSQL and SQLite both run: date
arithmetic through Django's portable temporal subtraction, and window functions.

Definitions (shown to readers on the page too):

- A *review round* runs from a submission to the decision that closes it. A share returned
  for more information and submitted again has one round per submission, and **each round
  counts** in the figures: each submission set its own deadline, each decision records
  its own ``late_by``, and a "return" is the lead's answer to that round. Counting only
  the latest round would hide the lead's time on every returned round.
- *Time to decision* is the round's submission to its decision. The latest round starts
  at ``Share.submitted_at``; an earlier round (``submitted_at`` has since been overwritten)
  starts when its lead-review task was created, which the flow does in the same
  transaction as the submission.
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
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    DateTimeField,
    DurationField,
    Exists,
    Expression,
    ExpressionWrapper,
    F,
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


# --- Review rounds -----------------------------------------------------------------------


def _person_name(prefix: str) -> Expression:
    """A member of staff's full name, or their username when they have none on file."""
    full = Trim(Concat(F(f"{prefix}first_name"), Value(" "), F(f"{prefix}last_name")))
    return Coalesce(NullIf(full, Value("")), F(f"{prefix}username"), output_field=CharField())


def _lead_reviews_of(share_ref: OuterRef) -> QuerySet[Task]:
    """The lead-review tasks of one share, newest first: one per review round."""
    return Task.objects.filter(
        process__shareprocess__share=share_ref, flow_task=ShareFlow.lead_review
    ).order_by("-created", "-pk")


def _round_started() -> Case:
    """When the review round a decision closed began (see the module docstring)."""
    earlier_round = _lead_reviews_of(OuterRef("share")).filter(created__lte=OuterRef("decided_at"))
    return Case(
        When(decided_at__gte=F("share__submitted_at"), then=F("share__submitted_at")),
        default=Subquery(earlier_round.values("created")[:1]),
        output_field=DateTimeField(),
    )


def review_rounds(scope: ReportScope) -> QuerySet[Decision]:
    """Every review round decided within the scope: one decision each, with its duration."""
    # A reconsideration answers no review round: it is the same lead looking again, later.
    rounds = Decision.objects.filter(
        share__case__organisation__in=scope.settings, reconsiders__isnull=True
    )
    if scope.since is not None:
        rounds = rounds.filter(decided_at__gte=scope.since)
    if scope.until is not None:
        rounds = rounds.filter(decided_at__lt=scope.until)
    return (
        rounds.annotate(round_started=_round_started())
        .annotate(to_decision=_elapsed("decided_at", "round_started"))
        # A round with no known start (a decision made outside the flow) has no duration;
        # leaving it out also keeps the ranking identical on both databases, which sort
        # NULLs at opposite ends.
        .filter(to_decision__isnull=False)
        .order_by()
    )


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


@dataclass(frozen=True)
class Grouping:
    """A way of grouping review rounds: the SQL expression and how to name each group."""

    name: str
    title: str
    key: Expression | F
    # Each group is named from a fixed vocabulary, or from a column read with its figures.
    labels: Mapping[str, str] | None = None
    name_column: Expression | F | None = None
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

GROUPINGS: dict[str, Grouping] = {
    grouping.name: grouping
    for grouping in (
        Grouping("all", "All review rounds", Value(1, output_field=IntegerField())),
        Grouping(
            "urgency",
            "By urgency",
            F("share__urgency"),
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
            "decider", "By decider", F("decided_by"), name_column=_person_name("decided_by__")
        ),
        # Months in the site's timezone (the current one), as people count them.
        Grouping("month", "By month", TruncMonth("decided_at")),
        Grouping(
            "setting",
            "By setting",
            F("share__case__organisation"),
            name_column=F("share__case__organisation__name"),
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

    One query: only the rows at the median's and the 90th percentile's nearest rank come
    back, at most two per group.
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


# --- Time to release ---------------------------------------------------------------------------

AFTER_DECISION, IN_EMERGENCY = "after_decision", "in_emergency"
RELEASE_LABELS = {
    AFTER_DECISION: "Released after a decision: time from decision to release",
    IN_EMERGENCY: "Released in an emergency: time from proposal to release",
}


def release_figures(scope: ReportScope) -> list[Figures]:
    """Count, median and p90 time to release, releases after a decision and emergency ones
    apart (in that order; a kind with no release has no row). One query.

    An emergency release was sent before any decision, so its time runs from the proposal;
    measured from its retrospective review it would be negative. Months are those of the
    release (when it was sent).
    """
    releases = Release.objects.filter(share__case__organisation__in=scope.settings)
    if scope.since is not None:
        releases = releases.filter(sent_at__gte=scope.since)
    if scope.until is not None:
        releases = releases.filter(sent_at__lt=scope.until)
    in_emergency = Q(decision__isnull=True)
    grouped = (
        releases.annotate(
            group_key=Case(
                When(in_emergency, then=Value(IN_EMERGENCY)),
                default=Value(AFTER_DECISION),
                output_field=CharField(),
            ),
            from_decision=_elapsed("sent_at", "decision__decided_at"),
            from_proposal=_elapsed("sent_at", "share__created_at"),
        )
        .annotate(
            to_release=Case(
                When(in_emergency, then=F("from_proposal")),
                default=F("from_decision"),
                output_field=DurationField(),
            )
        )
        .filter(to_release__isnull=False)
        .order_by()
    )
    ranked = _at_nearest_ranks(grouped, "to_release").values(
        "group_key", "to_release", "row_rank", "median_rank", "p90_rank", "group_size"
    )
    groups = _figures_from(ranked, "to_release", lambda key, row: RELEASE_LABELS[key])
    return [groups[kind] for kind in RELEASE_LABELS if kind in groups]


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
    setting's most overdue comes back.
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


def share_timelines(
    scope: ReportScope, now: datetime | None = None
) -> QuerySet[Share, dict[str, Any]]:
    """Each share's steps (created, submitted, picked up, decided, released) and durations.

    One row per share, for its latest review round: ``submitted_at`` and the deadline are
    the latest submission's, "decided" is the decision that closed that round (none while
    it awaits review), "picked up" is when a lead first took that round's review task. With
    a month range, the shares proposed or decided in it. Child names and case content are
    not selected at all.

    "To release" runs from the decision the release acted on; an emergency release has
    none (it came before its review), so its row says it was released in an emergency and
    its total (proposal to release) is the time that counts. "Overdue" is how long an open
    review has been past its deadline at ``now``.
    """
    now = now or timezone.now()
    shares = Share.objects.filter(case__organisation__in=scope.settings)
    if scope.since is not None or scope.until is not None:
        created, decided = Q(), Q()
        if scope.since is not None:
            created &= Q(created_at__gte=scope.since)
            decided &= Q(decided_at__gte=scope.since)
        if scope.until is not None:
            created &= Q(created_at__lt=scope.until)
            decided &= Q(decided_at__lt=scope.until)
        decided_in_range = Decision.objects.filter(decided, share=OuterRef("pk"))
        shares = shares.filter(created | Q(Exists(decided_in_range)))
    closing = Decision.objects.filter(
        share=OuterRef("pk"), decided_at__gte=OuterRef("submitted_at"), reconsiders__isnull=True
    ).order_by("-decided_at", "-pk")
    rounds = (
        Decision.objects.filter(share=OuterRef("pk"), reconsiders__isnull=True)
        .order_by()
        .values("share")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        shares.annotate(
            case_reference=F("case__reference"),
            setting=F("case__organisation__name"),
            picked_up_at=Subquery(_lead_reviews_of(OuterRef("pk")).values("assigned")[:1]),
            decided_at=Subquery(closing.values("decided_at")[:1]),
            outcome=Subquery(closing.values("outcome")[:1]),
            decided_by=Subquery(
                closing.annotate(name=_person_name("decided_by__")).values("name")[:1]
            ),
            capacity=Subquery(closing.values("capacity")[:1]),
            late_by=Subquery(closing.values("late_by")[:1], output_field=DurationField()),
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
        .values(
            "pk",
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
            "review_due_at",
            "draft_time",
            "to_pick_up",
            "to_decision",
            "to_release",
            "total_time",
            "late_by",
            "released_in_emergency",
            "overdue",
        )
        .order_by("pk")
    )


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
    """One CSV row, in the order of ``TIMELINE_COLUMNS``."""
    decided = row["decided_at"] is not None
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
        utc_iso(row["created_at"]),
        utc_iso(row["submitted_at"]),
        utc_iso(row["picked_up_at"]),
        utc_iso(row["decided_at"]),
        utc_iso(row["released_at"]),
        utc_iso(row["release_recorded_at"]),
        utc_iso(row["review_due_at"]),
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
    timelines: QuerySet[Share, dict[str, Any]], chunk_size: int = 500
) -> Iterator[list[str]]:
    """Stream the rows from a server-side cursor: never every share in memory at once."""
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
