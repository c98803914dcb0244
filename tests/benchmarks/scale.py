"""How Safeshare's lifecycle and pages hold up as its history grows, against bare viewflow.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m tests.benchmarks.scale [--levels 2000,10000,110000]
        [--decisions 1000000] [--rounds 20] [--skip-million] [--keep-database]

PostgreSQL only (it says so and stops on SQLite). It works in a throwaway test database of
its own, ``test_scale_benchmark`` unless TEST_DATABASE_NAME names another, created and
dropped here (``--keep-database`` leaves it, seeded, to time queries on it again; the next
run drops and recreates it), with the settings ``tests.benchmarks.scale_settings`` (the
test settings, plus a bare django-viewflow approval flow served beside Safeshare under
/bare/). It prints figures and never fails a test run; it is run as a module, never
collected by pytest.

(a) One share's whole life through the pages, with django.test.Client, as its people do
    it: the practitioner proposes and submits it, the lead opens the review and approves,
    the practitioner opens the release form and records the release. Beside it, the same
    three steps in the bare flow (start, assign and review, release). The two alternate,
    round after round, after a warm-up: the median time and the queries of each request,
    the totals per lifecycle, and Safeshare over bare.

(b) The pages a lead and a practitioner use, at each level of history: shares across 100
    settings, and one large setting holding an eleventh of them, every one awaiting its
    lead's review and a tenth of those opened by the lead. The setting whose pages are timed
    (s001) and the large setting hold a full page of each list at every level, so that a
    page shows as much at 2k as at 110k and its ratio measures what the history behind it
    costs. The history is seeded by
    cloning, in bulk, every row that real lifecycles wrote through the pages
    (``scale_cloning``); each level is then checked: lifecycles run on top of it,
    ``verify_audit`` and ``sync_permissions`` run on it, and queries look for any copied
    row pointing at another copy's records. For every page:
    median time, queries and size; at the end, time at the largest level over the
    smallest, and the query count at every level (which should not change). A reference
    page doing the same work at every level is timed between the pages, so that what the
    machine itself did meanwhile (other processes on it) can be told apart.

(c) Reports over a million decisions in the 100 settings: a lead's page, a manager's across
    all 100, and the time to the first row of the CSV export (and the same at the largest
    level). These cases of decided shares are cloned without their audit entries: the chain
    is built in Python, the reports never read it, and the largest level has grown it.

Times are wall-clock on this machine, with every query counted (CaptureQueriesContext).
The history is played on a clock moved back (time-machine), so that every record carries
the hours its step really took and the audit chain stays in time order.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import statistics
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, suppress
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from time import perf_counter
from typing import Any

os.environ["DJANGO_SETTINGS_MODULE"] = "tests.benchmarks.scale_settings"

import django  # noqa: E402

django.setup()

import time_machine  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Permission  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.management.base import CommandError  # noqa: E402
from django.db import DatabaseError, connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import (  # noqa: E402
    CaptureQueriesContext,
)
from django.urls import URLPattern, URLResolver, get_resolver, reverse  # noqa: E402
from django.utils import timezone  # noqa: E402
from viewflow.workflow.models import Task  # noqa: E402

from cases import choices, services  # noqa: E402
from cases.models import Case, Decision, Organisation, Share  # noqa: E402
from config.celery import app as celery_app  # noqa: E402
from permissions.models import AuditEntry  # noqa: E402
from workflows.demo import seed_demo  # noqa: E402
from workflows.models import Notification, ShareProcess  # noqa: E402

from . import scale_cloning as cloning  # noqa: E402
from .scale_walks import BareWalk, Meter, ShareWalk  # noqa: E402

# The shares of each template case, by the state each is played to: an ordinary case's
# history, a case of the large setting (open reviews, one opened by the lead), and a case
# of decided shares only for the million decisions.
ORDINARY_CASE = (
    "released",
    "released",
    "released",
    "released",
    "approved",
    "refused",
    "returned",
    "awaiting review",
    "opened by the lead",
    "draft",
)
LARGE_SETTING_CASE = ("opened by the lead", *("awaiting review",) * 9)
DECIDED_CASE = (*("released",) * 7, "approved", "refused", "returned")
CASES = {
    "ordinary case": ORDINARY_CASE,
    "case of the large setting": LARGE_SETTING_CASE,
    "case of decided shares": DECIDED_CASE,
}
# Each case's reference: its prefix, then the case's number in its setting.
REFERENCE_PREFIX = {
    "ordinary case": "C",
    "case of the large setting": "R",
    "case of decided shares": "D",
}
ORDINARY_SETTINGS = 100
# The cases of s001, and of the large setting, at every level, at least: a full page of
# their case lists and children registers (50 each), and so of their review queues, my
# shares and notifications too. With an even spread, s001 held two cases at 2,000 shares
# and a hundred at 110,000 (the large setting 18 and 1,000), so their pages grew from a few
# rows to full pages, and the ratio measured a page's size, not the history behind it.
MEASURED_SETTING_CASES = 50
STAFF = (
    ("deputy", "Dan", "Deputy", choices.Role.DEPUTY),
    ("practitioner", "Priya", "Practitioner", choices.Role.PRACTITIONER),
    ("colleague", "Colin", "Colleague", choices.Role.PRACTITIONER),
    ("manager", "Mona", "Manager", choices.Role.MANAGER),
    ("auditor", "Arun", "Auditor", choices.Role.AUDITOR),
)
PAGE_RUNS = 7  # timed GETs of each page per level, after one untimed
REFERENCE = "reference: bare viewflow's flow chart"
REFERENCE_PATH = "/bare/approval/chart/"


def say(line: str = "") -> None:
    print(line, flush=True)


def username(role: str, setting: int | None) -> str:
    mark = cloning.SETTING_MARK if setting is None else f"s{setting:03d}"
    return f"{role}.{mark}@scale.example"


def person(role: str, setting: int | None) -> Any:
    return get_user_model().objects.get(username=username(role, setting))


def signed_in(user: Any) -> Client:
    client = Client(raise_request_exception=True)
    client.force_login(user)
    return client


@contextmanager
def clock_at(moment: datetime) -> Iterator[Any]:
    """The site's clock at ``moment``, running on from there."""
    with time_machine.travel(moment, tick=True) as traveller:
        yield traveller


