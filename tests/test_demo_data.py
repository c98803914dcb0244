"""The demonstration data: who is in it, what state its shares are in, and that it is rerunnable."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from viewflow.workflow.models import Task

from cases import choices
from cases.models import (
    ApprovedItem,
    Carer,
    Case,
    Child,
    Decision,
    Membership,
    Organisation,
    Recipient,
    Release,
    Share,
    ShareItem,
)
from permissions.roles import role_in
from workflows import steps
from workflows.demo import DEMO_PASSWORD, seed_demo
from workflows.flows import ShareFlow
from workflows.models import ShareProcess

from .http_helpers import password_works

MODELS = (
    get_user_model(),
    Organisation,
    Membership,
    Child,
    Carer,
    Case,
    Recipient,
    Share,
    ShareItem,
    Decision,
    ApprovedItem,
    Release,
    ShareProcess,
    Task,
)

PEOPLE = {
    "lead": ("Grace", "Lead", "Oakfield Nursery", choices.Role.LEAD),
    "deputy": ("Dan", "Deputy", "Oakfield Nursery", choices.Role.DEPUTY),
    "practitioner": ("Priya", "Practitioner", "Oakfield Nursery", choices.Role.PRACTITIONER),
    "colleague": ("Colin", "Colleague", "Oakfield Nursery", choices.Role.PRACTITIONER),
    "manager": ("Mona", "Manager", "Oakfield Nursery", choices.Role.MANAGER),
    "auditor": ("Arun", "Auditor", "Oakfield Nursery", choices.Role.AUDITOR),
    "otherlead": ("Olu", "Otherlead", "Riverside Primary School", choices.Role.LEAD),
}


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


# Seeded on a Tuesday mid-morning: what the demo shows (a retrospective review due by the
# end of today's working day, a review falling due) is relative to when it is seeded, and
# seeded a minute before the working day ends, "due at the end of today" is overdue at once.
TUESDAY_10AM = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


@pytest.fixture
def demo(db: Any, time_machine: Any) -> dict[str, int]:
    time_machine.move_to(TUESDAY_10AM, tick=True)
    return seed_demo()


def test_seed_demo_reports_what_it_made(demo):
    assert demo == {"settings": 2, "people": 7, "cases": 5, "shares": 10}
    assert Share.objects.count() == 10
    assert get_user_model().objects.count() == 7
    assert Case.objects.count() == 5


def test_seed_demo_is_safe_to_run_twice(demo):
    first = counts()
    decisions = sorted(Decision.objects.values_list("pk", "share_id", "outcome"))
    statuses = dict(Share.objects.values_list("pk", "status"))
    assert seed_demo() == demo
    assert counts() == first
    assert sorted(Decision.objects.values_list("pk", "share_id", "outcome")) == decisions
    assert dict(Share.objects.values_list("pk", "status")) == statuses


def test_seed_demo_keeps_an_existing_account_as_it_is(demo):
    """A rerun must not reset anyone's password or duplicate their membership."""
    lead = get_user_model().objects.get(username="lead")
    lead.set_password("changed-by-grace")
    lead.save()
    seed_demo()
    lead.refresh_from_db()
    assert lead.check_password("changed-by-grace")
    assert Membership.objects.filter(user=lead).count() == 1


@pytest.mark.parametrize("username", PEOPLE)
def test_demo_people_have_their_roles(client, demo, username):
    first, last, setting, role = PEOPLE[username]
    person = get_user_model().objects.get(username=username)
    assert (person.first_name, person.last_name) == (first, last)
    assert person.check_password(DEMO_PASSWORD)
    memberships = Membership.objects.filter(user=person, ended_at__isnull=True)
    assert [(m.organisation.name, m.role) for m in memberships] == [(setting, role)]
    assert role_in(person, Organisation.objects.get(name=setting)) == role
    assert password_works(client, username, DEMO_PASSWORD)


