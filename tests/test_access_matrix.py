"""Every URL of the site, for every demo persona, against records inside and outside their scope.

The URLconf is walked, not listed by hand, so a URL added without a line in ``EXPECTED``
fails ``test_every_url_has_an_expectation``. For each URL and persona the matrix fills the
route's ids with real demo records (every case, share and process of the demo, and
representative tasks of each flow node, plus a task of another process under a process the
persona may see, and ids that do not exist), GETs the page and checks:

- the exact status code: someone outside a record's scope gets 404, never 403, 200 or 500;
- that no child outside the persona's scope is named on the page, and that no page links to
  a record outside it.

Who sees what is written out here from the demo's facts (``SCOPE``), independently of
``permissions``: the matrix must not share the code it checks, so that it catches a view that
stops using the permissions helpers (``test_the_matrix_catches_a_view_that_skips_the_helpers``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from io import BytesIO
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from pypdf import PdfReader
from viewflow.workflow.status import STATUS

from cases.choices import Outcome, ShareStatus
from cases.models import (
    Case,
    Child,
    Consultation,
    Delivery,
    FamilyFollowUp,
    Membership,
    Organisation,
    Recipient,
    RegisterImport,
    SettingClosure,
    Share,
)
from cases.services import membership_start
from cases.services.deliveries import delivery_resend, delivery_revoke
from cases.services.transfers import file_request_make, transfer_send, transfer_send_outside
from permissions.links import link_token
from workflows import steps
from workflows.child_file.assemble import assemble_file
from workflows.demo import seed_demo
from workflows.escalation import escalate_due_reviews
from workflows.models import Notification, ShareProcess, ShareTask

from .factories import complete_fields, item
from .seeded import seeded_once

PERSONAS = ("practitioner", "colleague", "lead", "deputy", "manager", "auditor", "otherlead")

# Need to know, from the demo's facts: the cases each persona may see. A practitioner sees
# the cases whose team they are on; leads and deputies every case of their setting; managers,
# auditors and practitioners on no team see none; nobody sees another setting.
SCOPE: dict[str, frozenset[str]] = {
    "practitioner": frozenset({"OAK-001", "OAK-002"}),
    "colleague": frozenset(),
    "lead": frozenset({"OAK-001", "OAK-002", "OAK-003"}),
    "deputy": frozenset({"OAK-001", "OAK-002", "OAK-003"}),
    "manager": frozenset(),
    "auditor": frozenset(),
    "otherlead": frozenset({"RIV-001", "RIV-002"}),
}
HOME = {persona: "Riverside" if persona == "otherlead" else "Oakfield" for persona in PERSONAS}
DECIDERS = frozenset({"lead", "deputy", "otherlead"})
MAY_PROPOSE = frozenset({"practitioner", "colleague", "lead", "deputy", "otherlead"})
MAY_BREAK_GLASS = frozenset({"practitioner", "colleague", "manager", "auditor"})
LEADS = frozenset({"lead", "otherlead"})
# Who keeps their setting's register (children, cases opened, address book): lead, deputy.
KEEPS_REGISTER = frozenset({"lead", "deputy", "otherlead"})
READS_AUDIT_LOG = frozenset({"lead", "deputy", "manager", "auditor", "otherlead"})
READS_REPORTS = frozenset({"lead", "deputy", "manager", "auditor", "otherlead"})

LOGIN = "redirect to the login page"
FIRST_STEP = "redirect to the first step of signing in"


# --- The demo, as plain facts --------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One row of the demo a URL can name, with what decides who may reach it."""

    kind: str  # "case", "share", "process", "task", "consultation" or "none" (no such id)
    pk: int
    label: str
    reference: str = ""  # the case it belongs to
    status: str = ""  # share status, or task status
    proposer: str = ""
    owner: str = ""  # a task's owner, or the adviser asked in a consultation
    process_pk: int = 0
    node: str = ""


@dataclass
class Demo:
    users: dict[str, Any]
    children: dict[str, tuple[str, str]]  # reference -> (first name, last name)
    cases: list[Record]
    shares: list[Record]
    processes: list[Record]
    tasks: list[Record]
    missing_pk: int = 999_999
    by_reference: dict[str, int] = field(default_factory=dict)
    consultations: list[Record] = field(default_factory=list)
    notifications: list[Record] = field(default_factory=list)
    # Staff memberships, current and ended; ``owner`` is the name of the setting.
    memberships: list[Record] = field(default_factory=list)
    # The children on each roll (``reference``: their case) and the address books' entries;
    # ``owner`` is the name of the setting.
    roll: list[Record] = field(default_factory=list)
    recipients: list[Record] = field(default_factory=list)
    imports: list[Record] = field(default_factory=list)  # CSV uploads awaiting confirmation
    # Secure links' tokens: whether each opens (a live link) or not (revoked, never issued).
    links: list[tuple[str, str, bool]] = field(default_factory=list)  # (token, label, live)
    link_pks: list[int] = field(default_factory=list)
    # Child protection files sent to another setting; ``owner``: who may open it.
    files: list[Record] = field(default_factory=list)
    requests: list[Record] = field(default_factory=list)  # asks for a child's file, likewise

    def share(self, status: str, reference_prefix: str = "OAK") -> Record:
        return next(
            s
            for s in self.shares
            if s.status == status and s.reference.startswith(reference_prefix)
        )


