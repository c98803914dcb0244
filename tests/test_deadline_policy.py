"""A setting's lead sets how soon each urgency must be decided; the next submission uses it."""

from datetime import UTC, datetime

import pytest
import time_machine

from cases import choices
from cases.errors import RuleViolation
from cases.models import DeadlinePolicy, DeadlineRule
from cases.services import deadline_policy_set
from workflows import steps

from .factories import MembershipFactory, complete_fields, item
from .http_helpers import form_data, url

MONDAY_9AM = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_without_a_policy_the_defaults_apply(case, practitioner, recipient):
    with time_machine.travel(MONDAY_9AM, tick=False):
        routine = steps.submit(
            share=steps.propose(
                case=case,
                user=practitioner,
                fields=complete_fields(recipient, urgency=choices.Urgency.ROUTINE),
                items=[item()],
            ),
            user=practitioner,
        )
    assert routine.review_due_at == datetime(2026, 3, 5, 9, 0, tzinfo=UTC)


def test_the_lead_changes_a_policy_and_the_next_submission_follows_it(
    oakfield, lead, case, practitioner, recipient
):
    deadline_policy_set(
        organisation=oakfield,
        user=lead,
        urgency=choices.Urgency.URGENT,
        rule=DeadlineRule.HOURS,
        amount=4,
    )
    with time_machine.travel(MONDAY_9AM, tick=False):
        share = steps.submit(
            share=steps.propose(
                case=case, user=practitioner, fields=complete_fields(recipient), items=[item()]
            ),
            user=practitioner,
        )
    assert share.review_due_at == datetime(2026, 3, 2, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize("who", ["deputy", "practitioner", "manager", "other_lead"])
def test_only_the_settings_lead_may_change_it(request, oakfield, who):
    with pytest.raises(RuleViolation, match="Only the setting's lead"):
        deadline_policy_set(
            organisation=oakfield,
            user=request.getfixturevalue(who),
            urgency=choices.Urgency.URGENT,
            rule=DeadlineRule.HOURS,
            amount=2,
        )
    assert not DeadlinePolicy.objects.exists()


@pytest.mark.parametrize(
    ("rule", "amount", "field"),
    [
        (DeadlineRule.HOURS, 0, "urgent-amount"),
        (DeadlineRule.HOURS, 73, "urgent-amount"),
        (DeadlineRule.WORKING_DAYS, 11, "urgent-amount"),
        ("weekly", 1, "urgent-rule"),
    ],
)
def test_meaningless_policies_are_refused(oakfield, lead, rule, amount, field):
    with pytest.raises(RuleViolation) as refused:
        deadline_policy_set(
            organisation=oakfield,
            user=lead,
            urgency=choices.Urgency.URGENT,
            rule=rule,
            amount=amount,
        )
    assert field in refused.value.message_dict
    assert not DeadlinePolicy.objects.exists()


def test_the_lead_sets_the_policy_on_its_page(client, oakfield, lead):
    client.force_login(lead)
    page = client.get(url("deadlines"))
    assert page.status_code == 200
    data = {
        "immediate-rule": "hours",
        "immediate-amount": "2",
        "urgent-rule": "end_of_day",
        "urgent-amount": "0",
        "routine-rule": "working_days",
        "routine-amount": "5",
    }
    assert client.post(url("deadlines"), data).status_code == 302
    assert DeadlinePolicy.objects.get(urgency="routine").amount == 5

    data["routine-amount"] = "40"
    refused = client.post(url("deadlines"), data)
    assert refused.status_code == 400
    assert "Choose between 1 and 10 working days." in refused.content.decode()
    assert DeadlinePolicy.objects.get(urgency="routine").amount == 5


@pytest.mark.parametrize("who", ["deputy", "practitioner", "manager", "auditor"])
def test_others_may_not_open_the_deadlines_page(client, request, oakfield, lead, who):
    client.force_login(request.getfixturevalue(who))
    assert client.get(url("deadlines")).status_code == 403


def test_a_page_opened_before_someone_else_saved_does_not_undo_their_change(client, oakfield, lead):
    """Two tabs: the later save from the older page is refused, both policies shown, what
    was typed kept; saving again from there keeps it, knowingly."""
    from .http_helpers import form_data

    client.force_login(lead)
    older = client.get(url("deadlines"))
    newer = client.get(url("deadlines"))
    assert (
        client.post(url("deadlines"), form_data(newer, **{"routine-amount": "5"})).status_code
        == 302
    )

    refused = client.post(url("deadlines"), form_data(older, **{"routine-amount": "4"}))
    assert refused.status_code == 400
    body = refused.content.decode()
    assert "The deadlines were changed by" in body
    assert "Routine: within 5 working days" in body
    assert form_data(refused)["routine-amount"] == "4"
    assert DeadlinePolicy.objects.get(urgency="routine").amount == 5

    assert client.post(url("deadlines"), form_data(refused)).status_code == 302
    assert DeadlinePolicy.objects.get(urgency="routine").amount == 4


def test_a_lead_of_two_settings_sets_each_ones_deadlines(client, oakfield, riverside, lead):
    """The same choice of setting as its other pages: ?setting=, the first by default."""
    MembershipFactory(user=lead, organisation=riverside, role=choices.Role.LEAD)
    client.force_login(lead)
    page = client.get(url("deadlines"), {"setting": riverside.pk})
    assert "How soon Riverside decides a share" in page.content.decode()
    data = {
        "immediate-rule": "hours",
        "immediate-amount": "2",
        "urgent-rule": "end_of_day",
        "urgent-amount": "0",
        "routine-rule": "working_days",
        "routine-amount": "3",
        "policy_version": form_data(page)["policy_version"],
    }
    saved = client.post(f"{url('deadlines')}?setting={riverside.pk}", data)
    assert saved["Location"].endswith(f"?setting={riverside.pk}")
    assert DeadlinePolicy.objects.get(urgency="routine").organisation == riverside
    assert client.get(url("deadlines"), {"setting": 999_999}).status_code == 404