def test_demo_settings_and_case_teams(demo):
    oakfield = Organisation.objects.get(name="Oakfield Nursery")
    riverside = Organisation.objects.get(name="Riverside Primary School")
    assert oakfield.kind == choices.OrganisationKind.NURSERY
    assert not oakfield.is_public_authority
    assert riverside.kind == choices.OrganisationKind.SCHOOL
    assert riverside.is_public_authority

    maisie = Case.objects.get(reference="OAK-001")
    leo = Case.objects.get(reference="OAK-002")
    assert str(maisie.child) == "Maisie Thompson"
    assert str(leo.child) == "Leo Okafor"
    assert maisie.organisation == leo.organisation == oakfield

    practitioner = get_user_model().objects.get(username="practitioner")
    colleague = get_user_model().objects.get(username="colleague")
    assert set(practitioner.case_teams.values_list("reference", flat=True)) == {
        "OAK-001",
        "OAK-002",
    }
    assert not colleague.case_teams.exists()
    assert set(Case.objects.filter(organisation=riverside).values_list("reference", flat=True)) == {
        "RIV-001",
        "RIV-002",
    }
    # Each setting's address book holds only its own recipients.
    assert set(oakfield.recipients.values_list("person_name", flat=True)) == {
        "Sam Carter",
        "Dr Priya Shah",
        "Jo Bright",
    }
    assert set(riverside.recipients.values_list("person_name", flat=True)) == {"Jordan Lee"}


def test_demo_has_shares_in_every_state(demo):
    oakfield_states = set(
        Share.objects.filter(case__organisation__name="Oakfield Nursery").values_list(
            "status", flat=True
        )
    )
    assert oakfield_states == set(choices.ShareStatus.values)


def _one(status: str, **filters: Any) -> Share:
    return Share.objects.get(case__organisation__name="Oakfield Nursery", status=status, **filters)


def test_the_demo_has_an_urgent_share_already_past_every_escalation_time(demo):
    from django.utils import timezone

    from workflows.escalation import escalate_due_reviews
    from workflows.models import Escalation

    overdue = _one("awaiting_review")
    assert overdue.urgency == choices.Urgency.URGENT
    assert overdue.review_due_at < timezone.now()
    # The first sweep (the dev server's thread, or Celery beat) escalates it all the way.
    assert escalate_due_reviews() == 3
    assert set(Escalation.objects.filter(share=overdue).values_list("level", flat=True)) == {
        "reminder",
        "deputies",
        "manager",
    }


def test_each_demo_share_is_where_its_state_says(demo):
    """The records and the flow agree, so every demo share can be taken on from the web."""
    incomplete = _one("draft", decisions__isnull=True)
    assert steps.open_task(incomplete, ShareFlow.draft).owner.username == "practitioner"

    returned = _one("draft", decisions__outcome=choices.Outcome.RETURN)
    assert steps.open_task(returned, ShareFlow.draft) is not None
    assert returned.decisions.get().reasons.startswith("Add what Maisie said")

    awaiting = _one("awaiting_review")
    assert awaiting.submitted_at is not None
    assert steps.open_task(awaiting, ShareFlow.lead_review) is not None
    assert not awaiting.decisions.exists()

    approved = _one("approved")
    assert steps.open_task(approved, ShareFlow.record_release) is not None
    assert approved.items.filter(identifies_third_party=True).count() == 1
    decision = approved.decisions.get()
    assert set(decision.approved_items.all()) == set(approved.items.all())

    in_part = _one("approved_in_part")
    assert steps.open_task(in_part, ShareFlow.record_release) is not None
    decision = in_part.decisions.get()
    assert decision.capacity == choices.DecidingCapacity.DEPUTY
    assert set(decision.approved_items.all()) == set(
        in_part.items.filter(identifies_third_party=False)
    )

    released = _one("released")
    assert Release.objects.get(share=released).content
    assert not Task.objects.filter(
        process__shareprocess__share=released, status__in=["NEW", "ASSIGNED", "STARTED"]
    ).exists()

    refused = _one("refused")
    assert refused.decisions.get().refusal_reason == choices.RefusalReason.ALREADY_HELD

    withdrawn = _one("withdrawn")
    assert withdrawn.withdrawn_reason.startswith("The family have moved")

    riverside = Share.objects.get(case__organisation__name="Riverside Primary School")
    assert riverside.status == choices.ShareStatus.AWAITING_REVIEW
    assert riverside.lawful_basis == choices.LawfulBasis.PUBLIC_TASK


def test_seed_demo_refuses_outside_debug_without_the_acknowledgement(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="i-understand-this-creates-demo-accounts"):
        call_command("seed_demo", stdout=StringIO())
    assert not Organisation.objects.exists()
    assert not get_user_model().objects.exists()