def _load_demo() -> Demo:
    users = {u.username: u for u in get_user_model().objects.all()}
    cases = Case.objects.select_related("child").order_by("pk")
    shares = Share.objects.select_related("case", "proposed_by").order_by("pk")
    processes = ShareProcess.objects.select_related("share__case").order_by("pk")
    tasks = ShareTask.objects.select_related("owner").order_by("pk")
    share_of_process = {p.pk: p.share for p in processes}
    return Demo(
        users=users,
        children={c.reference: (c.child.first_name, c.child.last_name) for c in cases},
        by_reference={c.reference: c.pk for c in cases},
        cases=[Record("case", c.pk, c.reference, reference=c.reference) for c in cases],
        shares=[
            Record(
                "share",
                s.pk,
                f"share #{s.pk} ({s.status}, {s.case.reference})",
                reference=s.case.reference,
                status=s.status,
                proposer=s.proposed_by.username,
            )
            for s in shares
        ],
        processes=[
            Record(
                "process",
                p.pk,
                f"process #{p.pk} ({p.share.case.reference})",
                reference=p.share.case.reference,
                proposer=p.share.proposed_by.username,
            )
            for p in processes
        ],
        tasks=[
            Record(
                "task",
                t.pk,
                f"task #{t.pk} ({t.flow_task.name}, {t.status}) of process #{t.process_id}",
                reference=share_of_process[t.process_id].case.reference,
                status=t.status,
                owner=t.owner.username if t.owner else "",
                process_pk=t.process_id,
                node=t.flow_task.name,
            )
            for t in tasks
        ],
        consultations=[
            Record(
                "consultation",
                c.pk,
                f"advice #{c.pk} asked of {c.adviser.username}",
                reference=c.share.case.reference,
                owner=c.adviser.username,
            )
            for c in Consultation.objects.select_related("adviser", "share__case").order_by("pk")
        ],
        imports=[
            Record("import", i.pk, f"upload #{i.pk} by {i.by.username}", owner=i.by.username)
            for i in RegisterImport.objects.select_related("by").order_by("pk")
        ],
        notifications=[
            Record(
                "notification",
                n.pk,
                f"notification #{n.pk} to {n.recipient.username}",
                owner=n.recipient.username,
            )
            for n in Notification.objects.select_related("recipient").order_by("pk")
        ],
        memberships=[
            Record(
                "membership",
                m.pk,
                f"membership #{m.pk} ({m.user.username} at {m.organisation.name})",
                owner=m.organisation.name,
            )
            for m in Membership.objects.select_related("user", "organisation").order_by("pk")
        ],
        roll=[
            Record(
                "child",
                ch.pk,
                f"child #{ch.pk} ({ch.organisation.name})",
                reference=" ".join(case.reference for case in ch.cases.all()),
                owner=ch.organisation.name,
            )
            for ch in Child.objects.select_related("organisation")
            .prefetch_related("cases")
            .order_by("pk")
        ],
        recipients=[
            Record(
                "recipient",
                r.pk,
                f"recipient #{r.pk} ({r.organisation.name})",
                owner=r.organisation.name,
            )
            for r in Recipient.objects.select_related("organisation").order_by("pk")
        ],
    )


def _seed_and_load() -> Demo:
    seed_demo()
    # The demo's overdue share escalates at the first sweep: its escalation steps then exist.
    escalate_due_reviews()
    # Uploads awaiting their preview (the demo has none), by Oakfield's lead and deputy: each
    # is the other's "not found".
    for keeper in Membership.objects.filter(
        user__username__in=("lead", "deputy"), ended_at__isnull=True
    ):
        RegisterImport.objects.create(
            organisation=keeper.organisation,
            kind="children",
            by=keeper.user,
            file_name="roll.csv",
            uploaded_text="Legal Forename,Legal Surname,DOB\r\nImported,Pupil,05/03/2019\r\n",
        )
    revoked, live = _secure_links()
    facts = _load_demo()
    facts.files, facts.requests, file_link = _child_files()
    facts.links = [
        (link_token(live), "a live link", True),
        (link_token(revoked), "a revoked link", False),
        (link_token(live)[:-4] + "abcd", "a link altered by hand", False),
        (link_token(file_link), "a file's live link", True),
    ]
    facts.link_pks = [revoked.pk, live.pk, file_link.pk]
    return facts


def _child_files() -> tuple[list[Record], list[Record], Delivery]:
    """Two files sent to a third setting's lead: Oakfield's OAK-003 and Riverside's RIV-001,
    and one sent outside the installation by secure link (Oakfield's OAK-002). Each is open
    to the sending setting's lead and deputy only (the receiving lead is no persona), so
    every persona has a file they may open, or one they may not, or both."""
    elmwood = Organisation.objects.create(name="Elmwood Academy", kind="school")
    receiver = get_user_model().objects.create_user(username="elmwood-lead")
    to = membership_start(user=receiver, organisation=elmwood, role="lead")
    files, asks = [], []
    for reference, sender, seen_by in (
        ("OAK-003", "lead", "lead deputy"),
        ("RIV-001", "otherlead", "otherlead"),
    ):
        child = Case.objects.get(reference=reference).child
        user = get_user_model().objects.get(username=sender)
        transfer = transfer_send(
            child=child,
            to=to,
            starts_on=date(2026, 9, 7),
            note="",
            file=assemble_file(child, user),
            user=user,
        )
        files.append(Record("file", transfer.pk, f"file #{transfer.pk}", reference, owner=seen_by))
        # And Elmwood asking the same setting for another child's file.
        ask = file_request_make(
            asked_of=child.organisation,
            asked_for=elmwood,
            user=receiver,
            first_name="Rowan",
            last_name="Ellis",
            date_of_birth=date(2019, 5, 4),
            starts_on=date(2026, 9, 7),
        )
        asks.append(Record("request", ask.pk, f"request #{ask.pk}", reference, owner=seen_by))
    lead = get_user_model().objects.get(username="lead")
    child = Case.objects.get(reference="OAK-002").child
    sent = transfer_send_outside(
        child=child,
        to_outside=Recipient.objects.get(person_name="Jo Bright"),
        starts_on=date(2026, 9, 7),
        note="",
        file=assemble_file(child, lead),
        user=lead,
    )
    files.append(
        Record("file", sent.transfer.pk, "a file sent outside", "OAK-002", owner="lead deputy")
    )
    assert sent.link is not None
    return files, asks, sent.link.delivery