# --- (a) Lifecycle against bare viewflow ---------------------------------------------------


@contextmanager
def tasks_queued() -> Iterator[None]:
    """Tasks published to a broker, as a deployment with REDIS_URL does, and not run.

    In production the page only queues a notification's delivery and a worker sends it;
    the test settings run tasks in the request instead, which would time the mail server
    as part of the page. An in-memory broker takes the messages here: the request pays for
    publishing them, as it does against Redis, and no worker consumes them.
    """
    conf = celery_app.conf
    was = conf.task_always_eager, conf.broker_url
    conf.task_always_eager, conf.broker_url = False, "memory://"
    try:
        yield
    finally:
        conf.task_always_eager, conf.broker_url = was


def lifecycle_against_bare(rounds: int, warm_up: int) -> None:
    with tasks_queued():
        _lifecycle_against_bare(rounds, warm_up)


def _lifecycle_against_bare(rounds: int, warm_up: int) -> None:
    seed_demo()
    users = get_user_model().objects
    bare_user = users.create(username="bare.approver", first_name="Bea", last_name="Bare")
    # The bare flow's own permissions, on its own proxy model: nothing of Safeshare's.
    bare_user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="bare_approval")
    )
    case = Case.objects.select_related("organisation").get(reference="OAK-001")
    safeshare, bare = Meter(), Meter()
    share_walk = ShareWalk(
        practitioner=signed_in(users.get(username="practitioner")),
        lead=signed_in(users.get(username="lead")),
        timed=safeshare.request,
    )
    bare_walk = BareWalk(client=signed_in(bare_user), timed=bare.request)
    for _ in range(warm_up):
        ShareWalk(share_walk.practitioner, share_walk.lead).lifecycle(case)
        BareWalk(bare_walk.client).lifecycle()
    for _ in range(rounds):
        share_walk.lifecycle(case)
        bare_walk.lifecycle()

    say(f"(a) One share's life: Safeshare against bare viewflow, {rounds} rounds each,")
    say(f"    alternating, after {warm_up} warm-up rounds of each. Median ms and queries.")
    say("    Notifications are queued to a broker (in memory), as in production, not sent.")
    totals: dict[str, tuple[float, int]] = {}
    for name, meter in (("Safeshare", safeshare), ("bare viewflow", bare)):
        say()
        say(f"    {name:<28} {'ms':>8} {'queries':>8} {'KB':>7}")
        queries = 0
        for label in meter.order:
            queries += meter.queries(label)
            size = meter.size(label) / 1024
            say(
                f"    {label:<28} {meter.median_ms(label):8.1f} "
                f"{meter.queries(label):8d} {size:7.1f}"
            )
        # The lifecycle's total: each round's requests summed, then the median round.
        per_round = [
            sum(meter.samples[label][n].seconds for label in meter.order) for n in range(rounds)
        ]
        total_ms = 1000 * statistics.median(per_round)
        say(f"    {'whole lifecycle':<28} {total_ms:8.1f} {queries:8d}")
        totals[name] = (total_ms, queries)
    ratio_time = totals["Safeshare"][0] / totals["bare viewflow"][0]
    ratio_queries = totals["Safeshare"][1] / totals["bare viewflow"][1]
    say()
    say(f"    Safeshare / bare: {ratio_time:.1f}x the time, {ratio_queries:.1f}x the queries")


# --- (b) Templates, levels and pages ------------------------------------------------------


@dataclass
class Templates:
    setting: cloning.Tier
    ordinary: cloning.Tier
    open: cloning.Tier
    decided: cloning.Tier
    # When each case's template began, and how long its story took, to place its copies.
    started: dict[str, datetime] = field(default_factory=dict)
    spans: dict[str, timedelta] = field(default_factory=dict)


def _setting_template() -> Organisation:
    """A nursery set up as a new setting is: its lead, staff, and address book."""
    organisation, lead = services.setting_create(
        name=f"Scale nursery {cloning.SETTING_MARK}",
        kind=choices.OrganisationKind.NURSERY,
        calendar_region=choices.CalendarRegion.ENGLAND_WALES,
        is_public_authority=False,
        lead_email=username("lead", None),
        lead_name="Grace Lead",
    )
    for role, first, last, kind in STAFF:
        services.staff_invite(
            organisation=organisation,
            email=username(role, None),
            first_name=first,
            last_name=last,
            role=kind,
            by=lead,
        )
    for person_name, job, agency in (
        ("Sam Carter", "Duty social worker", "Northshire Children's Social Care"),
        ("Dr Priya Shah", "Health visitor", "Northshire Health Visiting Team"),
    ):
        services.recipient_add(
            organisation=organisation,
            by=lead,
            fields={
                "person_name": person_name,
                "role": job,
                "agency_name": agency,
                "secure_email": f"{job.split()[0].lower()}@northshire.example.org",
            },
            verified=True,
        )
    return organisation