def test_seed_demo_command_prints_the_summary(db, settings):
    """In DEBUG (make run) it needs no acknowledgement; outside it, with one it runs."""
    settings.DEBUG = True
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert out.getvalue().strip() == (
        "Demo ready: 2 settings, 7 people, 5 cases, 10 shares. "
        "Every demo password is 'safeshare-demo'; the lead, deputy, manager, auditor and "
        "otherlead accounts also need the code that 'manage.py demo_code' prints."
    )
    first = counts()

    settings.DEBUG = False
    again = StringIO()
    call_command("seed_demo", "--i-understand-this-creates-demo-accounts", stdout=again)
    assert again.getvalue() == out.getvalue()
    assert counts() == first


# --- Times that tell the truth -----------------------------------------------------------------


def test_every_demo_share_happened_in_order(demo):
    """Proposed, then submitted, then decided, then released; all of it before now. An
    emergency release is sent first and recorded, then reviewed."""
    from django.utils import timezone

    from permissions.models import AuditEntry

    now = timezone.now()
    for share in Share.objects.prefetch_related("decisions", "versions"):
        steps_in_order = [share.created_at]
        release = Release.objects.filter(share=share).first()
        emergency = release is not None and release.decision_id is None
        if emergency:
            steps_in_order += [release.sent_at, release.recorded_at]
        if share.submitted_at is not None:
            steps_in_order.append(share.submitted_at)
            assert share.review_due_at > share.submitted_at
        steps_in_order += sorted(d.decided_at for d in share.decisions.all())
        if release is not None and not emergency:
            steps_in_order += [release.sent_at, release.recorded_at]
        steps_in_order.append(now)
        assert steps_in_order == sorted(steps_in_order), share
        for version in share.versions.all():
            assert share.created_at <= version.submitted_at <= now
        reviews = Task.objects.filter(
            process__shareprocess__share=share, flow_task=ShareFlow.lead_review
        )
        for review in reviews:
            assert share.created_at <= review.created <= now
    # The audit log was written as the story happened: in order, and all of it in the past.
    times = list(AuditEntry.objects.order_by("pk").values_list("at", flat=True))
    assert times == sorted(times) and times[-1] <= now


def test_the_demo_decisions_took_hours_and_days(demo):
    from workflows.reports import GROUPINGS, ReportScope, figures_by, review_rounds

    oakfield = Organisation.objects.get(name="Oakfield Nursery")
    rounds = review_rounds(ReportScope(settings=[oakfield.pk]))
    took = sorted(r.to_decision.total_seconds() for r in rounds)
    assert len(took) == 5
    assert took[0] >= 3600  # the quickest decision took two hours
    assert took[-1] >= 24 * 3600  # the slowest, two days
    [overall] = figures_by(rounds, GROUPINGS["all"])
    assert overall.median_seconds and overall.median_seconds >= 3600
    assert overall.p90_seconds and overall.p90_seconds > overall.median_seconds


def test_the_demo_report_times_are_never_zero_or_negative(demo):
    from workflows.reports import ReportScope, release_figures, share_timelines

    oakfield = Organisation.objects.get(name="Oakfield Nursery")
    scope = ReportScope(settings=[oakfield.pk])
    durations = ("draft_time", "to_pick_up", "to_decision", "to_release", "total_time")
    for row in share_timelines(scope):
        for name in durations:
            if row[name] is not None:
                assert row[name].total_seconds() > 0, (row["pk"], name)
    releases = {f.key: f for f in release_figures(scope)}
    assert releases["after_decision"].median_seconds == 3600  # sent an hour after approval
    assert releases["in_emergency"].median_seconds == 12 * 60  # 12 minutes after proposal


def test_the_demo_has_a_review_overdue_now_and_one_falling_due(demo):
    from django.utils import timezone

    from workflows.reports import late_reviews

    oakfield = Organisation.objects.get(name="Oakfield Nursery")
    [late] = late_reviews([oakfield])
    assert late.count == 1 and late.retrospective == 0
    assert late.oldest_share == _one("awaiting_review").pk
    assert late.oldest_overdue_by.startswith("overdue by ")
    # The emergency release minutes ago: its retrospective review falls due at the end of
    # the working day (today's, when the demo is seeded in working hours).
    emergency = _one("released_in_emergency")
    assert emergency.review_due_at > timezone.now()