def _secure_links() -> tuple[Delivery, Delivery]:
    """A share of OAK-001 sent by secure link, whose first link was revoked and replaced."""
    practitioner = get_user_model().objects.get(username="practitioner")
    lead = get_user_model().objects.get(username="lead")
    case = Case.objects.get(reference="OAK-001")
    recipient = Recipient.objects.get(person_name="Sam Carter")
    share = steps.propose(
        case=case, user=practitioner, fields=complete_fields(recipient), items=[item()]
    )
    steps.submit(share=share, user=practitioner)
    steps.decide(share=share, user=lead, outcome=Outcome.APPROVE, reasons="Necessary.")
    first = steps.send_securely(share=share, user=practitioner).delivery
    delivery_revoke(delivery=first, user=lead)
    return first, delivery_resend(share=share, user=lead).delivery


@pytest.fixture(scope="module")
def demo(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Demo]:
    """The demo, seeded once for the module inside a transaction rolled back after it.

    Each test runs in its own savepoint inside it (the ``db`` fixture), and every request of the
    matrix in one more, so nothing a page writes (the access log, a task picked up on opening)
    changes what the next request sees.
    """
    with seeded_once(django_db_blocker, _seed_and_load) as facts:
        yield facts


# --- Every URL -----------------------------------------------------------------------------


def walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


# The sign-in pages, which a project mounts at accounts/ (permissions.accounts.urls).
def _project_routes() -> tuple[str, ...]:
    return tuple(
        "accounts/" + route
        for route, _ in walk(get_resolver("permissions.accounts.urls").url_patterns)
    )


PROJECT_ROUTES = _project_routes()
# The pages open to anyone: signing in, and choosing a new password by an emailed link. (The
# code and set-up steps of signing in send anyone without a pending sign-in to the first.)
OPEN_ROUTES = [
    "accounts/login/",
    "accounts/password-reset/",
    "accounts/password-reset/sent/",
    "accounts/reset/<uidb64>/<token>/",
    "accounts/reset/done/",
]


# A secure link's pages, for a recipient outside Safeshare: the link (and the code it is
# opened with) are the access, so they answer anyone alike.
RECEIVED_ROUTES = [
    "received/<str:token>/",
    "received/<str:token>/pdf/",
    "received/<str:token>/acknowledge/",
]


def site_root() -> str:
    """Where the project mounted Safeshare: "/" here, "/child-protection/" in the host project."""
    return reverse("safeguarding:case_list").removesuffix("safeguarding/cases/")


def all_routes() -> list[str]:
    """Safeshare's routes relative to where it is mounted, and the project's sign-in pages."""
    return [
        *PROJECT_ROUTES,
        *(route for route, _ in walk(get_resolver("workflows.site").url_patterns)),
    ]


def test_the_site_project_adds_nothing_else():
    # Safeshare's own project (config) is nothing but the sign-in pages and the site.
    if settings.ROOT_URLCONF == "config.urls":
        assert {route for route, _ in walk(get_resolver().url_patterns)} == set(all_routes())


# --- What each persona must get -------------------------------------------------------------

Rule = Callable[[str, Record | None], int]


@dataclass(frozen=True)
class Expect:
    """What a URL answers: to a signed-in persona allowed to see the record it names (or for a
    URL naming none), to anyone else, and to someone not signed in."""

    allowed: Rule
    outside: int = 404
    anonymous: int | str = LOGIN


def everyone(status: int) -> Rule:
    return lambda persona, record: status


def only(personas: frozenset[str], status: int = 200, otherwise: int = 403) -> Rule:
    return lambda persona, record: status if persona in personas else otherwise


def _proposer_step(open_statuses: set[str]) -> Rule:
    """Edit/withdraw: only the proposer; on a share that has moved on, back to its page."""

    def rule(persona: str, share: Record | None) -> int:
        assert share is not None
        if share.proposer != persona:
            return 403
        return 200 if share.status in open_statuses else 302

    return rule


def _decider_step(persona: str, share: Record | None) -> int:
    assert share is not None
    if persona not in DECIDERS:
        return 403
    if share.proposer == persona:  # another decides it (no demo setting is a childminder's)
        return 302
    under_review = (ShareStatus.AWAITING_REVIEW, ShareStatus.RELEASED_IN_EMERGENCY)
    return 200 if share.status in under_review else 302


def _release_step(persona: str, share: Record | None) -> int:
    assert share is not None
    if share.proposer != persona and persona not in DECIDERS:
        return 403
    approved = share.status in (ShareStatus.APPROVED, ShareStatus.APPROVED_IN_PART)
    return 200 if approved else 302


def _reconsider_step(persona: str, share: Record | None) -> int:
    assert share is not None
    if persona not in DECIDERS:
        return 403
    if share.proposer == persona:
        return 302
    return 200 if share.status == ShareStatus.REFUSED else 302


def _ask_reconsideration_step(persona: str, share: Record | None) -> int:
    """Only the proposer asks, of a refused share; on any other, back to its page."""
    assert share is not None
    if share.proposer != persona:
        return 403
    return 200 if share.status == ShareStatus.REFUSED else 302


def _own_notification(status: int) -> Rule:
    """Following one's own notification: on to where it points (which checks access again)."""
    return lambda persona, notification: status


def _family_told_step(persona: str, share: Record | None) -> int:
    """The proposer or a lead records that the family was told, while a promise is open."""
    assert share is not None
    if share.proposer != persona and persona not in DECIDERS:
        return 403
    promised = FamilyFollowUp.objects.filter(share_id=share.pk, recorded_at__isnull=True)
    return 200 if promised.exists() else 302