def _play_case(
    walk: ShareWalk, organisation: Organisation, states: tuple[str, ...], prefix: str, born: date
) -> None:
    """A child put on the roll, their case opened with the practitioner on its team, and the
    case's shares played through the pages to their states."""
    lead, practitioner = person("lead", None), person("practitioner", None)
    child = services.child_add(
        organisation=organisation,
        by=lead,
        fields={
            "first_name": cloning.FIRST_NAME_MARK,
            "last_name": cloning.SURNAME_MARK,
            "date_of_birth": born,
            "year_group": "Pre-school",
            "address": "4 Demo Street, Northshire",
            "privacy_notice_given_on": date(2024, 9, 2),
            "privacy_notice_version": "2024-09",
        },
        carers=[
            {
                "name": f"Sam {cloning.SURNAME_MARK}",
                "relationship": "Parent",
                "has_parental_responsibility": True,
            }
        ],
    )
    case = services.case_open(
        child=child, by=lead, reference=f"{prefix}-{cloning.CASE_MARK}", team=[practitioner]
    )
    for state in states:
        walk.pause(1)
        walk.play(case, state)


def build_templates(start: datetime) -> Templates:
    """Every template, played on a clock that starts at ``start``."""
    with clock_at(start) as traveller:
        before = cloning.snapshot()
        organisation = _setting_template()
        setting = cloning.Tier.between("setting", before, cloning.snapshot())
        walk = ShareWalk(
            practitioner=signed_in(person("practitioner", None)),
            lead=signed_in(person("lead", None)),
            follow=True,
            pause=lambda hours: traveller.shift(timedelta(hours=hours)),
        )
        tiers, started, spans = {}, {}, {}
        for n, (name, states) in enumerate(CASES.items()):
            traveller.shift(timedelta(days=1))
            started[name] = timezone.now()
            before = cloning.snapshot()
            born = date(2021, 5, 4) + timedelta(days=n)
            _play_case(walk, organisation, states, REFERENCE_PREFIX[name], born)
            tiers[name] = cloning.Tier.between(name, before, cloning.snapshot())
            spans[name] = timezone.now() - started[name]
    return Templates(
        setting,
        tiers["ordinary case"],
        tiers["case of the large setting"],
        tiers["case of decided shares"],
        started,
        spans,
    )


@dataclass
class History:
    """What has been seeded so far, and where the next copies go."""

    templates: Templates
    settings_run: cloning.CloneRun
    ordinary_cases: list[int]  # per ordinary setting (index 0 is s001)
    large_cases: int = 0

    @property
    def large(self) -> int:
        return ORDINARY_SETTINGS + 1  # the large setting's number


def clone_settings(templates: Templates, moment: datetime) -> cloning.CloneRun:
    """The 100 ordinary settings and the large one, each as its set-up wrote it, a minute
    apart in the hours before ``moment``."""
    shift = (moment - templates_setting_time()).total_seconds()
    count = ORDINARY_SETTINGS + 1
    copies = [
        cloning.Copy(
            c=j, outer_c=None, setting=j + 1, case_number=0, shift=shift - 60 * (count - j)
        )
        for j in range(count)
    ]
    return cloning.clone(templates.setting, copies)


def templates_setting_time() -> datetime:
    return Organisation.objects.get(name__endswith=cloning.SETTING_MARK).created_at


def _case_copies(
    wanted: list[tuple[int, int]], window: tuple[datetime, datetime], template_start: datetime
) -> list[cloning.Copy]:
    """Copies for (setting number, case number) pairs, spread evenly over ``window`` in the
    order given (each setting's next case in turn, so the settings grow side by side)."""
    start, end = window
    step = (end - start).total_seconds() / max(len(wanted), 1)
    offset = (start - template_start).total_seconds()
    return [
        cloning.Copy(
            c=c, outer_c=setting - 1, setting=setting, case_number=number, shift=offset + c * step
        )
        for c, (setting, number) in enumerate(wanted)
    ]


def _interleaved(have: list[int], want: list[int]) -> list[tuple[int, int]]:
    pairs = []
    for number in range(1, max(want, default=0) + 1):
        for n, (old, new) in enumerate(zip(have, want, strict=True)):
            if old < number <= new:
                pairs.append((n + 1, number))
    return pairs


