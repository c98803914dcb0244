"""Golden rule 2 after submission: a promise to tell the family, recorded when kept, and
chased once when its date passes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.core import mail

from cases import choices
from cases.models import Case, FamilyFollowUp, Recipient, Share
from cases.services import RuleViolation, case_team_add, family_told_record
from permissions.models import AuditAction, AuditEntry
from permissions.rules import share_actions
from workflows import steps
from workflows.models import Notification, NotificationKind
from workflows.tasks import sweep_timers

from .factories import CaseFactory, complete_fields, item
from .http_helpers import error_text, form_data, page_text, url

SUBMITTED_AT = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)  # a Monday, 09:00 in London
# Five working days on: the next Monday, 09:00 in London.
DUE_AT = datetime(2025, 6, 9, 8, 0, tzinfo=UTC)
NOT_YET = {
    "family_not_told_reason": choices.FamilyNotToldReason.NOT_YET_POSSIBLE,
    "family_not_told_detail": "The parent is abroad until next week.",
}
SUBMISSION_DAY = date(2025, 6, 2)
OVERDUE = NotificationKind.FAMILY_FOLLOW_UP_OVERDUE


def violation(action: Callable[[], Any]) -> dict[str, list[str]]:
    with pytest.raises(RuleViolation) as caught:
        action()
    return caught.value.message_dict


def promise(case: Case, by: Any, recipient: Recipient, **fields: Any) -> Share:
    """A share submitted while telling the family was not yet possible."""
    share = steps.propose(
        case=case, user=by, fields=complete_fields(recipient, **NOT_YET, **fields), items=[item()]
    )
    return steps.submit(share=share, user=by)


@pytest.fixture(autouse=True)
def clock(time_machine: Any) -> Any:
    time_machine.move_to(SUBMITTED_AT, tick=False)
    return time_machine


@pytest.fixture
def promised(case: Case, practitioner: Any, recipient: Recipient) -> Share:
    return promise(case, practitioner, recipient)


@pytest.fixture
def follow_up(promised: Share) -> FamilyFollowUp:
    return promised.family_follow_ups.get()


def tell(follow_up: FamilyFollowUp, user: Any, **overrides: Any) -> FamilyFollowUp:
    data = {"informed_on": date(2025, 6, 4), "informed_by": "Priya, by phone"}
    data.update(overrides)
    return family_told_record(follow_up=follow_up, user=user, **data)


# --- The promise and the service's rules ------------------------------------------------------


def test_a_follow_up_falls_due_five_working_days_after_submission(follow_up: FamilyFollowUp):
    assert follow_up.due_at == DUE_AT
    assert follow_up.is_open


def test_no_follow_up_when_the_family_is_not_to_be_told(
    case: Case, practitioner: Any, recipient: Recipient
) -> None:
    share = steps.submit(
        share=steps.propose(
            case=case, user=practitioner, fields=complete_fields(recipient), items=[item()]
        ),
        user=practitioner,
    )
    assert not share.family_follow_ups.exists()


def test_the_proposer_records_that_the_family_was_told(
    clock: Any, follow_up: FamilyFollowUp, practitioner: Any
) -> None:
    clock.move_to(SUBMITTED_AT + timedelta(days=3), tick=False)
    recorded = tell(follow_up, practitioner)
    assert not recorded.is_open
    assert (recorded.informed_on, recorded.informed_by) == (date(2025, 6, 4), "Priya, by phone")
    assert recorded.recorded_by == practitioner
    assert recorded.recorded_at == SUBMITTED_AT + timedelta(days=3)
    entries = AuditEntry.objects.filter(share=follow_up.share, action=AuditAction.FAMILY_INFORMED)
    assert entries.count() == 1


def test_the_family_cannot_have_been_told_before_the_share_was_submitted(
    clock: Any, follow_up: FamilyFollowUp, practitioner: Any
) -> None:
    clock.move_to(SUBMITTED_AT + timedelta(days=3), tick=False)
    errors = violation(lambda: tell(follow_up, practitioner, informed_on=date(2025, 6, 1)))
    assert errors == {
        "informed_on": ["That is before the share was submitted, when it was not yet possible."]
    }
    assert FamilyFollowUp.objects.get(pk=follow_up.pk).is_open


def test_the_day_they_were_told_cannot_be_in_the_future(
    follow_up: FamilyFollowUp, practitioner: Any
) -> None:
    errors = violation(lambda: tell(follow_up, practitioner, informed_on=date(2025, 6, 3)))
    assert errors == {"informed_on": ["The date they were told cannot be in the future."]}
    assert FamilyFollowUp.objects.get(pk=follow_up.pk).is_open


def test_the_day_and_who_told_them_are_both_needed(
    follow_up: FamilyFollowUp, practitioner: Any
) -> None:
    errors = violation(lambda: tell(follow_up, practitioner, informed_on=None, informed_by=" "))
    assert errors == {
        "informed_on": ["Enter the date the family was told."],
        "informed_by": ["Say who told the family."],
    }


def test_it_is_recorded_once_only(follow_up: FamilyFollowUp, practitioner: Any, lead: Any) -> None:
    tell(follow_up, practitioner, informed_on=date(2025, 6, 2))
    errors = violation(lambda: tell(follow_up, lead, informed_on=date(2025, 6, 2)))
    assert errors == {"__all__": ["This has already been recorded: the family was told."]}
    kept = FamilyFollowUp.objects.get(pk=follow_up.pk)
    assert kept.recorded_by == practitioner
    assert AuditEntry.objects.filter(action=AuditAction.FAMILY_INFORMED).count() == 1


def test_only_the_proposer_or_a_lead_or_deputy_records_it(
    case: Case, follow_up: FamilyFollowUp, colleague: Any, manager: Any, other_lead: Any
) -> None:
    case_team_add(case=case, user=colleague)  # sees the case, did not propose the share
    for person in (colleague, manager, other_lead):
        errors = violation(
            lambda person=person: tell(follow_up, person, informed_on=SUBMISSION_DAY)
        )
        assert errors == {"__all__": ["Only the proposer or the setting's lead can record this."]}
    assert FamilyFollowUp.objects.get(pk=follow_up.pk).is_open


@pytest.mark.parametrize("persona", ["lead", "deputy"])
def test_a_lead_or_deputy_may_record_it_for_the_proposer(
    request: Any, follow_up: FamilyFollowUp, persona: str
) -> None:
    person = request.getfixturevalue(persona)
    assert not tell(follow_up, person, informed_on=SUBMISSION_DAY).is_open


# --- The pages -----------------------------------------------------------------------------------


@pytest.fixture
def colleagues_promise(oakfield: Any, colleague: Any, recipient: Recipient) -> Share:
    """A promise of another practitioner, on a case the practitioner persona is not on."""
    other_case = CaseFactory(organisation=oakfield, child__first_name="Oscar")
    case_team_add(case=other_case, user=colleague)
    return promise(other_case, colleague, recipient)


def listed(client: Any, person: Any) -> list[int]:
    client.force_login(person)
    response = client.get(url("family_follow_ups"))
    assert response.status_code == 200
    return [follow_up.share_id for follow_up in response.context["follow_ups"]]


def test_the_list_shows_the_proposers_own_and_a_lead_all_of_the_setting(
    client: Any,
    promised: Share,
    colleagues_promise: Share,
    practitioner: Any,
    colleague: Any,
    lead: Any,
    deputy: Any,
    manager: Any,
    other_lead: Any,
) -> None:
    assert listed(client, practitioner) == [promised.pk]
    assert listed(client, colleague) == [colleagues_promise.pk]
    assert listed(client, lead) == [promised.pk, colleagues_promise.pk]
    assert listed(client, deputy) == [promised.pk, colleagues_promise.pk]
    assert listed(client, manager) == []
    assert listed(client, other_lead) == []
    client.force_login(practitioner)
    page = page_text(client.get(url("family_follow_ups")))
    assert "Maisie" in page and "Oscar" not in page


def test_a_proposer_who_left_the_case_team_no_longer_sees_it(
    client: Any, case: Case, promised: Share, practitioner: Any
) -> None:
    from cases.services import case_team_remove

    case_team_remove(case=case, user=practitioner)
    assert listed(client, practitioner) == []


def test_the_list_marks_what_is_overdue_and_the_menu_counts_what_is_open(
    client: Any, clock: Any, promised: Share, practitioner: Any
) -> None:
    client.force_login(practitioner)
    text = page_text(client.get(url("family_follow_ups")))
    assert "9 Jun 2025 09:00" in text
    assert "Overdue" not in text
    assert "Families to tell (1 open)" in text
    clock.move_to(DUE_AT + timedelta(minutes=1), tick=False)
    text = page_text(client.get(url("family_follow_ups")))
    assert "Overdue" in text
    tell(promised.family_follow_ups.get(), practitioner, informed_on=date(2025, 6, 5))
    text = page_text(client.get(url("family_follow_ups")))
    assert "No family is waiting to be told." in text
    assert "Families to tell (" not in text


def test_recording_that_the_family_was_told_through_the_page(
    client: Any, clock: Any, promised: Share, practitioner: Any
) -> None:
    clock.move_to(SUBMITTED_AT + timedelta(days=4), tick=False)
    client.force_login(practitioner)
    assert "family_told" in share_actions(practitioner, promised)
    shown = page_text(client.get(url("share_detail", promised.pk)))
    assert "Record that the family has been told" in shown
    assert "Not yet recorded as told." in shown
    page = client.get(url("family_told", promised.pk))
    assert page.status_code == 200
    response = client.post(
        url("family_told", promised.pk),
        form_data(page, informed_on="2025-06-03", informed_by="Priya, at collection"),
    )
    assert response.status_code == 302
    assert response["Location"] == url("share_detail", promised.pk)
    shown = page_text(client.get(url("share_detail", promised.pk)))
    assert "Told on 3 Jun 2025 by Priya, at collection; recorded by priya on 6 Jun 2025" in shown
    assert "The parent is abroad until next week." in shown
    assert "family_told" not in share_actions(practitioner, promised)
    # Nothing is left to record: the page sends them back to the share.
    response = client.get(url("family_told", promised.pk))
    assert response.status_code == 302


def test_bad_input_is_shown_beside_its_field_and_nothing_is_saved(
    client: Any, promised: Share, practitioner: Any
) -> None:
    client.force_login(practitioner)
    page = client.get(url("family_told", promised.pk))
    response = client.post(
        url("family_told", promised.pk),
        form_data(page, informed_on="2025-06-10", informed_by="Typed and kept"),
    )
    assert response.status_code == 400
    assert error_text(response, "id_informed_on") == (
        "The date they were told cannot be in the future."
    )
    assert 'aria-invalid="true"' in response.content.decode()
    assert 'value="Typed and kept"' in response.content.decode()
    response = client.post(
        url("family_told", promised.pk), form_data(page, informed_on="2025-06-02", informed_by="")
    )
    assert response.status_code == 400
    assert error_text(response, "id_informed_by") == "Say who told the family."
    assert promised.family_follow_ups.get().is_open


def test_the_page_answers_outsiders_not_found_and_other_insiders_forbidden(
    client: Any,
    case: Case,
    promised: Share,
    colleague: Any,
    manager: Any,
    other_lead: Any,
    lead: Any,
    deputy: Any,
) -> None:
    data = {"informed_on": "2025-06-02", "informed_by": "Someone"}
    for person in (colleague, manager, other_lead):
        client.force_login(person)
        assert client.get(url("family_told", promised.pk)).status_code == 404
        assert client.post(url("family_told", promised.pk), data).status_code == 404
    case_team_add(case=case, user=colleague)
    client.force_login(colleague)
    assert client.get(url("family_told", promised.pk)).status_code == 403
    assert client.post(url("family_told", promised.pk), data).status_code == 403
    assert promised.family_follow_ups.get().is_open
    for person in (lead, deputy):
        client.force_login(person)
        assert client.get(url("family_told", promised.pk)).status_code == 200


# --- Chasing an overdue promise ---------------------------------------------------------------


def overdue_notices() -> list[tuple[str, str]]:
    return sorted(
        Notification.objects.filter(kind=OVERDUE).values_list("recipient__username", "link")
    )


def sweep(django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        sweep_timers()


def test_an_overdue_promise_notifies_the_proposer_and_the_lead_once(
    clock: Any,
    promised: Share,
    practitioner: Any,
    lead: Any,
    deputy: Any,
    colleague: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    for person in (practitioner, lead, deputy, colleague):
        person.email = f"{person.username}@example.org"
        person.save(update_fields=["email"])
    clock.move_to(DUE_AT - timedelta(minutes=1), tick=False)
    sweep(django_capture_on_commit_callbacks)
    assert overdue_notices() == []

    clock.move_to(DUE_AT + timedelta(minutes=1), tick=False)
    sweep(django_capture_on_commit_callbacks)
    link = url("family_told", promised.pk)
    assert overdue_notices() == [("grace", link), ("priya", link)]

    clock.move_to(DUE_AT + timedelta(days=2), tick=False)
    sweep(django_capture_on_commit_callbacks)
    assert overdue_notices() == [("grace", link), ("priya", link)]
    emailed = sorted(
        message.to[0] for message in mail.outbox if "family has not yet been told" in message.body
    )
    assert emailed == ["grace@example.org", "priya@example.org"]


def test_the_notice_names_no_child_and_no_case(
    clock: Any, promised: Share, django_capture_on_commit_callbacks: Any
) -> None:
    clock.move_to(DUE_AT + timedelta(minutes=1), tick=False)
    sweep(django_capture_on_commit_callbacks)
    for notice in Notification.objects.filter(kind=OVERDUE):
        shown = f"{notice.get_kind_display()} {notice.link}"
        assert "Maisie" not in shown and promised.case.reference not in shown
    for message in mail.outbox:
        assert "Maisie" not in message.subject + message.body
        assert promised.case.reference not in message.subject + message.body


def test_a_promise_kept_in_time_is_not_chased(
    clock: Any, promised: Share, practitioner: Any, django_capture_on_commit_callbacks: Any
) -> None:
    clock.move_to(DUE_AT - timedelta(days=1), tick=False)
    tell(promised.family_follow_ups.get(), practitioner, informed_on=date(2025, 6, 5))
    clock.move_to(DUE_AT + timedelta(days=1), tick=False)
    sweep(django_capture_on_commit_callbacks)
    assert overdue_notices() == []


def test_the_day_the_family_was_told_is_the_settings_own_day(
    follow_up: FamilyFollowUp, practitioner: Any, clock: Any
):
    """At 20:00 UTC on 4 June it is already 5 June in Auckland: a setting there may record
    that the family was told "today", which the site's London clock would call tomorrow."""
    organisation = follow_up.share.case.organisation
    organisation.timezone = "Pacific/Auckland"
    organisation.save(update_fields=["timezone"])
    clock.move_to(datetime(2025, 6, 4, 20, 0, tzinfo=UTC), tick=False)
    told = tell(follow_up, practitioner, informed_on=date(2025, 6, 5))
    assert told.informed_on == date(2025, 6, 5)
