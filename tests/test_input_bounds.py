"""Bounded, validated input: each 500 and each implausible date the fuzzer found, pinned.

Every malformed request answers 400 with a message (the test client re-raises whatever a
view lets escape, so none of these passes on a 500); every date a person types is of
something that has happened, after 1900; a share holds at most 50 items; an oversized
question is refused before it is scrubbed; a change to a setting's deadlines is on the
audit chain.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from cases import choices
from cases.deadlines import today_in
from cases.deidentify import scrub
from cases.errors import RuleViolation
from cases.models import DeadlineRule, Share
from cases.rules import MAX_ITEMS_PER_SHARE
from cases.services import (
    advice_preview,
    deadline_policy_set,
    release_in_emergency,
    share_update_draft,
)
from permissions.models import AuditAction, AuditEntry
from workflows import steps

from .benchmarks.deidentify_setting import identity
from .factories import complete_fields, item
from .http_helpers import url


@pytest.fixture(autouse=True)
def a_500_raises(client: Any) -> None:
    client.raise_request_exception = True


# --- Malformed requests -------------------------------------------------------------------


@pytest.mark.django_db
def test_an_unknown_host_is_a_400_with_a_message(client):
    response = client.get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert b"not served under that host name" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("charset", ["utf-16", "latin-1"])
def test_a_form_body_in_another_charset_is_a_400_with_a_message(charset):
    client = Client(enforce_csrf_checks=True)  # as in production: the CSRF check reads the body
    client.raise_request_exception = True
    token = client.get("/accounts/login/").cookies["csrftoken"].value
    body = f"csrfmiddlewaretoken={token}&username=grace&password=x".encode(charset)
    response = client.generic(
        "POST",
        "/accounts/login/",
        body,
        content_type=f"application/x-www-form-urlencoded; charset={charset}",
    )
    assert response.status_code == 400
    assert b"Send it as UTF-8" in response.content


@pytest.mark.parametrize("grant", ["abc", "1\x00", "1.5", "-1", "9" * 40])
def test_a_break_glass_review_of_a_grant_that_is_not_an_id(client, lead, grant):
    client.force_login(lead)
    response = client.post(url("break_glass_review"), {"grant": grant, "end": "1"})
    assert response.status_code == 400
    assert "“grant” must be the number of a record" in response.content.decode()


@pytest.mark.parametrize("member", ["abc", "1\x00", ""])
def test_removing_a_case_team_member_who_is_not_an_id(client, lead, case, member):
    client.force_login(lead)
    response = client.post(url("case_team", case.pk), {"action": "remove", "user": member})
    assert response.status_code == 400
    assert "“user” must be the number of a record" in response.content.decode()
    assert case.team.count() == 1


def test_a_formset_asking_for_1001_forms(client, practitioner, case):
    client.force_login(practitioner)
    response = client.post(
        url("share_propose", case.pk),
        {"items-TOTAL_FORMS": "1001", "items-INITIAL_FORMS": "0", "purpose": "x"},
    )
    assert response.status_code == 400
    assert f"Please submit at most {MAX_ITEMS_PER_SHARE} forms" in response.content.decode()
    # Built no more forms than a share may hold, whatever the post claimed.
    assert len(response.context["formset"].forms) <= MAX_ITEMS_PER_SHARE
    assert not Share.objects.exists()


def test_the_service_refuses_more_items_than_a_share_holds(case, practitioner, recipient):
    with pytest.raises(RuleViolation) as refused:
        steps.propose(
            case=case,
            user=practitioner,
            fields=complete_fields(recipient),
            items=[item()] * (MAX_ITEMS_PER_SHARE + 1),
        )
    assert "at most 50 items" in refused.value.message_dict["items"][0]
    assert not Share.objects.exists()


def test_a_huge_question_is_refused_by_length_before_any_scrubbing(
    client, draft, practitioner, monkeypatch
):
    scrubbed: list[int] = []

    def counting(share: Share, question: str) -> str:
        scrubbed.append(len(question))
        return question

    monkeypatch.setattr("cases.services.advice.deidentified_question", counting)
    started = time.perf_counter()
    with pytest.raises(RuleViolation) as refused:
        advice_preview(share=draft, question="Maisie " * 20_000)
    assert time.perf_counter() - started < 0.5
    assert refused.value.message_dict["question"] == [
        "Keep this to 4000 characters or fewer (it has 139999)."
    ]
    client.force_login(practitioner)
    response = client.post(
        url("advice_ask", draft.pk), {"action": "preview", "question": "x" * 120_000}
    )
    assert response.status_code == 400
    assert "Keep this to 4000 characters or fewer (it has 120000)." in response.content.decode()
    assert scrubbed == []


# --- Plausible dates ----------------------------------------------------------------------


def _tomorrow(case: Any) -> date:
    return today_in(case.organisation) + timedelta(days=1)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (date(1, 1, 1), "The date they asked cannot be before 01 January 1900: check the year."),
        (date(1899, 12, 31), "The date they asked cannot be before 01 January 1900"),
        (date(9999, 12, 31), "The date they asked cannot be in the future."),
        (None, "The date they asked cannot be in the future."),  # tomorrow
    ],
)
def test_a_request_dated_implausibly_is_refused(case, practitioner, recipient, typed, message):
    typed = typed or _tomorrow(case)
    fields = complete_fields(
        recipient, direction=choices.Direction.INBOUND, requested_by="Sam", requested_on=typed
    )
    with pytest.raises(RuleViolation) as refused:
        steps.propose(case=case, user=practitioner, fields=fields, items=[item()])
    assert message in refused.value.message_dict["requested_on"][0]
    assert not Share.objects.exists()


def test_a_request_dated_today_or_in_1900_is_kept(case, practitioner, recipient):
    for day in (today_in(case.organisation), date(1900, 1, 1)):
        share = steps.propose(
            case=case,
            user=practitioner,
            fields=complete_fields(
                recipient,
                direction=choices.Direction.INBOUND,
                requested_by="Sam",
                requested_on=day,
            ),
            items=[item()],
        )
        assert share.requested_on == day


def _told(on: date) -> dict[str, Any]:
    return {
        "family_informed": choices.FamilyInformed.TOLD,
        "family_informed_on": on,
        "family_informed_by": "Priya",
    }


@pytest.mark.parametrize("typed", [None, date(9999, 12, 31), date(1, 1, 1)])
def test_a_family_told_in_the_future_is_refused_even_on_a_draft(
    case, practitioner, recipient, draft, typed
):
    typed = typed or _tomorrow(case)
    with pytest.raises(RuleViolation) as refused:
        steps.propose(
            case=case,
            user=practitioner,
            fields=complete_fields(recipient, **_told(typed)),
            items=[item()],
        )
    assert (
        "The date they were told cannot be" in refused.value.message_dict["family_informed_on"][0]
    )
    with pytest.raises(RuleViolation):
        share_update_draft(
            share=draft,
            user=practitioner,
            fields=_told(typed),
            items=[item()],
        )
    draft.refresh_from_db()
    assert draft.family_informed_on != typed


def test_an_emergency_release_sent_before_the_share_was_proposed(case, practitioner, recipient):
    share = steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(recipient, urgency=choices.Urgency.IMMEDIATE),
        items=[item()],
    )
    with pytest.raises(RuleViolation) as refused:
        release_in_emergency(
            share=share,
            user=practitioner,
            justification="No lead could be reached.",
            sent_at=share.created_at - timedelta(days=2),
        )
    assert refused.value.message_dict["sent_at"] == [
        "The time sent cannot be before the share was proposed."
    ]
    share.refresh_from_db()
    assert share.status == choices.ShareStatus.DRAFT
    release = release_in_emergency(
        share=share,
        user=practitioner,
        justification="No lead could be reached.",
        sent_at=timezone.now(),
    )
    assert release.pk


# --- A setting's configuration is on the audit chain ----------------------------------------


def test_changing_the_deadline_policy_writes_an_audit_entry(oakfield, lead):
    deadline_policy_set(
        organisation=oakfield,
        user=lead,
        urgency=choices.Urgency.URGENT,
        rule=DeadlineRule.HOURS,
        amount=4,
    )
    [entry] = AuditEntry.objects.filter(action=AuditAction.DEADLINES_CHANGED)
    assert entry.actor == lead
    assert entry.organisation_id == oakfield.pk
    assert entry.basis == choices.Role.LEAD
    assert entry.detail == ("Urgent: within 4 clock hours (was by the end of the working day)")
    # Saving the page again without a change is not a change.
    deadline_policy_set(
        organisation=oakfield,
        user=lead,
        urgency=choices.Urgency.URGENT,
        rule=DeadlineRule.HOURS,
        amount=4,
    )
    assert AuditEntry.objects.filter(action=AuditAction.DEADLINES_CHANGED).count() == 1


def test_a_refused_deadline_change_writes_no_audit_entry(oakfield, lead):
    with pytest.raises(RuleViolation):
        deadline_policy_set(
            organisation=oakfield,
            user=lead,
            urgency=choices.Urgency.URGENT,
            rule=DeadlineRule.HOURS,
            amount=500,
        )
    assert not AuditEntry.objects.filter(action=AuditAction.DEADLINES_CHANGED).exists()


def test_scrubbing_one_long_word_is_linear():
    """The email pattern once rescanned a long word from every letter: 120,000 took minutes."""
    known = identity()
    started = time.perf_counter()
    scrub("x" * 120_000, known)
    assert time.perf_counter() - started < 3
    assert scrub("write to jo.bloggs+1@example.org today", known) == "write to [email] today"