@dataclass
class Seeding:
    """What one level's seeding added, and where its time went."""

    cases: dict[str, int] = field(default_factory=dict)
    runs: list[cloning.CloneRun] = field(default_factory=list)
    vacuum_seconds: float = 0.0

    def describe(self) -> str:
        cases = ", ".join(f"{n:,} {what}" for what, n in self.cases.items())
        rows = sum(run.rows for run in self.runs)
        rows_seconds = sum(run.rows_seconds for run in self.runs)
        entries = sum(run.entries for run in self.runs)
        entries_seconds = sum(run.entries_seconds for run in self.runs)
        tables: dict[str, float] = {}
        for run in self.runs:
            for table, seconds in run.table_seconds.items():
                tables[table] = tables.get(table, 0.0) + seconds
        slowest = sorted(tables.items(), key=lambda item: -item[1])[:3]
        said = (
            f"{cases}: {rows:,} rows copied in SQL in {rows_seconds:.1f} s (the most in "
            + ", ".join(f"{table} {seconds:.1f} s" for table, seconds in slowest)
            + ")"
        )
        if entries:
            said += f", {entries:,} audit entries chained in {entries_seconds:.1f} s"
        indexes = sum(run.index_seconds for run in self.runs)
        if indexes >= 0.05:
            said += f", plain indexes built again in {indexes:.1f} s"
        said += f", VACUUM ANALYZE {self.vacuum_seconds:.1f} s"
        sampled = sum(run.keys_sampled for run in self.runs)
        dangling = sum(run.keys_dangling for run in self.runs)
        by_database = all(run.keys_checked_by_database for run in self.runs)
        said += (
            "; every foreign key checked by PostgreSQL"
            if by_database
            else f"; {sampled:,} foreign keys of the first and last copies (and audit "
            "entries) looked up"
        )
        return said + f", {dangling} pointing at no row"


def _vacuum(seeding: Seeding) -> None:
    started = perf_counter()
    cloning.vacuum_analyze()
    # The pages are timed next: the writes of the seeding are flushed now rather than by a
    # checkpoint in the middle of their timings (it needs a superuser, or pg_checkpoint).
    with connection.cursor() as cursor, suppress(DatabaseError):
        cursor.execute("CHECKPOINT")
    seeding.vacuum_seconds = perf_counter() - started


