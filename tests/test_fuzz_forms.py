"""Every form, fuzzed as every persona: never a 500, never a row that breaks a rule.

Hypothesis posts generated input to each POST endpoint of the site (listed in ``ENDPOINTS``;
``test_every_form_page_is_fuzzed`` walks the URLconf so a new form page cannot be left out):
random and huge text, unicode edge cases (NUL, lone surrogates sent as the bytes a client
would send, right-to-left marks), wrong types, dates far in the past and future, duplicated
and missing fields, ids of other settings' records, and bodies in other charsets. Each post
runs in a savepoint rolled back after it, once the rows it left have been checked against
the rules (``broken_rules``). The number of cases run is printed.

The demo is seeded once for the module (``tests.seeded``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.db.models.functions import Length, TruncMinute
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases.choices import Role, ShareStatus, ThirdPartyHandling
from cases.identifiers import nhs_number_problem, upn_problem
from cases.models import (
    Carer,
    Case,
    Child,
    Consultation,
    Decision,
    Delivery,
    DeliveryEvent,
    FamilyFollowUp,
    FileRequest,
    FileTransfer,
    Membership,
    Organisation,
    Recipient,
    ReconsiderationRequest,
    RegisterImport,
    Release,
    SettingClosure,
    Share,
    ShareItem,
    TransferEvent,
)
from cases.register_import.service import register_import_start
from cases.rules import EARLIEST_PLAUSIBLE, MAX_ITEMS_PER_SHARE
from cases.services import child_add
from cases.services.transfers import file_request_make, transfer_send, transfer_send_outside
from permissions.models import BreakGlassGrant
from workflows import steps
from workflows.child_file.assemble import assemble_file
from workflows.demo import seed_demo
from workflows.models import Notification

from .http_helpers import form_data, form_field_names
from .seeded import seeded_once

PERSONAS = ("practitioner", "colleague", "lead", "deputy", "manager", "auditor", "otherlead")


@dataclass(frozen=True)
class Endpoint:
    name: str  # the URL name in the safeguarding namespace, or a project path
    kind: str  # which records fill its id: "", "case", "share", "consultation"


ENDPOINTS = (
    Endpoint("share_propose", "case"),
    Endpoint("share_edit", "share"),
    Endpoint("share_withdraw", "share"),
    Endpoint("emergency_release", "share"),
    Endpoint("lead_review", "share"),
    Endpoint("reconsider", "share"),
    Endpoint("ask_reconsideration", "share"),
    Endpoint("notification_read", "notification"),
    Endpoint("family_told", "share"),
    Endpoint("record_release", "share"),
    Endpoint("send_securely", "share"),
    Endpoint("new_link", "share"),
    Endpoint("revoke_link", "link"),
    Endpoint("send_child_file", "child"),
    Endpoint("child_file", "file"),
    Endpoint("new_file_link", "file"),
    Endpoint("revoke_file_link", "file_link"),
    Endpoint("file_request_ask", ""),
    Endpoint("file_request", "request"),
    Endpoint("advice_ask", "share"),
    Endpoint("advice_answer", "consultation"),
    Endpoint("case_team", "case"),
    Endpoint("break_glass", ""),
    Endpoint("break_glass_review", ""),
    Endpoint("deadlines", ""),
    Endpoint("staff_sign_in", ""),
    Endpoint("/accounts/login/", ""),
    Endpoint("profile", ""),
    Endpoint("password_change", ""),
    Endpoint("authenticator_change", ""),
    Endpoint("carry_on", ""),
    # The setting's own pages: its details, staff, children, cases, address book, imports.
    Endpoint("setting_details", ""),
    Endpoint("setting_staff", ""),
    Endpoint("setting_closures", ""),
    Endpoint("setting_closure_remove", "closure"),
    Endpoint("setting_staff_member", "membership"),
    Endpoint("child_add", ""),
    Endpoint("child_detail", "child"),
    Endpoint("case_open", "child"),
    Endpoint("recipient_add", ""),
    Endpoint("recipient_detail", "recipient"),
    Endpoint("recipient_retire", "recipient"),
    Endpoint("register_import", ""),
    Endpoint("register_import_preview", "import"),
)
LOGIN = "/accounts/login/"
# Safeguarding pages that take no form (lists, read-only pages, exports).
READ_ONLY = {
    "index",
    "case_list",
    "case_detail",
    "my_shares",
    "share_detail",
    "notifications",
    "notification_open",
    "review_queue",
    "family_follow_ups",
    "chronology",
    "audit_log",
    "advice_asked_of_me",
    "decision_record",
    "decision_record_pdf",
    "reports",
    "reports_export",
    "child_files",
    "child_file_pdf",
    "search",
    "children",
    "address_book",
}

# Forms that are buttons on another page (or the project's sign-in), and what they post.
_NOT_AN_SS_FORM = {
    "case_team": ("action", "user"),
    "break_glass_review": ("grant", "end"),
    # A "mark as read" button: nothing to type, so whatever else arrives must be ignored.
    "notification_read": ("next",),
    "/accounts/login/": ("username", "password", "next"),
    "staff_sign_in": ("action", "user", "setting", "everyone", "confirm"),
    "profile": ("action",),
    "carry_on": ("carry_on",),
    # Buttons that ask once more before they act: nothing to type.
    "recipient_retire": ("confirm",),
    "register_import_preview": ("action",),
    # Buttons on a share's page that take nothing typed: a new secure link, revoking one.
    "new_link": ("action",),
    "revoke_link": ("action",),
    "new_file_link": ("action",),
    "revoke_file_link": ("action",),
    # Removing a closure from the Term dates page: a button, nothing typed.
    "setting_closure_remove": ("action",),
}

_COUNT = itertools.count(1)
# The choices under which a share's dates are kept rather than cleared as not applying.
_MAKES_DATES_COUNT = {"direction": "inbound", "family_informed": "told"}


@dataclass
class Facts:
    users: dict[str, Any]
    ids: dict[str, list[int]]  # kind -> every pk of the demo (both settings), and one unknown
    any_pk: list[int]  # every pk of every kind, for forged id fields
    fields: dict[str, list[str]]  # endpoint name -> the names its form renders
    clients: dict[str, Client]  # persona -> a client signed in as them, CSRF checked
    tokens: dict[str, str]  # persona -> that client's CSRF token
    # endpoint name -> who opened it, on which record, and what their browser would post
    bases: dict[str, tuple[str, int, list[tuple[str, str]]]]


def _path(endpoint: Endpoint, pk: int | None) -> str:
    if endpoint.name.startswith("/"):
        return endpoint.name
    args = [pk] if endpoint.kind else []
    if endpoint.kind == "link":  # a secure link, under its own share
        share = Delivery.objects.filter(pk=pk).values_list("share_id", flat=True).first()
        args = [share or 999_999, pk]
    if endpoint.kind == "file_link":  # a file's secure link, under its own file
        file = Delivery.objects.filter(pk=pk).values_list("transfer_id", flat=True).first()
        args = [file or 999_999, pk]
    return reverse(f"safeguarding:{endpoint.name}", args=args)


def _seed_and_load() -> Facts:
    seed_demo()
    # A child on the roll with no case yet (every demo child has one), so a case can be
    # opened; and an upload waiting for its lead to confirm it.
    lead = get_user_model().objects.get(username="lead")
    oakfield = Organisation.objects.get(memberships__user=lead)
    child_add(
        organisation=oakfield,
        by=lead,
        fields={"first_name": "Rowan", "last_name": "Ellis", "date_of_birth": date(2021, 5, 4)},
    )
    register_import_start(
        organisation=oakfield,
        kind="children",
        by=lead,
        file_name="roll.csv",
        data=b"Legal Forename,Legal Surname,DOB\r\nIvy,Moss,03/02/2021\r\n",
    )
    # The demo's approved share sent by secure link, so there is a link to revoke.
    approved = Share.objects.get(status=ShareStatus.APPROVED)
    steps.send_securely(
        share=approved,
        user=approved.proposed_by,
        third_party_handling={
            item.pk: (ThirdPartyHandling.CONFIRMED, "")
            for item in approved.items.filter(identifies_third_party=True)
        },
    )
    # A child's file sent from Riverside to Oakfield's lead, to accept or reject.
    other_lead = get_user_model().objects.get(username="otherlead")
    child = Child.objects.filter(organisation__memberships__user=other_lead).first()
    transfer_send(
        child=child,
        to=Membership.objects.get(user=lead, ended_at__isnull=True),
        starts_on=date(2026, 9, 7),
        note="",
        file=assemble_file(child, other_lead),
        user=other_lead,
    )
    # An Oakfield child's file sent outside the installation, by secure link.
    outside = Recipient.objects.get(organisation=oakfield, agency_kind="school")
    moving = Child.objects.filter(organisation=oakfield).first()
    transfer_send_outside(
        child=moving,
        to_outside=outside,
        starts_on=date(2026, 9, 7),
        note="",
        file=assemble_file(moving, lead),
        user=lead,
    )
    # Riverside asking Oakfield for a child's file.
    file_request_make(
        asked_of=oakfield,
        asked_for=child.organisation,
        user=other_lead,
        first_name="Rowan",
        last_name="Ellis",
        date_of_birth=date(2021, 5, 4),
        starts_on=date(2026, 9, 7),
    )
    users = {u.username: u for u in get_user_model().objects.filter(username__in=PERSONAS)}
    ids = {
        "": [0],
        "case": [*Case.objects.values_list("pk", flat=True), 999_999],
        "share": [*Share.objects.values_list("pk", flat=True), 999_999],
        "consultation": [*Consultation.objects.values_list("pk", flat=True), 999_999],
        "notification": [*Notification.objects.values_list("pk", flat=True), 999_999],
        "membership": [*Membership.objects.values_list("pk", flat=True), 999_999],
        "child": [*Child.objects.values_list("pk", flat=True), 999_999],
        "recipient": [*Recipient.objects.values_list("pk", flat=True), 999_999],
        "import": [*RegisterImport.objects.values_list("pk", flat=True), 999_999],
        "link": [
            *Delivery.objects.filter(share__isnull=False).values_list("pk", flat=True),
            999_999,
        ],
        "file_link": [
            *Delivery.objects.filter(transfer__isnull=False).values_list("pk", flat=True),
            999_999,
        ],
        "file": [*FileTransfer.objects.values_list("pk", flat=True), 999_999],
        "request": [*FileRequest.objects.values_list("pk", flat=True), 999_999],
        "closure": [*SettingClosure.objects.values_list("pk", flat=True), 999_999],
    }
    any_pk = sorted(
        {
            pk
            for model in (Share, ShareItem, Recipient, Case, BreakGlassGrant, Decision)
            for pk in model.objects.values_list("pk", flat=True)
        }
        | {user.pk for user in users.values()}
    )
    fields: dict[str, list[str]] = {}
    bases: dict[str, tuple[str, int, list[tuple[str, str]]]] = {}
    client = Client()
    for endpoint in ENDPOINTS:
        names = set(_NOT_AN_SS_FORM.get(endpoint.name, ()))
        # The first persona and record that can open the form: enough to learn its fields.
        for persona, pk in itertools.product(
            ("practitioner", "lead", *PERSONAS), ids[endpoint.kind]
        ):
            if names:
                break
            client.force_login(users[persona])
            response = client.get(_path(endpoint, pk))
            if response.status_code == 200 and b"ss-form" in response.content:
                names |= form_field_names(response)
                bases[endpoint.name] = (
                    persona,
                    pk,
                    [
                        (name, item)
                        for name, value in form_data(response).items()
                        for item in (value if isinstance(value, list) else [value])
                    ],
                )
        fields[endpoint.name] = sorted(names - {"csrfmiddlewaretoken"})
    clients, tokens = {}, {}
    for persona in PERSONAS:
        # As in production, the CSRF check reads the body (a charset it refuses included).
        clients[persona] = Client(enforce_csrf_checks=True)
        clients[persona].force_login(users[persona])
        tokens[persona] = _token(clients[persona])
    return Facts(users, ids, any_pk, fields, clients, tokens, bases)


def _token(client: Client) -> str:
    client.get(LOGIN)
    return client.cookies["csrftoken"].value


@pytest.fixture(scope="module")
def facts(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Facts]:
    with seeded_once(django_db_blocker, _seed_and_load) as built:
        yield built


# --- What a hostile tester types ---------------------------------------------------------

_EDGE_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",  # a lone surrogate: sent as the bytes ED A0 80, which are not UTF-8
    "\udfff tail",
    "\u202eevil",
    "\ufeff",
    "𝕄𝕒𝕚𝕤𝕚𝕖",
    "<script>alert(1)</script>",
    "'; DROP TABLE cases_share; --",
    "-1",
    "0",
    "1e309",
    "99999999999999999999999",
    "NaN",
    "true",
    "on",
    "[]",
    "{}",
]
_DATES = [
    "0001-01-01",
    "1899-12-31",
    "1900-01-01",
    "9999-12-31",
    "10000-01-01",
    "2025-02-30",
    "0001-01-01T00:00",
    "9999-12-31T23:59",
    "2024-06-01T09:30",
]


def _relative_dates() -> list[str]:
    today = timezone.localdate()
    return [(today + timedelta(days=days)).isoformat() for days in (-3650, -30, -1, 0, 1, 400)] + [
        f"{(today + timedelta(days=days)).isoformat()}T10:00" for days in (-1, 0, 1)
    ]


def values(any_pk: list[int]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(_EDGE_TEXT),
        st.sampled_from(_DATES + _relative_dates()),
        st.sampled_from([str(pk) for pk in any_pk]),
        st.text(max_size=40),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.builds(
            lambda c, n: c * n,
            st.sampled_from(["a", "é", "\x00", "Maisie "]),
            st.sampled_from([2001, 4001, 8001, 130_000]),
        ),
    )


@st.composite
def posts(draw: Any, facts: Facts) -> tuple[Endpoint, str, int, list[tuple[str, str]], str]:
    endpoint = draw(st.sampled_from(ENDPOINTS))
    persona = draw(st.sampled_from(PERSONAS))
    pk = draw(st.sampled_from(facts.ids[endpoint.kind]))
    known = facts.fields[endpoint.name] or ["x"]
    extra = [
        "items-TOTAL_FORMS",
        "items-INITIAL_FORMS",
        "items-0-id",
        "action",
        "grant",
        "user",
        "end",
    ]
    names = st.sampled_from([*known, *extra, "unexpected"])
    pairs = draw(st.lists(st.tuples(names, values(facts.any_pk)), max_size=12))
    # Often the form as a browser would send it, with some values replaced: every date
    # implausible, and the choices that make the dates count.
    if draw(st.booleans()) and endpoint.name in facts.bases:
        base = []
        persona, pk, browser = facts.bases[endpoint.name]  # as the person who could open it
        for name, value in browser:
            if name.endswith(("_on", "_at")) and draw(st.booleans()):
                value = draw(st.sampled_from(_DATES + _relative_dates()))
            elif name in _MAKES_DATES_COUNT and draw(st.booleans()):
                value = _MAKES_DATES_COUNT[name]
            elif draw(st.integers(0, 5)) == 0:
                value = draw(values(facts.any_pk))
            base.append((name, value))
        for name, value in _MAKES_DATES_COUNT.items():  # an unticked radio is not posted
            known_here = name in facts.fields[endpoint.name] and name not in dict(base)
            if known_here and draw(st.booleans()):
                base.append((name, value))
        pairs = base + pairs
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-16", "latin-1", "multipart"]))
    return endpoint, persona, pk, pairs, encoding


def _body(pairs: list[tuple[str, str]], encoding: str) -> tuple[bytes, str]:
    if encoding == "multipart":
        boundary = "fuzzboundary"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{quote(name)}"\r\n\r\n'.encode()
            + value.encode("utf-8", "surrogatepass")
            + b"\r\n"
            for name, value in pairs
        ]
        return b"".join(parts) + f"--{boundary}--\r\n".encode(), (
            f"multipart/form-data; boundary={boundary}"
        )
    text = "&".join(
        f"{quote(name)}={quote(value.encode('utf-8', 'surrogatepass'))}" for name, value in pairs
    )
    if encoding == "utf-8":
        return text.encode(), "application/x-www-form-urlencoded"
    return text.encode(encoding, "replace"), (
        f"application/x-www-form-urlencoded; charset={encoding}"
    )


# --- The rules every saved row must still keep -------------------------------------------


def _too_long(model: type[models.Model]) -> int:
    limited = [
        field
        for field in model._meta.concrete_fields
        if isinstance(field, (models.CharField, models.TextField)) and field.max_length
    ]
    query = models.Q()
    annotations = {}
    for field in limited:
        annotations[f"len_{field.name}"] = Length(field.name)
        query |= models.Q(**{f"len_{field.name}__gt": field.max_length})
    return model._default_manager.annotate(**annotations).filter(query).count()


def broken_rules() -> list[str]:
    today = timezone.localdate()
    tomorrow = today + timedelta(days=1)  # a setting's day may run ahead of the server's
    found = []
    for name, dates in (
        (
            "Share.requested_on",
            Share.objects.filter(requested_on__isnull=False).values_list("requested_on", flat=True),
        ),
        (
            "Share.family_informed_on",
            Share.objects.filter(family_informed_on__isnull=False).values_list(
                "family_informed_on", flat=True
            ),
        ),
        (
            "FamilyFollowUp.informed_on",
            FamilyFollowUp.objects.filter(informed_on__isnull=False).values_list(
                "informed_on", flat=True
            ),
        ),
    ):
        bad = [d for d in dates if d is not None and not EARLIEST_PLAUSIBLE <= d <= tomorrow]
        if bad:
            found.append(f"{name} outside {EARLIEST_PLAUSIBLE}..today: {bad}")
    now = timezone.now()
    if Release.objects.filter(sent_at__gt=now).exists():
        found.append("a Release sent in the future")
    early = Release.objects.annotate(proposed=TruncMinute("share__created_at")).filter(
        sent_at__lt=models.F("proposed")
    )
    if early.exists():
        found.append("a Release sent before its share was proposed")
    before_decision = (
        Release.objects.filter(decision__isnull=False)
        .annotate(decided=TruncMinute("decision__decided_at"))
        .filter(sent_at__lt=models.F("decided"))
    )
    if before_decision.exists():
        found.append("a Release sent before the decision it rests on")
    for model in (
        Share,
        ShareItem,
        Decision,
        Release,
        Consultation,
        FamilyFollowUp,
        BreakGlassGrant,
        Recipient,
        ReconsiderationRequest,
    ):
        if _too_long(model):
            found.append(f"a {model.__name__} with text over its limit")
    if _too_long(FileRequest):
        found.append("a request for a child's file with text over its limit")
    if FileRequest.objects.filter(asked_of=models.F("asked_for")).exists():
        found.append("a setting asking itself for a child's file")
    if _too_long(TransferEvent) or _too_long(FileTransfer):
        found.append("a child protection file with text over its limit")
    if (
        FileTransfer.objects.filter(case__isnull=False)
        .exclude(case__organisation=models.F("to_setting"))
        .exists()
    ):
        found.append("a child protection file attached to another setting's case")
    if _too_long(DeliveryEvent):
        found.append("a secure link's event with text over its limit")
    if (
        Delivery.objects.filter(share__isnull=False)
        .exclude(share=models.F("release__share"))
        .exists()
    ):
        found.append("a secure link to another share's release")
    if Delivery.objects.filter(
        transfer__to_recipient__isnull=True, transfer__isnull=False
    ).exists():
        found.append("a secure link to a file sent to a setting in this installation")
    if FileTransfer.objects.filter(to_recipient__isnull=False, status="accepted").exists():
        found.append("a file sent outside the installation accepted inside it")
    if ReconsiderationRequest.objects.exclude(requested_by=models.F("share__proposed_by")).exists():
        found.append("a reconsideration asked for by someone other than the proposer")
    if ReconsiderationRequest.objects.exclude(refusal__outcome="refuse").exists():
        found.append("a reconsideration asked of a decision that is not a refusal")
    crowded = Share.objects.annotate(n=models.Count("items")).filter(n__gt=MAX_ITEMS_PER_SHARE)
    if crowded.exists():
        found.append("a share with more items than allowed")
    if (
        Share.objects.exclude(recipient=None)
        .exclude(recipient__organisation=models.F("case__organisation"))
        .exists()
    ):
        found.append("a share addressed to another setting's recipient")
    for model in (Child, Carer, Organisation):
        if _too_long(model):
            found.append(f"a {model.__name__} with text over its limit")
    if Child.objects.filter(date_of_birth__gt=tomorrow).exists():
        found.append("a child born in the future")
    for upn, nhs in Child.objects.values_list("unique_pupil_number", "nhs_number"):
        if (upn and upn_problem(upn)) or (nhs and nhs_number_problem(nhs)):
            found.append(f"a child with an identifier that fails its check: {upn!r} {nhs!r}")
    if Case.objects.exclude(child__organisation=models.F("organisation")).exists():
        found.append("a case of a child on another setting's roll")
    if _too_long(SettingClosure) or SettingClosure.objects.filter(name="").exists():
        found.append("a closure with no name, or one over its limit")
    for closure in SettingClosure.objects.all():
        days = (closure.last_day - closure.first_day).days + 1
        if not 1 <= days <= 70 or abs((closure.first_day - today).days) > 731:
            found.append(f"a closure in the wrong order, too long or too far off: {closure}")
        clash = SettingClosure.objects.filter(
            organisation=closure.organisation_id,
            first_day__lte=closure.last_day,
            last_day__gte=closure.first_day,
        ).exclude(pk=closure.pk)
        if clash.exists():
            found.append(f"closures of one setting that overlap: {closure}")
    if Organisation.objects.filter(working_day_starts__gte=models.F("working_day_ends")).exists():
        found.append("a working day that ends before it starts")
    led = Membership.objects.filter(role=Role.LEAD, ended_at__isnull=True)
    if Organisation.objects.exclude(pk__in=led.values("organisation_id")).exists():
        found.append("a setting left with no lead")
    for case in Case.objects.prefetch_related("team__memberships"):
        for member in case.team.all():
            if all(m.organisation_id != case.organisation_id for m in member.memberships.all()):
                found.append(f"{member} on a case team of a setting they do not work in")
    return found


# --- The tests -----------------------------------------------------------------------------


def test_every_form_page_is_fuzzed() -> None:
    def walk(patterns: list[Any], namespace: str = "") -> Iterator[str]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                yield from walk(pattern.url_patterns, inner)
            elif isinstance(pattern, URLPattern) and pattern.name:
                yield f"{namespace}{pattern.name}"

    safeguarding = {
        name.rsplit(":", 1)[1]
        for name in walk(get_resolver().url_patterns)
        if name.rsplit(":", 1)[0].endswith("safeguarding")
    }
    fuzzed = {endpoint.name for endpoint in ENDPOINTS}
    assert safeguarding - READ_ONLY - fuzzed == set(), "a form page the fuzzer does not post to"


@pytest.mark.django_db
def test_the_fuzzer_knows_each_forms_fields(facts: Facts) -> None:
    empty = [name for name, fields in facts.fields.items() if not fields]
    assert empty == [], "no persona could open these forms"
    assert "items-TOTAL_FORMS" in facts.fields["share_propose"]


@pytest.mark.django_db
@settings(
    max_examples=600,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
def test_no_form_answers_500_or_saves_a_broken_row(facts: Facts, data: Any) -> None:
    endpoint, persona, pk, pairs, encoding = data.draw(posts(facts))
    next(_COUNT)
    if endpoint.name == LOGIN:  # signing in starts a new session: from a client of its own
        client = Client(enforce_csrf_checks=True)
        token = _token(client)
    else:
        client, token = facts.clients[persona], facts.tokens[persona]
    client.raise_request_exception = False
    pairs = [("csrfmiddlewaretoken", token), *pairs]
    body, content_type = _body(pairs, encoding)
    with transaction.atomic():
        response = client.generic("POST", _path(endpoint, pk), body, content_type=content_type)
        broken = broken_rules() if response.status_code < 500 else []
        transaction.set_rollback(True)
    assert response.status_code < 500, (endpoint.name, persona, pairs[:20], encoding)
    assert broken == [], (endpoint.name, persona, pairs[:20], encoding)


def test_the_generated_posts_are_counted(record_property: Any) -> None:
    """Reported in the run's summary (conftest.py), from whichever process ran them."""
    posts = next(_COUNT) - 1
    record_property("generated_posts", posts)
    assert posts >= 100


@pytest.mark.django_db
def test_no_rule_is_broken_by_the_demo_itself(facts: Facts) -> None:
    """The checks above are against the rules, not against the demo's own data."""
    assert broken_rules() == []
    assert date.today().year >= 2025