# viewflow's task pages. Nobody may undo, revive or cancel (``has_manage_permission`` is
# False) or unassign (a step is never handed back to a pool); only the owner of a task may
# execute it (it points at the share's own page); an unowned task may be picked up, the lead
# review only by a lead or deputy of the share's setting.
def _execute(persona: str, task: Record | None) -> int:
    assert task is not None
    return 302 if task.owner == persona and task.status == STATUS.ASSIGNED else 403


def _assign(node: str) -> Rule:
    def rule(persona: str, task: Record | None) -> int:
        assert task is not None
        if task.owner:
            return 403
        if node == "lead_review" and persona not in DECIDERS:
            return 403
        return 200

    return rule


# The share flow's nodes, by kind, and the task pages viewflow gives each kind.
FLOW_NODES = {
    "start": "start",
    "draft": "view",
    "after_draft": "gate",
    "lead_review": "view",
    "route_decision": "gate",
    "record_release": "view",
    "released": "end",
    "refused": "end",
    "withdrawn": "end",
    # Escalation beside an open lead review: three timers, each leading to a function.
}
TASK_PAGES = {
    "start": ("", "detail", "undo"),
    "view": ("", "detail", "execute", "assign", "unassign", "cancel", "undo", "revive"),
    "gate": ("", "detail", "cancel", "undo", "revive"),
    "end": ("", "detail", "undo", "revive"),
    "timer": ("", "detail", "cancel"),
}


def _task_page(node: str, page: str) -> Expect:
    rules: dict[str, Rule] = {
        "": everyone(302),  # to the task's detail, execute or assign page
        "detail": everyone(200),
        "execute": _execute,
        "assign": _assign(node),
        "unassign": everyone(403),  # a step is never handed back to a pool
        "cancel": everyone(403),
        "undo": everyone(403),
        "revive": everyone(403),
    }
    return Expect(rules[page])


def task_route(node: str, page: str) -> str:
    return f"share/<int:process_pk>/{node}/<int:task_pk>/" + (f"{page}/" if page else "")