def grow(history: History, shares: int, window: tuple[datetime, datetime]) -> Seeding:
    """Add ordinary cases, and cases to the large setting, until there are about ``shares``
    shares in the settings."""
    templates = history.templates
    per_open, per_ordinary = len(LARGE_SETTING_CASE), len(ORDINARY_CASE)
    # The large setting too holds a full page of each of its lists from the smallest level.
    large_cases = max(round(shares / 11 / per_open), MEASURED_SETTING_CASES)
    ordinary = max(shares - large_cases * per_open, 0)
    cases = round(ordinary / per_ordinary)
    # s001, whose pages are timed, holds a full page of each list from the smallest level
    # on; the other settings share the rest evenly.
    first = max(MEASURED_SETTING_CASES, cases // ORDINARY_SETTINGS)
    rest, others = max(cases - first, 0), ORDINARY_SETTINGS - 1
    want = [first] + [rest // others + (1 if n < rest % others else 0) for n in range(others)]
    want = [max(w, h) for w, h in zip(want, history.ordinary_cases, strict=True)]
    added = Seeding()
    pairs = _interleaved(history.ordinary_cases, want)
    if pairs:
        copies = _case_copies(pairs, window, templates.started["ordinary case"])
        added.runs.append(cloning.clone(templates.ordinary, copies, outer=history.settings_run))
        added.cases["ordinary cases"] = len(pairs)
    history.ordinary_cases = want
    if large_cases > history.large_cases:
        pairs = [(history.large, u) for u in range(history.large_cases + 1, large_cases + 1)]
        copies = _case_copies(pairs, window, templates.started["case of the large setting"])
        added.runs.append(cloning.clone(templates.open, copies, outer=history.settings_run))
        added.cases["cases of the large setting"] = len(pairs)
        history.large_cases = large_cases
    _vacuum(added)
    return added


# --- Checks on a seeded level --------------------------------------------------------------


MIRROR_CHECKS = {
    "shares without their process": """
        SELECT COUNT(*) FROM cases_share s
        WHERE NOT EXISTS (SELECT 1 FROM workflows_shareprocess p WHERE p.share_id = s.id)""",
    "tasks in another share's process": """
        SELECT COUNT(*) FROM viewflow_task t
        JOIN workflows_shareprocess p ON p.process_ptr_id = t.process_id
        JOIN cases_share s ON s.id = p.share_id JOIN cases_case c ON c.id = s.case_id
        WHERE t.owner_permission_obj_pk IS NOT NULL
          AND t.owner_permission_obj_pk <> c.organisation_id::text""",
    "tasks owned outside the share's setting": """
        SELECT COUNT(*) FROM viewflow_task t
        JOIN workflows_shareprocess p ON p.process_ptr_id = t.process_id
        JOIN cases_share s ON s.id = p.share_id JOIN cases_case c ON c.id = s.case_id
        WHERE t.owner_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM cases_membership m
            WHERE m.user_id = t.owner_id AND m.organisation_id = c.organisation_id)""",
    "notifications linking another share": """
        SELECT COUNT(*) FROM workflows_notification
        WHERE share_id IS NOT NULL AND link ~ '/shares/[0-9]+/'
          AND substring(link from '/shares/([0-9]+)/')::bigint <> share_id""",
    "notifications to someone outside the setting": """
        SELECT COUNT(*) FROM workflows_notification n
        JOIN cases_share s ON s.id = n.share_id JOIN cases_case c ON c.id = s.case_id
        WHERE NOT EXISTS (SELECT 1 FROM cases_membership m
                          WHERE m.user_id = n.recipient_id
                            AND m.organisation_id = c.organisation_id)""",
    "audit entries of another case or setting": """
        SELECT COUNT(*) FROM permissions_auditentry a
        LEFT JOIN cases_share s ON s.id = a.share_id
        LEFT JOIN cases_case c ON c.id = a.case_id
        WHERE (a.share_id IS NOT NULL AND s.case_id <> a.case_id)
           OR (a.case_id IS NOT NULL AND c.organisation_id <> a.organisation_id)""",
    "versions listing another share's items": """
        SELECT COUNT(*) FROM cases_shareversion v,
             jsonb_array_elements(v.content -> 'items') item
        JOIN cases_shareitem i ON i.id = (item ->> 'id')::bigint
        WHERE i.share_id <> v.share_id""",
    "releases listing another share's items": """
        SELECT COUNT(*) FROM cases_release r, jsonb_array_elements(r.content) item
        JOIN cases_shareitem i ON i.id = (item ->> 'item')::bigint
        WHERE i.share_id <> r.share_id""",
    "approvals of another share's items": """
        SELECT COUNT(*) FROM cases_approveditem a
        JOIN cases_decision d ON d.id = a.decision_id
        JOIN cases_shareitem i ON i.id = a.item_id WHERE i.share_id <> d.share_id""",
    "decisions filed under another setting": """
        SELECT COUNT(*) FROM cases_decision d JOIN cases_share s ON s.id = d.share_id
        JOIN cases_case c ON c.id = s.case_id WHERE d.organisation_id <> c.organisation_id""",
    "case teams outside the case's setting": """
        SELECT COUNT(*) FROM cases_case_team t JOIN cases_case c ON c.id = t.case_id
        WHERE NOT EXISTS (SELECT 1 FROM cases_membership m
                          WHERE m.user_id = t.user_id AND m.organisation_id = c.organisation_id
                            AND m.role = 'practitioner')""",
}


def mirror_checks() -> list[str]:
    """Queries that find a copied row pointing at records of another copy (0 each)."""
    failed = []
    with connection.cursor() as cursor:
        for name, sql in MIRROR_CHECKS.items():
            try:
                cursor.execute(sql)
                found = cursor.fetchone()[0]
            except Exception as error:  # a column renamed meanwhile: say so, go on
                failed.append(f"{name}: could not run ({error.__class__.__name__})")
                continue
            if found:
                failed.append(f"{name}: {found}")
    return failed


def command(name: str, *args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    started = perf_counter()
    try:
        with redirect_stderr(err):
            call_command(name, *args, stdout=out, stderr=err)
        lines = out.getvalue().strip().splitlines()
        more = f" (and {len(lines) - 1} lines more)" if len(lines) > 1 else ""
        result = f"ok: {lines[0] if lines else ''}{more}"
    except CommandError as error:
        lines = out.getvalue().strip().splitlines()
        result = f"FAILED: {error}" + (f" ({len(lines)} lines, first: {lines[0]})" if lines else "")
    return f"{result} [{perf_counter() - started:.1f} s]"


def lifecycles_on_top(history: History) -> list[str]:
    """A real share's life in an ordinary setting and in the large one, through the pages."""
    said = []
    for setting, reference in ((1, "C-00001"), (history.large, "R-00001")):
        case = Case.objects.select_related("organisation").get(
            organisation__name=f"Scale nursery s{setting:03d}", reference=reference
        )
        walk = ShareWalk(
            practitioner=signed_in(person("practitioner", setting)),
            lead=signed_in(person("lead", setting)),
            follow=True,
        )
        share = Share.objects.get(pk=walk.lifecycle(case))
        ok = share.status == choices.ShareStatus.RELEASED
        said.append(f"s{setting:03d} share #{share.pk} {'released' if ok else share.status}")
    return said


# --- Pages ---------------------------------------------------------------------------------


@dataclass
class PageTimes:
    """Per level: label -> (median ms, median ms in SQL, queries, KB, status)."""

    levels: list[int] = field(default_factory=list)
    figures: dict[str, dict[int, tuple[float, float, int, float, int]]] = field(
        default_factory=dict
    )
    order: list[str] = field(default_factory=list)

    def add(self, level: int, label: str, meter: Meter) -> None:
        if label not in self.figures:
            self.figures[label] = {}
            # The reference heads every table.
            self.order.insert(0 if label == REFERENCE else len(self.order), label)
        self.figures[label][level] = (
            meter.median_ms(label),
            meter.median_sql_ms(label),
            meter.queries(label),
            meter.size(label) / 1024,
            meter.status(label),
        )


def time_page(
    meter: Meter,
    label: str,
    client: Client,
    path: str,
    runs: int = PAGE_RUNS,
    reference: Client | None = None,
) -> None:
    client.get(path)  # the first GET fills caches and the session, as a person's visit has
    for _ in range(runs):
        meter.request(label, lambda: client.get(path))
        if reference is not None:
            # Between the pages' own GETs, all through the level: the reference's median is
            # the machine's state while they were timed.
            meter.request(REFERENCE, lambda: reference.get(REFERENCE_PATH))


def share_urls(share: Share) -> list[tuple[str, str]]:
    """Every URL of viewflow's share pages that this share fills, with its name."""
    process = ShareProcess.objects.get(share=share)
    tasks = list(Task.objects.filter(process_id=process.pk).order_by("pk"))
    found: list[tuple[str, str]] = []

    def walk(patterns: list[Any], namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, ":".join(filter(None, [namespace, pattern.namespace])))
            elif isinstance(pattern, URLPattern) and namespace.split(":")[0] == "share":
                name = f"{namespace}:{pattern.name}"
                keys = set(pattern.pattern.converters)
                if not keys:
                    found.append((name, reverse(name)))
                elif keys == {"process_pk"}:
                    found.append((name, reverse(name, kwargs={"process_pk": process.pk})))
                elif keys == {"process_pk", "task_pk"}:
                    node = namespace.split(":")[-1]
                    for task in tasks:
                        if task.flow_task is not None and task.flow_task.name == node:
                            kwargs = {"process_pk": process.pk, "task_pk": task.pk}
                            found.append((name, reverse(name, kwargs=kwargs)))
                            break

    walk(get_resolver().url_patterns, "")
    return found


def pages(history: History, level: int, times: PageTimes) -> None:
    """Every page a lead and a practitioner use, in s001, and the large setting's lead's."""
    meter = Meter()
    lead, practitioner = signed_in(person("lead", 1)), signed_in(person("practitioner", 1))
    large_lead = signed_in(person("lead", history.large))
    case = Case.objects.get(organisation__name="Scale nursery s001", reference="C-00001")
    # The case's shares in the order the template played them (copies keep their order).
    played = list(Share.objects.filter(case=case).order_by("pk")[: len(ORDINARY_CASE)])
    share, review, approved, draft = (
        played[ORDINARY_CASE.index(state)]
        for state in ("released", "opened by the lead", "approved", "draft")
    )
    large_case = Case.objects.get(
        organisation__name=f"Scale nursery s{history.large:03d}", reference="R-00001"
    )
    large_review = Share.objects.filter(case=large_case).order_by("pk")[
        LARGE_SETTING_CASE.index("opened by the lead")
    ]
    surname = case.child.last_name
    url = reverse
    # The same work at every level, whatever the history: what the machine itself does to the
    # timings (other processes, a warm or cold cache) shows here.
    bare = signed_in(get_user_model().objects.get(username="bare.approver"))
    bare.get(REFERENCE_PATH)
    for who, client in (("lead", lead), ("practitioner", practitioner)):
        rows = [
            ("home", url("safeguarding:index")),
            ("case list", url("safeguarding:case_list")),
            ("a case page", url("safeguarding:case_detail", args=[case.pk])),
            ("a share page", url("safeguarding:share_detail", args=[share.pk])),
            ("notifications", url("safeguarding:notifications")),
            ("search by surname", url("safeguarding:search") + f"?q={surname}"),
            ("search by reference", url("safeguarding:search") + f"?q={case.reference}"),
        ]
        if who == "lead":
            rows += [
                ("review queue", url("safeguarding:review_queue")),
                ("a review page", url("safeguarding:lead_review", args=[review.pk])),
                ("reports", url("safeguarding:reports")),
                ("audit log", url("safeguarding:audit_log")),
                ("deadlines", url("safeguarding:deadlines")),
                ("children register", url("safeguarding:children")),
            ]
        else:
            rows += [
                ("my shares", url("safeguarding:my_shares")),
                ("a release form", url("safeguarding:record_release", args=[approved.pk])),
                ("a draft's form", url("safeguarding:share_edit", args=[draft.pk])),
            ]
        for page, path in rows:
            label = f"{who}: {page}"
            time_page(meter, label, client, path, reference=bare)
            times.add(level, label, meter)
    process = share.process.pk
    tasks = {str(pk) for pk in Task.objects.filter(process_id=process).values_list("pk", flat=True)}
    for _, path in share_urls(share):
        parts = [
            "<p>" if p == str(process) else "<t>" if p in tasks else p for p in path.split("/")
        ]
        label = f"lead: {'/'.join(parts)}"
        time_page(meter, label, lead, path, runs=3, reference=bare)
        times.add(level, label, meter)
    for page, path in (
        ("home", url("safeguarding:index")),
        ("review queue", url("safeguarding:review_queue")),
        ("a review page", url("safeguarding:lead_review", args=[large_review.pk])),
        ("case list", url("safeguarding:case_list")),
        ("notifications", url("safeguarding:notifications")),
        ("audit log", url("safeguarding:audit_log")),
        ("children register", url("safeguarding:children")),
        ("reports", url("safeguarding:reports")),
        ("/share/inbox/", url("share:inbox")),
    ):
        label = f"large setting's lead: {page}"
        time_page(meter, label, large_lead, path, reference=bare)
        times.add(level, label, meter)
    times.add(level, REFERENCE, meter)


def print_level(times: PageTimes, level: int) -> None:
    say(f"    {'page':<62} {'ms':>8} {'in SQL':>7} {'queries':>8} {'KB':>7} {'status':>6}")
    for label in times.order:
        if level in times.figures[label]:
            ms, sql, queries, size, status = times.figures[label][level]
            say(f"    {label:<62} {ms:8.1f} {sql:7.1f} {queries:8d} {size:7.1f} {status:6d}")


def print_summary(times: PageTimes) -> None:
    first, last = times.levels[0], times.levels[-1]
    say()
    say(f"(b) Summary: time at {last:,} shares over time at {first:,}; queries at each level")
    reference = times.figures[REFERENCE]
    machine = reference[last][0] / reference[first][0]
    say(f"    (the reference page, the same work at every level, took {machine:.2f}x as long: ")
    say("    the second ratio divides by it, leaving what the history itself costs)")
    levels = " / ".join(f"{n:,}" for n in times.levels)
    say(f"    {'page':<62} {'ratio':>6} {'/ref':>6}  queries ({levels})")
    for label in times.order:
        figures = times.figures[label]
        if first not in figures or last not in figures:
            continue
        ratio = figures[last][0] / figures[first][0]
        counts = [figures[n][2] for n in times.levels if n in figures]
        steady = "" if len(set(counts)) == 1 else "  << grows"
        say(
            f"    {label:<62} {ratio:6.2f} {ratio / machine:6.2f}  "
            f"{' / '.join(map(str, counts))}{steady}"
        )


# --- (c) A million decisions ---------------------------------------------------------------


def decisions_in_settings(history: History) -> int:
    return Decision.objects.filter(
        share__case__organisation__name__in=[
            f"Scale nursery s{n:03d}" for n in range(1, ORDINARY_SETTINGS + 1)
        ]
    ).count()


def grow_decisions(history: History, decisions: int, window: tuple[datetime, datetime]) -> Seeding:
    """Cases of decided shares in the 100 settings until they hold ``decisions`` decisions.
    Their audit entries are left out: the chain is appended in Python, and reports never read
    it (the 110k level has already grown it)."""
    per_case = sum(1 for state in DECIDED_CASE if state != "draft")
    missing = decisions - decisions_in_settings(history)
    cases = max(0, -(-missing // per_case))
    have = history.ordinary_cases
    want = [
        have[n] + cases // ORDINARY_SETTINGS + (1 if n < cases % ORDINARY_SETTINGS else 0)
        for n in range(ORDINARY_SETTINGS)
    ]
    pairs = _interleaved(have, want)
    added = Seeding(cases={"cases of decided shares": len(pairs)})
    if not pairs:
        return added
    copies = _case_copies(pairs, window, history.templates.started["case of decided shares"])
    run = cloning.clone(history.templates.decided, copies, outer=history.settings_run, audit=False)
    added.runs.append(run)
    history.ordinary_cases = want
    _vacuum(added)
    return added


def first_rows(client: Client, path: str) -> tuple[float, float, int]:
    """Seconds to the header and to the first data row of a streamed CSV, and its queries."""
    with CaptureQueriesContext(connection) as queries:
        started = perf_counter()
        response: Any = client.get(path)
        chunks = iter(response.streaming_content)
        next(chunks)
        header = perf_counter() - started
        next(chunks, None)
        first = perf_counter() - started
        response.close()
    return header, first, len(queries)


def full_export(client: Client, path: str) -> tuple[float, int, int]:
    with CaptureQueriesContext(connection) as queries:
        started = perf_counter()
        response: Any = client.get(path)
        lines = sum(chunk.count(b"\n") for chunk in response.streaming_content)
        seconds = perf_counter() - started
    return seconds, lines, len(queries)


def reports(history: History, label: str, with_manager: bool) -> None:
    meter = Meter()
    lead = signed_in(person("lead", 1))
    time_page(meter, "lead of s001: reports", lead, reverse("safeguarding:reports"), runs=3)
    rows = ["lead of s001: reports"]
    if with_manager:
        manager = signed_in(get_user_model().objects.get(username="area.manager@scale.example"))
        path = reverse("safeguarding:reports")
        time_page(meter, "manager of 100 settings: reports", manager, path, runs=3)
        rows.append("manager of 100 settings: reports")
    say(f"    {label}")
    for row in rows:
        say(
            f"      {row:<40} {meter.median_ms(row):9.1f} ms {meter.queries(row):4d} queries "
            f"{meter.size(row) / 1024:8.1f} KB"
        )
    export = reverse("safeguarding:reports_export")
    header, first, queries = first_rows(lead, export)
    say(
        f"      {'lead of s001: CSV export':<40} header {1000 * header:.1f} ms, "
        f"first row {1000 * first:.1f} ms ({queries} queries)"
    )
    seconds, lines, queries = full_export(lead, export)
    say(f"      {'':<40} all {lines:,} lines in {seconds:.1f} s ({queries} queries)")
    if with_manager:
        header, first, queries = first_rows(manager, export)
        say(
            f"      {'manager: CSV export':<40} header {1000 * header:.1f} ms, "
            f"first row {1000 * first:.1f} ms ({queries} queries)"
        )


# --- The run -------------------------------------------------------------------------------


def area_manager(settings_numbers: range) -> Any:
    manager = get_user_model().objects.create(
        username="area.manager@scale.example", first_name="Ari", last_name="Area-Manager"
    )
    for number in settings_numbers:
        organisation = Organisation.objects.get(name=f"Scale nursery s{number:03d}")
        services.membership_start(
            user=manager, organisation=organisation, role=choices.Role.MANAGER
        )
    return manager


def volumes(history: History) -> str:
    """How much there is, and what the large setting's lead has waiting."""
    large = Organisation.objects.get(name=f"Scale nursery s{history.large:03d}")
    waiting = Share.objects.filter(
        case__organisation=large, status=choices.ShareStatus.AWAITING_REVIEW
    )
    opened = (
        Task.objects.filter(
            process__shareprocess__share__in=waiting,
            flow_task_type="HUMAN",
            owner=person("lead", history.large),
        )
        .exclude(status="DONE")
        .count()
    )
    counts = {
        "decisions": Decision.objects.count(),
        "tasks": Task.objects.count(),
        "notifications": Notification.objects.count(),
        "audit entries": AuditEntry.objects.count(),
    }
    return (
        ", ".join(f"{n:,} {what}" for what, n in counts.items())
        + f"; the large setting's lead has {waiting.count():,} shares awaiting review, "
        f"{opened:,} of them opened"
    )


def check_level(history: History) -> None:
    say(f"    rows:              {volumes(history)}")
    said = lifecycles_on_top(history)
    say(f"    lifecycles on top: {'; '.join(said)}")
    say(f"    verify_audit:      {command('verify_audit')}")
    say(f"    sync_permissions:  {command('sync_permissions')}")
    failed = mirror_checks()
    say(
        "    copied rows:       "
        + ("; ".join(failed) if failed else f"all {len(MIRROR_CHECKS)} checks find nothing astray")
    )


def run(levels: list[int], decisions: int, rounds: int, skip_million: bool) -> None:
    now = timezone.now()
    say(
        f"database: PostgreSQL {getattr(connection, 'pg_version', 0) // 10000}, "
        f"{settings.DATABASES['default']['NAME']}"
    )
    say()
    with clock_at(now - timedelta(days=800)):
        lifecycle_against_bare(rounds, warm_up=3)

    started = perf_counter()
    templates = build_templates(now - timedelta(days=790))
    say()
    say(
        f"(b) Templates played through the pages in {perf_counter() - started:.1f} s; "
        "rows per copy:"
    )
    for tier in (templates.setting, templates.ordinary, templates.open, templates.decided):
        say(f"    {tier.name} ({tier.shares} shares): {tier.describe()}")

    moment = now - timedelta(days=780)
    started = perf_counter()
    with clock_at(moment):
        settings_run = clone_settings(templates, moment)
        area_manager(range(1, ORDINARY_SETTINGS + 1))
    say(
        f"    {ORDINARY_SETTINGS + 1} settings cloned and a manager of 100 of them added "
        f"in {perf_counter() - started:.1f} s"
    )
    history = History(templates, settings_run, [0] * ORDINARY_SETTINGS)

    # The history runs from a week after the settings opened to ten weeks ago; each level
    # takes the stretch of it in proportion to the shares it adds.
    begins, ends = moment + timedelta(days=7), now - timedelta(days=70)
    total = max(levels)
    times = PageTimes()
    at = begins
    # Seeding happens once the last copy's story is over, so every chain stays in time order.
    story = max(templates.spans.values())
    for level in levels:
        window_end = begins + (ends - begins) * (level / total)
        seeded = window_end + story + timedelta(hours=1)
        started = perf_counter()
        with clock_at(seeded):
            added = grow(history, level, (at, window_end))
        seeding = perf_counter() - started
        shares = Share.objects.count()
        say()
        say(f"(b) Level {level:,}: {shares:,} shares in all, seeded in {seeding:.1f} s")
        say(f"    added {added.describe()}")
        measured = seeded + timedelta(hours=1)
        with clock_at(measured):
            check_level(history)
            times.levels.append(level)
            pages(history, level, times)
        print_level(times, level)
        at = measured + timedelta(hours=1)
    print_summary(times)

    say()
    say("(c) Reports")
    with clock_at(at):
        reports(history, f"at {times.levels[-1]:,} shares:", with_manager=True)
    if skip_million:
        return
    started = perf_counter()
    added = grow_decisions(history, decisions, (begins, now - timedelta(days=2)))
    seeding = perf_counter() - started
    say()
    say(
        f"    {decisions_in_settings(history):,} decisions in the 100 settings, "
        f"{Share.objects.count():,} shares in all, seeded in {seeding:.1f} s"
    )
    say(f"    added {added.describe()}")
    say(f"    sync_permissions:  {command('sync_permissions')}")
    reports(history, f"at {decisions_in_settings(history):,} decisions:", with_manager=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--levels",
        default="2000,10000,110000",
        help="shares at each level, comma-separated, smallest first",
    )
    parser.add_argument(
        "--decisions",
        type=int,
        default=1_000_000,
        help="decisions in the 100 settings for the reports of (c)",
    )
    parser.add_argument(
        "--rounds", type=int, default=20, help="timed lifecycles of each flow in (a)"
    )
    parser.add_argument(
        "--skip-million",
        action="store_true",
        help="stop after the reports at the largest level, seeding no more decisions",
    )
    parser.add_argument(
        "--keep-database",
        action="store_true",
        help="leave the seeded test database in place at the end, to time queries on it "
        "again without seeding it anew (the next run drops and recreates it)",
    )
    arguments = parser.parse_args()
    levels = sorted(int(n) for n in arguments.levels.split(","))
    if connection.vendor != "postgresql":
        say("This benchmark runs on PostgreSQL only: set DATABASE_URL to a PostgreSQL server.")
        return
    # Never the name another test run may be using: creating it here drops what is there.
    # (Django fills TEST's NAME with None, so a plain setdefault would not take.)
    test_settings = settings.DATABASES["default"].setdefault("TEST", {})
    test_settings["NAME"] = test_settings.get("NAME") or "test_scale_benchmark"
    # Not django.test's setup_test_environment: that makes every template rendered send a
    # signal, on which the test client copies the template's context, a cost no request in
    # production pays, and one that grows with each widget a form renders. What it set
    # that matters here is set alike: DEBUG off, as in production, the client's host, and
    # no mail leaving the machine.
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # The viewflow pages a lead may not use answer 403, which Django would log with a
    # traceback at every GET.
    logging.getLogger("django.request").setLevel(logging.ERROR)
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    started = perf_counter()
    try:
        run(levels, arguments.decisions, arguments.rounds, arguments.skip_million)
        say()
        say(f"(whole run: {perf_counter() - started:.0f} s)")
    finally:
        if arguments.keep_database:
            say(f"(database kept: {settings.DATABASES['default']['NAME']})")
            connection.close()
        else:
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
