"""A setting's term dates: the closures its lead enters, each rule enforced by the service,
and a child protection file's five school days skipping them while a share's review deadline
does not."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from cases import choices
from cases.deadlines import calendar_of, review_deadline, school_calendar_of
from cases.errors import RuleViolation
from cases.models import Membership, Organisation, SettingClosure
from cases.services import closure_add, closure_remove
from cases.services.transfers import transfer_due, transfer_send
from permissions.models import AuditAction, AuditEntry
from workflows.child_file.assemble import assemble_file

from .factories import ChildFactory
from .http_helpers import error_text, page_text, url

# A Friday morning in October, the last day of a half-term's first half.
FRIDAY_10AM = datetime(2026, 10, 16, 10, 0, tzinfo=UTC)  # 11:00 in London (BST)
FRIDAY = date(2026, 10, 16)
HALF_TERM = (date(2026, 10, 19), date(2026, 10, 23))  # Monday to Friday


@pytest.fixture
def clock(time_machine: Any) -> Any:
    time_machine.move_to(FRIDAY_10AM, tick=False)
    return time_machine


def add(setting: Organisation, by: Any, first: date, last: date, name: str = "Half-term") -> Any:
    return closure_add(organisation=setting, first_day=first, last_day=last, name=name, by=by)


def refusal(setting: Organisation, by: Any, **typed: Any) -> dict[str, list[str]]:
    fields = {"first_day": HALF_TERM[0], "last_day": HALF_TERM[1], "name": "Half-term", **typed}
    with pytest.raises(RuleViolation) as refused:
        closure_add(organisation=setting, by=by, **fields)
    assert not SettingClosure.objects.filter(organisation=setting, name=fields["name"]).exists()
    return refused.value.message_dict


# --- The service's rules -----------------------------------------------------------------------


def test_the_lead_adds_a_closure_and_it_is_in_the_audit_chain(
    clock: Any, riverside: Organisation, other_lead: Any
) -> None:
    closure = add(riverside, other_lead, *HALF_TERM, name="  Autumn half-term ")
    assert (closure.name, closure.added_by) == ("Autumn half-term", other_lead)
    [entry] = AuditEntry.objects.filter(action=AuditAction.CLOSURE_ADDED)
    assert entry.organisation_id == riverside.pk
    assert entry.detail == "Autumn half-term: closed 19 October 2026 to 23 October 2026"
    assert entry.basis == choices.Role.LEAD


def test_the_last_day_cannot_come_before_the_first(
    clock: Any, riverside: Organisation, other_lead: Any
) -> None:
    errors = refusal(
        riverside, other_lead, first_day=date(2026, 10, 23), last_day=date(2026, 10, 19)
    )
    assert errors == {"last_day": ["The last day closed cannot be before the first."]}
    # One day alone is a closure (an INSET day).
    assert add(riverside, other_lead, date(2026, 11, 2), date(2026, 11, 2), name="INSET day")


def test_a_closure_is_at_most_seventy_days(
    clock: Any, riverside: Organisation, other_lead: Any
) -> None:
    first = date(2027, 7, 1)
    errors = refusal(riverside, other_lead, first_day=first, last_day=first + timedelta(days=70))
    assert "at most 70 days" in errors["last_day"][0]
    assert "this one is 71" in errors["last_day"][0]
    # A typing slip of a year, the commonest way to a span far too long.
    assert refusal(riverside, other_lead, first_day=first, last_day=date(2028, 7, 1))
    assert add(riverside, other_lead, first, first + timedelta(days=69), name="Summer holiday")


def test_a_closure_is_within_two_years_of_today(
    clock: Any, riverside: Organisation, other_lead: Any
) -> None:
    far = date(2029, 1, 4)
    errors = refusal(riverside, other_lead, first_day=far, last_day=far)
    assert errors == {
        "first_day": ["Enter the first day the setting is closed: within two years of today."],
        "last_day": ["Enter the last day the setting is closed: within two years of today."],
    }
    long_ago = date(2024, 10, 1)
    assert "first_day" in refusal(riverside, other_lead, first_day=long_ago, last_day=long_ago)
    errors = refusal(riverside, other_lead, first_day=None, last_day=None)
    assert errors["first_day"] == ["Enter the first day the setting is closed."]


def test_closures_of_one_setting_never_overlap_and_the_message_names_the_other(
    clock: Any, riverside: Organisation, oakfield: Organisation, other_lead: Any, lead: Any
) -> None:
    add(riverside, other_lead, *HALF_TERM, name="Autumn half-term")
    for first, last in [
        (date(2026, 10, 23), date(2026, 10, 30)),  # its last day
        (date(2026, 10, 12), date(2026, 10, 19)),  # its first day
        (date(2026, 10, 20), date(2026, 10, 21)),  # inside it
        (date(2026, 10, 12), date(2026, 10, 30)),  # around it
    ]:
        errors = refusal(riverside, other_lead, first_day=first, last_day=last, name="Clash")
        assert errors == {
            "first_day": [
                "These dates overlap Autumn half-term (19 Oct 2026 to 23 Oct 2026): change or "
                "remove that one first."
            ]
        }
    # The day after is free, and another setting keeps its own dates.
    assert add(riverside, other_lead, date(2026, 10, 24), date(2026, 10, 25), name="Weekend")
    assert add(oakfield, lead, *HALF_TERM, name="Oakfield half-term")


def test_a_name_is_required_and_short(clock: Any, riverside: Organisation, other_lead: Any) -> None:
    assert refusal(riverside, other_lead, name="  ") == {
        "name": ["Give the closure a name, such as Autumn half-term."]
    }
    assert refusal(riverside, other_lead, name="x" * 101) == {
        "name": ["At most 100 characters (this has 101)."]
    }
    assert add(riverside, other_lead, *HALF_TERM, name="x" * 100)


@pytest.mark.parametrize("persona", ["deputy", "practitioner", "manager", "auditor", "other_lead"])
def test_only_the_settings_lead_adds_or_removes_a_closure(
    clock: Any, request: Any, persona: str, oakfield: Organisation, lead: Any
) -> None:
    who = request.getfixturevalue(persona)
    message = {"__all__": ["Only the setting's lead can change its term dates."]}
    assert refusal(oakfield, who) == message
    closure = add(oakfield, lead, *HALF_TERM)
    with pytest.raises(RuleViolation) as refused:
        closure_remove(closure=closure, by=who)
    assert refused.value.message_dict == message
    assert SettingClosure.objects.filter(pk=closure.pk).exists()


def test_the_lead_removes_a_closure_and_it_is_in_the_audit_chain(
    clock: Any, riverside: Organisation, other_lead: Any
) -> None:
    closure = add(riverside, other_lead, *HALF_TERM, name="Autumn half-term")
    closure_remove(closure=closure, by=other_lead)
    assert not SettingClosure.objects.exists()
    [entry] = AuditEntry.objects.filter(action=AuditAction.CLOSURE_REMOVED)
    assert (entry.organisation_id, entry.object_id) == (riverside.pk, closure.pk)
    assert "Autumn half-term" in entry.detail
    # A second click finds nothing to remove, and records nothing more.
    closure_remove(closure=closure, by=other_lead)
    assert AuditEntry.objects.filter(action=AuditAction.CLOSURE_REMOVED).count() == 1


# --- The school-day calendar ------------------------------------------------------------------


def test_a_file_sent_the_friday_before_half_term_falls_due_five_school_days_later(
    clock: Any, riverside: Organisation, other_lead: Any
) -> None:
    before, remind_before = transfer_due(riverside, FRIDAY, FRIDAY_10AM)
    assert before.date() == date(2026, 10, 23)  # in the half-term, without its dates
    add(riverside, other_lead, *HALF_TERM, name="Autumn half-term")
    due, remind = transfer_due(riverside, FRIDAY, FRIDAY_10AM)
    # Monday 26 to Friday 30 October: the five school days after the half-term.
    # At the same time of day in London, 11:00, which is GMT again after the clocks go back.
    assert due == datetime(2026, 10, 30, 11, 0, tzinfo=UTC)
    assert remind.date() == date(2026, 10, 27)
    assert remind_before.date() == date(2026, 10, 20)


def test_a_file_sent_to_the_setting_carries_the_deadline_after_its_half_term(
    clock: Any, oakfield: Organisation, riverside: Organisation, lead: Any, other_lead: Any
) -> None:
    add(riverside, other_lead, *HALF_TERM, name="Autumn half-term")
    child = ChildFactory(organisation=oakfield, first_name="Maisie")
    sent = transfer_send(
        child=child,
        to=Membership.objects.get(user=other_lead, ended_at__isnull=True),
        starts_on=FRIDAY,
        note="",
        file=assemble_file(child, lead),
        user=lead,
    )
    assert sent.due_at.date() == date(2026, 10, 30)


def test_bank_holidays_are_still_skipped_besides_the_closures(
    time_machine: Any, riverside: Organisation, other_lead: Any
) -> None:
    time_machine.move_to(datetime(2026, 5, 15, 9, 0, tzinfo=UTC), tick=False)  # a Friday
    add(riverside, other_lead, date(2026, 5, 18), date(2026, 5, 22), name="A week closed")
    due, _ = transfer_due(riverside, date(2026, 5, 15), datetime(2026, 5, 15, 9, 0, tzinfo=UTC))
    # The closed week, then the Spring bank holiday (Monday 25 May): Tuesday 26 to Monday 1.
    assert due.date() == date(2026, 6, 1)


def test_a_shares_review_deadline_is_not_moved_by_a_closure(
    clock: Any, riverside: Organisation, other_lead: Any
) -> None:
    routine = review_deadline(riverside, choices.Urgency.ROUTINE, FRIDAY_10AM)
    add(riverside, other_lead, *HALF_TERM, name="Autumn half-term")
    assert review_deadline(riverside, choices.Urgency.ROUTINE, FRIDAY_10AM) == routine
    assert routine.date() == date(2026, 10, 21)  # three working days: in the half-term
    assert calendar_of(riverside).is_working_day(HALF_TERM[0])
    assert not school_calendar_of(riverside).is_working_day(HALF_TERM[0])


def test_the_school_calendar_reads_only_closures_a_count_from_that_day_can_reach(
    clock: Any, riverside: Organisation, other_lead: Any, django_assert_num_queries: Any
) -> None:
    add(riverside, other_lead, date(2026, 2, 16), date(2026, 2, 20), name="Spring half-term")
    add(riverside, other_lead, *HALF_TERM, name="Autumn half-term")
    with django_assert_num_queries(1):
        calendar = school_calendar_of(riverside, since=FRIDAY)
    assert calendar.closed == frozenset(HALF_TERM[0] + timedelta(days=n) for n in range(5))
    assert date(2026, 2, 16) in school_calendar_of(riverside).closed


# --- The page -------------------------------------------------------------------------------


def term_dates(setting: Organisation | None = None) -> str:
    return url("setting_closures") + (f"?setting={setting.pk}" if setting else "")


def typed(**changes: str) -> dict[str, str]:
    return {
        "name": "Autumn half-term",
        "first_day": "2026-10-19",
        "last_day": "2026-10-23",
    } | changes


def test_the_lead_adds_and_removes_a_closure_on_the_page(
    clock: Any, client: Client, riverside: Organisation, other_lead: Any
) -> None:
    client.force_login(other_lead)
    page = client.get(term_dates())
    assert page.status_code == 200
    assert "None entered" in page_text(page)
    added = client.post(term_dates(riverside), typed())
    assert added.status_code == 302
    closure = SettingClosure.objects.get(organisation=riverside)
    listed = client.get(added["Location"])
    assert "Autumn half-term" in page_text(listed)
    assert "Mon 19 Oct 2026" in page_text(listed)
    assert url("setting_closure_remove", closure.pk) in listed.content.decode()
    removed = client.post(url("setting_closure_remove", closure.pk))
    assert removed.status_code == 302
    assert removed["Location"] == term_dates(riverside)
    assert not SettingClosure.objects.exists()
    assert AuditEntry.objects.filter(action=AuditAction.CLOSURE_REMOVED).count() == 1


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"last_day": "2026-10-12"}, "last_day", "cannot be before the first"),
        ({"first_day": "2027-02-31"}, "first_day", "Enter a valid date."),
        ({"last_day": "99999-10-23"}, "last_day", "Enter a valid date."),
        ({"first_day": "9999-12-31"}, "first_day", "within two years of today"),
        ({"last_day": "2027-10-23"}, "last_day", "at most 70 days"),
        ({"first_day": ""}, "first_day", "Enter the first day the setting is closed."),
        ({"name": ""}, "name", "Give the closure a name"),
        ({"name": "x" * 101}, "name", "at most 100 characters"),
    ],
)
def test_bad_input_is_shown_beside_its_field_and_nothing_typed_is_lost(
    clock: Any,
    client: Client,
    other_lead: Any,
    changes: dict[str, str],
    field: str,
    message: str,
) -> None:
    client.force_login(other_lead)
    response = client.post(term_dates(), typed(**changes))
    assert response.status_code == 400
    assert message.lower() in error_text(response, f"id_{field}").lower()
    assert not SettingClosure.objects.exists()
    page = response.content.decode()
    for name, value in typed(**changes).items():
        if value and name != "name":
            assert f'value="{value}"' in page, name
    assert 'value="Autumn half-term"' in page or "name" in changes


def test_an_overlap_is_refused_on_the_page_naming_the_other(
    clock: Any, client: Client, riverside: Organisation, other_lead: Any
) -> None:
    add(riverside, other_lead, *HALF_TERM, name="Autumn half-term")
    client.force_login(other_lead)
    response = client.post(term_dates(), typed(name="Half-term again"))
    assert response.status_code == 400
    assert "overlap Autumn half-term" in error_text(response, "id_first_day")
    assert 'value="Half-term again"' in response.content.decode()
    assert SettingClosure.objects.count() == 1


@pytest.mark.parametrize("persona", ["deputy", "practitioner", "manager", "auditor"])
def test_a_deputy_or_anyone_else_of_the_setting_is_refused(
    clock: Any, client: Client, request: Any, persona: str, oakfield: Organisation, lead: Any
) -> None:
    closure = add(oakfield, lead, *HALF_TERM)
    client.force_login(request.getfixturevalue(persona))
    assert client.get(term_dates()).status_code == 403
    assert client.post(term_dates(), typed(name="Taken over")).status_code == 403
    assert client.post(url("setting_closure_remove", closure.pk)).status_code == 403
    assert list(SettingClosure.objects.values_list("name", flat=True)) == ["Half-term"]


def test_another_settings_lead_finds_neither_the_page_nor_its_closures(
    clock: Any, client: Client, oakfield: Organisation, lead: Any, other_lead: Any
) -> None:
    closure = add(oakfield, lead, *HALF_TERM)
    client.force_login(other_lead)
    assert client.get(term_dates(oakfield)).status_code == 404
    assert client.post(term_dates(oakfield), typed(name="Taken over")).status_code == 404
    assert client.post(url("setting_closure_remove", closure.pk)).status_code == 404
    assert client.post(url("setting_closure_remove", 999_999)).status_code == 404
    # Removing is a button: a GET is refused before any look-up.
    assert client.get(url("setting_closure_remove", closure.pk)).status_code == 405
    assert SettingClosure.objects.count() == 1


def test_a_lead_of_two_settings_chooses_which(
    clock: Any, client: Client, lead: Any, oakfield: Organisation, riverside: Organisation
) -> None:
    Membership.objects.create(user=lead, organisation=riverside, role=choices.Role.LEAD)
    client.force_login(lead)
    assert "Term dates of Oakfield" in page_text(client.get(term_dates()))
    chosen = client.get(term_dates(riverside))
    assert "Term dates of Riverside" in page_text(chosen)
    assert client.post(term_dates(riverside), typed()).status_code == 302
    assert SettingClosure.objects.get().organisation == riverside


def test_the_setting_pages_link_to_term_dates(client: Client, lead: Any) -> None:
    client.force_login(lead)
    details = client.get(url("setting_details")).content.decode()
    assert url("setting_closures") in details


def test_the_demo_settings_have_term_dates_past_and_ahead(db: Any) -> None:
    from workflows.demo import seed_demo

    seed_demo()
    seed_demo()  # again: nothing more
    today = timezone.localdate()
    for setting in Organisation.objects.all():
        closures = {c.name: c for c in setting.closures.all()}
        assert set(closures) == {"Autumn half-term", "Christmas holiday", "Spring half-term"}
        # One ended (listed as recent), two ahead, whatever the day the demo is seeded.
        assert closures["Autumn half-term"].last_day < today
        assert closures["Christmas holiday"].last_day >= today
        assert closures["Spring half-term"].last_day >= today
        assert closures["Christmas holiday"].first_day.month == 12
    assert AuditEntry.objects.filter(action=AuditAction.CLOSURE_ADDED).count() == 6