EXPECTED: dict[str, Expect] = {
    "accounts/login/": Expect(everyone(200), anonymous=200),
    # Signing out is a POST; a GET shows the button (and sends a visitor to sign in).
    "accounts/logout/": Expect(everyone(200)),
    # The code and set-up steps of signing in, with no password given first: to the first step.
    "accounts/login/code/": Expect(everyone(302), anonymous=FIRST_STEP),
    "accounts/login/set-up/": Expect(everyone(302), anonymous=FIRST_STEP),
    # The account menu's link, on to the person's own sign-in page.
    "accounts/profile/": Expect(everyone(302)),
    # Each person's own sign-in: their second factor, password and sessions.
    "safeguarding/account/": Expect(everyone(200)),
    "safeguarding/account/password/": Expect(everyone(200)),
    "safeguarding/account/authenticator/": Expect(everyone(200)),
    # Nothing kept from a session that ended: on to the home page.
    "safeguarding/account/carry-on/": Expect(everyone(302)),
    "": Expect(everyone(302)),
    # Everyone's home: what needs them now, from their own work and their own settings.
    "safeguarding/": Expect(everyone(200)),
    "safeguarding/cases/": Expect(everyone(200)),
    # Finding a child or case: only within what the person may see (tests/test_search.py).
    "safeguarding/search/": Expect(everyone(200)),
    "safeguarding/cases/<int:pk>/": Expect(everyone(200)),
    "safeguarding/cases/<int:case_pk>/propose/": Expect(only(MAY_PROPOSE)),
    "safeguarding/shares/": Expect(everyone(200)),
    "safeguarding/shares/<int:pk>/": Expect(everyone(200)),
    "safeguarding/shares/<int:pk>/edit/": Expect(_proposer_step({ShareStatus.DRAFT})),
    "safeguarding/shares/<int:pk>/withdraw/": Expect(_proposer_step({ShareStatus.DRAFT})),
    "safeguarding/shares/<int:pk>/emergency/": Expect(_proposer_step({ShareStatus.DRAFT})),
    "safeguarding/review/": Expect(everyone(200)),
    "safeguarding/notifications/": Expect(everyone(200)),
    # One's own notifications only: anyone else's, like one that does not exist, is not found.
    "safeguarding/notifications/<int:pk>/": Expect(_own_notification(302)),
    # POST only (a "mark as read" button): a GET is refused before any lookup.
    "safeguarding/notifications/<int:pk>/read/": Expect(everyone(405), outside=405),
    "safeguarding/shares/<int:pk>/ask-reconsideration/": Expect(_ask_reconsideration_step),
    "safeguarding/deadlines/": Expect(only(LEADS)),
    # The lead's view of their staff's sign-in and second factors.
    "safeguarding/staff/sign-in/": Expect(only(LEADS)),
    # The lead runs the setting: its details and its staff (deputies too are refused).
    "safeguarding/setting/": Expect(only(LEADS)),
    "safeguarding/setting/staff/": Expect(only(LEADS)),
    # Its term dates (lead only, like its details); removing a closure is a button: POST only,
    # so a GET is refused before any look-up (tests/test_term_dates.py posts to it).
    "safeguarding/setting/term-dates/": Expect(only(LEADS)),
    "safeguarding/setting/term-dates/<int:closure_pk>/remove/": Expect(everyone(405), outside=405),
    # A person's membership: found only by the lead of its setting (see probes()), not
    # found (404) by anyone else, a deputy of that setting included.
    "safeguarding/setting/staff/<int:membership_pk>/": Expect(everyone(200)),
    # The register, kept by a lead or deputy (practitioners, managers, auditors: 403). A child
    # or entry is found only by a keeper of its own setting (see probes()); the demo's
    # children all have an open case, so "open a case" says so and links to it.
    "safeguarding/setting/children/": Expect(only(KEEPS_REGISTER)),
    "safeguarding/setting/children/add/": Expect(only(KEEPS_REGISTER)),
    "safeguarding/setting/children/<int:child_pk>/": Expect(everyone(200)),
    "safeguarding/setting/children/<int:child_pk>/open-case/": Expect(everyone(200)),
    "safeguarding/setting/address-book/": Expect(only(KEEPS_REGISTER)),
    "safeguarding/setting/address-book/add/": Expect(only(KEEPS_REGISTER)),
    "safeguarding/setting/address-book/<int:recipient_pk>/": Expect(everyone(200)),
    "safeguarding/setting/address-book/<int:recipient_pk>/retire/": Expect(everyone(200)),
    # Importing children (lead, deputy) or staff (lead) from a CSV; an upload's preview is
    # found only by the person who made it: anyone else, a fellow keeper too, gets 404.
    "safeguarding/setting/import/": Expect(only(KEEPS_REGISTER)),
    "safeguarding/setting/import/<int:import_pk>/": Expect(everyone(200)),
    "safeguarding/shares/<int:pk>/review/": Expect(_decider_step),
    # POST only: a GET is refused before any lookup, identically for a case one may see, one
    # may not, and one that does not exist, so it tells nobody anything.
    "safeguarding/cases/<int:pk>/team/": Expect(everyone(405), outside=405),
    "safeguarding/break-glass/": Expect(only(MAY_BREAK_GLASS)),
    "safeguarding/break-glass/review/": Expect(only(DECIDERS)),
    "safeguarding/audit/": Expect(only(READS_AUDIT_LOG)),
    "safeguarding/reports/": Expect(only(READS_REPORTS)),
    "safeguarding/reports/export.csv": Expect(only(READS_REPORTS)),
    "safeguarding/shares/<int:pk>/release/": Expect(_release_step),
    "safeguarding/shares/<int:pk>/send/": Expect(_release_step),
    # POST only (buttons on the share's page): a GET is refused before any lookup.
    "safeguarding/shares/<int:pk>/links/<int:link>/revoke/": Expect(everyone(405), outside=405),
    "safeguarding/shares/<int:pk>/links/new/": Expect(everyone(405), outside=405),
    # A live link asks for the code (no case detail); its PDF, before the code, goes back
    # to that page, as does the address acknowledging posts to, opened again. A revoked
    # link, or one never issued, is the plain "no longer available" page for everyone.
    "received/<str:token>/": Expect(everyone(200), anonymous=200),
    "received/<str:token>/pdf/": Expect(everyone(302), anonymous=302),
    "received/<str:token>/acknowledge/": Expect(everyone(302), anonymous=302),
    # Child protection files: the list (empty for anyone who neither sends nor receives
    # them), sending one from a child's page (the register's keepers of the child's
    # setting: its lead and deputy), and a file and its PDF, open to the sending and the
    # receiving settings' leads and deputies only.
    "safeguarding/files/": Expect(everyone(200)),
    "safeguarding/setting/children/<int:child_pk>/send-file/": Expect(everyone(200)),
    "safeguarding/files/<int:pk>/": Expect(everyone(200)),
    "safeguarding/files/<int:pk>/file.pdf": Expect(everyone(200)),
    # POST only (buttons on a file sent outside by secure link): refused before any lookup.
    "safeguarding/files/<int:pk>/links/<int:link>/revoke/": Expect(everyone(405), outside=405),
    "safeguarding/files/<int:pk>/links/new/": Expect(everyone(405), outside=405),
    # Asking a child's previous setting for their file (a lead or deputy); a request, open to
    # the asking and the asked settings' leads and deputies only.
    "safeguarding/files/ask/": Expect(only(DECIDERS)),
    "safeguarding/files/requests/<int:pk>/": Expect(everyone(200)),
    "safeguarding/shares/<int:pk>/reconsider/": Expect(_reconsider_step),
    "safeguarding/shares/<int:pk>/family-told/": Expect(_family_told_step),
    # Each person's own list: empty for anyone with no family to tell.
    "safeguarding/family-follow-ups/": Expect(everyone(200)),
    "safeguarding/cases/<int:pk>/chronology/": Expect(everyone(200)),
    # The decision record: whoever may see the share may read and download it.
    "safeguarding/shares/<int:pk>/record/": Expect(everyone(200)),
    "safeguarding/shares/<int:pk>/record.pdf": Expect(everyone(200)),
    "safeguarding/shares/<int:pk>/advice/": Expect(_proposer_step({ShareStatus.DRAFT})),
    "safeguarding/advice/": Expect(everyone(200)),
    # Only the person asked finds a question, whoever else may see its share: the case's own
    # lead gets 404 for advice asked of a colleague.
    "safeguarding/advice/<int:pk>/": Expect(everyone(200)),
    # viewflow's retired lists send everyone on to the Safeguarding page with that work
    # (tests/test_workflow_pages.py says where).
    "share/": Expect(everyone(302)),
    "share/flows/": Expect(everyone(302)),
    "share/tasks/": Expect(everyone(302)),
    "share/inbox/": Expect(everyone(302)),
    "share/queue/": Expect(everyone(302)),
    "share/archive/": Expect(everyone(302)),
    # A share's steps, linked from its page, and the flow's diagrams.
    "share/<int:process_pk>/": Expect(everyone(200)),
    "share/<int:process_pk>/cancel/": Expect(everyone(403)),
    "share/chart/": Expect(everyone(200)),
    "share/<int:process_pk>/chart/": Expect(everyone(200)),
}
# Choosing a new password, open to anyone (a made-up link, as probed, says it does not work).
EXPECTED.update({route: Expect(everyone(200), anonymous=200) for route in OPEN_ROUTES[1:]})
EXPECTED.update(
    {
        task_route(node, page): _task_page(node, page)
        for node, kind in FLOW_NODES.items()
        for page in TASK_PAGES[kind]
    }
)

# Cells of the matrix where the application is known to be wrong: (persona, route) -> why.
# Their in-scope probes are left out of the matrix assertion and each is pinned by a strict
# xfail test instead, so that fixing the bug is noticed. None at present.
KNOWN_BUGS: dict[tuple[str, str], str] = {}


# --- Filling each route with records --------------------------------------------------------


def sees(persona: str, record: Record) -> bool:
    return record.kind != "none" and record.reference in SCOPE[persona]


@dataclass(frozen=True)
class Probe:
    path: str
    label: str
    record: Record | None  # what the expectation is judged on
    allowed: bool  # False: the persona must get the route's "outside" answer


def _fill(route: str, **ids: int | str) -> str:
    path = ("/" if route in PROJECT_ROUTES else site_root()) + route
    for name, value in ids.items():
        path = path.replace(f"<int:{name}>", str(value)).replace(f"<str:{name}>", str(value))
    path = path.replace("<uidb64>", "MQ").replace("<token>", "not-a-token")
    assert "<" not in path, f"no way to fill {route!r}: add its ids to the matrix"
    return path


def _representative_tasks(demo: Demo, node: str) -> list[Record]:
    """The node's tasks, one for each (setting, status, owner): each answers differently."""
    seen, chosen = set(), []
    for task in demo.tasks:
        key = (task.reference[:3], task.status, task.owner)
        if task.node == node and key not in seen:
            seen.add(key)
            chosen.append(task)
    return chosen


def probes(demo: Demo, route: str, persona: str) -> list[Probe]:
    missing = Record("none", demo.missing_pk, f"#{demo.missing_pk} (does not exist)")
    if "<int:task_pk>" in route:
        node = route.split("/")[2]
        found = [
            Probe(_fill(route, process_pk=t.process_pk, task_pk=t.pk), t.label, t, sees(persona, t))
            for t in _representative_tasks(demo, node)
        ]
        # A task of another process, named under a process the persona may see: 404.
        visible = [p for p in demo.processes if sees(persona, p)]
        home = visible[0] if visible else demo.processes[0]
        foreign = [t for t in demo.tasks if t.node == node and t.process_pk != home.pk]
        for task in {t.reference[:3]: t for t in reversed(foreign)}.values():
            found.append(
                Probe(
                    _fill(route, process_pk=home.pk, task_pk=task.pk),
                    f"{task.label} under {home.label}",
                    task,
                    False,
                )
            )
        found.append(
            Probe(
                _fill(route, process_pk=home.pk, task_pk=missing.pk),
                f"{missing.label} under {home.label}",
                missing,
                False,
            )
        )
        return found
    if "<int:membership_pk>" in route:
        # Only the lead of the membership's setting finds it; to anyone else it does not exist.
        staff = [*demo.memberships, missing]
        return [
            Probe(
                _fill(route, membership_pk=m.pk),
                m.label,
                m,
                persona in LEADS and m.owner.startswith(HOME[persona]),
            )
            for m in staff
        ]
    if "<int:closure_pk>" in route:
        # Every demo setting's closures: only the lead of its setting may remove one.
        closures = [
            Record("closure", pk, f"closure #{pk} of {setting}", owner=setting)
            for pk, setting in SettingClosure.objects.values_list("pk", "organisation__name")
        ]
        return [
            Probe(
                _fill(route, closure_pk=c.pk),
                c.label,
                c,
                persona in LEADS and c.owner.startswith(HOME[persona]),
            )
            for c in [*closures, missing]
        ]
    if "<int:import_pk>" in route:
        uploads = [*demo.imports, missing]
        return [
            Probe(_fill(route, import_pk=i.pk), i.label, i, i.owner == persona) for i in uploads
        ]
    if "<int:child_pk>" in route or "<int:recipient_pk>" in route:
        # Only a keeper of the record's own setting's register finds it.
        name = "child_pk" if "<int:child_pk>" in route else "recipient_pk"
        kept = [*(demo.roll if name == "child_pk" else demo.recipients), missing]
        return [
            Probe(
                _fill(route, **{name: r.pk}),
                r.label,
                r,
                # HOME names a setting by its first word ("Oakfield Nursery").
                persona in KEEPS_REGISTER and r.owner.startswith(HOME[persona]),
            )
            for r in kept
        ]
    if "<str:token>" in route:
        return [
            Probe(_fill(route, token=token), label, None, live) for token, label, live in demo.links
        ]
    if "<int:link>" in route:
        under = demo.files if route.startswith("safeguarding/files/") else demo.shares
        return [
            Probe(_fill(route, pk=r.pk, link=link), r.label, r, sees(persona, r))
            for r in [*under, missing]
            for link in [*demo.link_pks, missing.pk]
        ]
    if route.startswith("safeguarding/files/requests/<int:pk>"):
        asks = [*demo.requests, missing]
        return [Probe(_fill(route, pk=r.pk), r.label, r, persona in r.owner.split()) for r in asks]
    if route.startswith("safeguarding/files/<int:pk>"):
        files = [*demo.files, missing]
        return [Probe(_fill(route, pk=f.pk), f.label, f, persona in f.owner.split()) for f in files]
    if route.startswith("safeguarding/notifications/<int:pk>"):
        notes = [*demo.notifications, missing]
        return [Probe(_fill(route, pk=n.pk), n.label, n, n.owner == persona) for n in notes]
    if route.startswith("safeguarding/advice/<int:pk>"):
        asked = [*demo.consultations, missing]
        return [Probe(_fill(route, pk=c.pk), c.label, c, c.owner == persona) for c in asked]
    if "<int:process_pk>" in route:
        records, name = [*demo.processes, missing], "process_pk"
    elif "<int:case_pk>" in route or route.startswith("safeguarding/cases/<int:pk>/"):
        records, name = [*demo.cases, missing], "case_pk" if "case_pk" in route else "pk"
    elif "<int:pk>" in route:
        records, name = [*demo.shares, missing], "pk"
    else:
        return [Probe(_fill(route), "-", None, True)]
    return [Probe(_fill(route, **{name: r.pk}), r.label, r, sees(persona, r)) for r in records]


# --- What a page must not show ----------------------------------------------------------------


def _hidden_names(demo: Demo, persona: str) -> re.Pattern[str]:
    names = {
        name
        for reference, pair in demo.children.items()
        if reference not in SCOPE[persona]
        for name in pair
    }
    return re.compile(r"\b(" + "|".join(sorted(map(re.escape, names))) + r")\b")


def _hidden_links(demo: Demo, persona: str) -> re.Pattern[str]:
    root = site_root()
    links = [f"{root}safeguarding/cases/{r.pk}/" for r in demo.cases if not sees(persona, r)]
    links += [f"{root}safeguarding/shares/{r.pk}/" for r in demo.shares if not sees(persona, r)]
    links += [f"{root}share/{r.pk}/" for r in demo.processes if not sees(persona, r)]
    return re.compile(r"""(?:href|action)=["'](""" + "|".join(map(re.escape, links)) + ")")


def body_of(response: Any) -> str:
    """The whole body, read from the stream for a streamed download (the CSV export), and
    as its text for a PDF (the decision record), whose compressed pages would hide a name."""
    content = b"".join(response.streaming_content) if response.streaming else response.content
    if response.status_code == 200 and response.get("Content-Type") == "application/pdf":
        return "\n".join(page.extract_text() for page in PdfReader(BytesIO(content)).pages)
    return content.decode(errors="replace")


def leaks(demo: Demo, persona: str, body: str) -> list[str]:
    found = sorted(set(_hidden_names(demo, persona).findall(body)))
    found += sorted(set(_hidden_links(demo, persona).findall(body)))
    return found


# --- The checker ----------------------------------------------------------------------------


def expected_status(route: str, persona: str, probe: Probe) -> int:
    expect = EXPECTED[route]
    return expect.allowed(persona, probe.record) if probe.allowed else expect.outside


def check(
    client: Any,
    demo: Demo,
    persona: str,
    routes: list[str] | None = None,
    *,
    skip_known_bugs: bool = True,
) -> list[str]:
    """Every mismatch between what the persona gets and what the matrix expects."""
    client.raise_request_exception = False  # a 500 is a mismatch like any other
    client.force_login(demo.users[persona])
    mismatches = []
    for route in routes if routes is not None else all_routes():
        known_bug = skip_known_bugs and (persona, route) in KNOWN_BUGS
        for probe in probes(demo, route, persona):
            want = expected_status(route, persona, probe)
            with transaction.atomic():
                response = client.get(probe.path)
                transaction.set_rollback(True)
            if response.status_code != want and not (known_bug and probe.allowed):
                mismatches.append(
                    f"{persona} GET {probe.path} [{route} · {probe.label}]: "
                    f"{response.status_code}, expected {want}"
                )
            leaked = leaks(demo, persona, body_of(response))
            if leaked:
                mismatches.append(f"{persona} GET {probe.path} [{route}] shows {leaked}")
    return mismatches


# --- Tests ----------------------------------------------------------------------------------


def test_every_url_has_an_expectation() -> None:
    routes = all_routes()
    assert len(routes) == len(set(routes)), "two URL patterns share a route"
    missing = sorted(set(routes) - set(EXPECTED))
    stale = sorted(set(EXPECTED) - set(routes))
    assert not missing, f"URLs with no line in the access matrix: {missing}"
    assert not stale, f"expectations for URLs that no longer exist: {stale}"


def test_every_route_can_be_filled_with_demo_records(db: Any, demo: Demo) -> None:
    """Each URL naming a record is tried by someone allowed to see one, and by every persona
    with records (not only missing ids) they may not see."""
    for route in all_routes():
        if "<int:" not in route:
            continue
        found = {persona: probes(demo, route, persona) for persona in PERSONAS}
        assert any(p.allowed for ps in found.values() for p in ps), route
        for persona, ps in found.items():
            assert any(not p.allowed and p.record.kind != "none" for p in ps), (route, persona)
            assert any(p.record.kind == "none" for p in ps), (route, persona)


def test_the_demo_is_what_the_matrix_assumes(db: Any, demo: Demo) -> None:
    assert {r.reference for r in demo.cases} == set().union(*SCOPE.values())
    assert set(PERSONAS) <= set(demo.users)
    # Every node of the flow has at least one task a persona of Oakfield may reach.
    assert {t.node for t in demo.tasks} == set(FLOW_NODES)


@pytest.mark.parametrize("persona", PERSONAS)
def test_access_matrix(client: Any, db: Any, demo: Demo, persona: str) -> None:
    mismatches = check(client, demo, persona)
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches)


def test_anonymous_visitors_are_sent_to_sign_in_everywhere(client: Any, db: Any, demo: Demo):
    wrong = []
    for route in all_routes():
        expect = EXPECTED[route]
        for probe in probes(demo, route, "colleague")[:2]:
            response = client.get(probe.path)
            if expect.anonymous == LOGIN:
                good = response.status_code == 302 and response["Location"].startswith(
                    "/accounts/login/?next="
                )
            elif expect.anonymous == FIRST_STEP:
                good = response.status_code == 302 and response["Location"] == "/accounts/login/"
            else:
                # An open page naming something that opens nothing (a revoked link): as for
                # anyone outside it.
                good = response.status_code == (
                    expect.anonymous if probe.allowed else expect.outside
                )
            if not good:
                wrong.append(f"{probe.path}: {response.status_code} {response.get('Location')}")
            if leaks(demo, "colleague", body_of(response)):
                wrong.append(f"{probe.path} shows a child's name")
    assert not wrong, "\n".join(wrong)
    # Only signing in and choosing a new password are open.
    assert [
        r for r in all_routes() if EXPECTED[r].anonymous not in (LOGIN, FIRST_STEP)
    ] == OPEN_ROUTES + RECEIVED_ROUTES


def test_changing_a_case_team_answers_outsiders_not_found(client: Any, db: Any, demo: Demo):
    """The team page takes only POSTs: outsiders of the case get 404, insiders who may not
    manage its team 403, for every action."""
    client.raise_request_exception = False
    oak3, riv1 = demo.by_reference["OAK-003"], demo.by_reference["RIV-001"]
    oak1 = demo.by_reference["OAK-001"]
    cases = [("colleague", oak1, 404), ("manager", oak3, 404), ("auditor", oak1, 404)]
    cases += [("lead", riv1, 404), ("otherlead", oak1, 404), ("practitioner", oak3, 404)]
    cases += [("practitioner", oak1, 403), ("lead", demo.missing_pk, 404)]
    for persona, pk, want in cases:
        client.force_login(demo.users[persona])
        for action in ("add", "remove", "close"):
            response = client.post(
                f"{site_root()}safeguarding/cases/{pk}/team/",
                {"action": action, "user": demo.users["colleague"].pk},
            )
            assert response.status_code == want, (persona, pk, action, response.status_code)
    assert Case.objects.filter(closed_at__isnull=False).count() == 0


# --- The matrix catches a view that stops using the permissions helpers ---------------------

SAMPLE = [
    "safeguarding/cases/",
    "safeguarding/cases/<int:pk>/",
    "safeguarding/shares/<int:pk>/",
    "safeguarding/shares/<int:pk>/review/",
    "share/<int:process_pk>/",
    "share/<int:process_pk>/chart/",
    task_route("draft", "detail"),
]


def _everything(model: type | None) -> Callable[..., Any]:
    if model is None:  # a condition, not a queryset: one that every record meets
        return lambda user, *args: Q()
    return lambda user: model.objects.all()


SKIPPED_HELPERS = {
    # A lookup that forgets the person: every case or share is "found".
    "lookups.get_case_for": ("permissions.lookups.case_list_for", Case),
    "lookups.get_share_for": ("permissions.lookups.share_list_for", Share),
    # The case list page calling the model instead of the selector.
    "case list": ("cases.views.case_list_for", Case),
    # The selectors' one condition for a visible case: every case and share list and
    # lookup built on it.
    "selectors visible case": ("permissions.selectors._visible_case", None),
    # viewflow's pages: the 404 guard and the scoped process page. (Its task lists, the
    # only pages whose rows ShareTaskQuerySet narrowed, are no longer served.)
    "workflow pages": ("workflows.viewsets.share_list_for", Share),
}


@pytest.mark.parametrize("helper", SKIPPED_HELPERS)
def test_the_matrix_catches_a_view_that_skips_the_helpers(
    client: Any, db: Any, demo: Demo, monkeypatch: Any, helper: str
) -> None:
    assert not check(client, demo, "colleague", SAMPLE), "the sample must pass unpatched"
    target, model = SKIPPED_HELPERS[helper]
    monkeypatch.setattr(target, _everything(model))
    found = check(client, demo, "colleague", SAMPLE)
    assert found, f"the matrix missed a leak through {target}"
    assert any("expected 404" in m or "shows" in m for m in found), found


def test_the_matrix_reports_a_leaked_name_and_a_wrong_status(
    client: Any, db: Any, demo: Demo, monkeypatch: Any
) -> None:
    monkeypatch.setattr("permissions.lookups.case_list_for", _everything(Case))
    found = check(client, demo, "practitioner", ["safeguarding/cases/<int:pk>/"])
    oak3 = demo.by_reference["OAK-003"]
    case_page = f"{site_root()}safeguarding/cases/{oak3}/ "
    assert any(case_page in m and "200, expected 404" in m for m in found)
    assert any("shows" in m and "'Ava'" in m and "'Patel'" in m for m in found), found


# --- Picking up the lead review --------------------------------------------------------------


def test_only_a_lead_or_deputy_may_pick_up_a_lead_review(client: Any, db: Any, demo: Demo):
    """viewflow's own assign page: the proposer (who can see the share) may not take the lead
    review of their own share; the setting's lead may."""
    share = demo.share(ShareStatus.AWAITING_REVIEW)
    process_pk = ShareProcess.objects.get(share_id=share.pk).pk
    task = next(
        t
        for t in demo.tasks
        if t.node == "lead_review" and t.process_pk == process_pk and not t.owner
    )
    path = _fill(task_route("lead_review", "assign"), process_pk=task.process_pk, task_pk=task.pk)
    client.raise_request_exception = False
    for persona, status in (("practitioner", 403), ("otherlead", 404), ("colleague", 404)):
        client.force_login(demo.users[persona])
        assert client.get(path).status_code == status, persona
        assert client.post(path, {}).status_code == status, persona
        assert ShareTask.objects.get(pk=task.pk).owner is None, persona
    client.force_login(demo.users["lead"])
    assert client.get(path).status_code == 200
    assert client.post(path, {}).status_code == 302
    assert ShareTask.objects.get(pk=task.pk).owner == demo.users["lead"]
