"""An undecided lead review is chased: reminder at half time, deputies at the deadline,
then the manager; each step recorded once, each person emailed once, no child named."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import choices
from workflows import steps
from workflows.escalation import escalate_due_reviews
from workflows.models import Escalation, EscalationLevel, Notification
from workflows.tasks import deliver_notification, deliver_pending_notifications, sweep_timers

from .factories import MembershipFactory, UserFactory, complete_fields, item
from .http_helpers import url

# Monday 2 March 2026, 09:00 GMT: an urgent share is due by 18:00 the same day.
MONDAY_9AM = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(MONDAY_9AM, tick=False) as traveller:
        yield traveller


@pytest.fixture
def people(oakfield, lead, deputy, manager, practitioner):
    for role, person in (("lead", lead), ("deputy", deputy), ("manager", manager)):
        person.email = f"{role}@example.org"
        person.save(update_fields=["email"])
    return {"lead": lead, "deputy": deputy, "manager": manager}


@pytest.fixture
def urgent(clock, case, practitioner, recipient, people):
    share = steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(recipient, urgency=choices.Urgency.URGENT),
        items=[item()],
    )
    return steps.submit(share=share, user=practitioner)


def fire(clock, when, django_capture_on_commit_callbacks):
    clock.move_to(when, tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        return escalate_due_reviews()


def levels(share):
    return list(Escalation.objects.filter(share=share).values_list("level", flat=True))


def test_submission_sets_the_deadline_from_the_settings_policy(urgent):
    assert urgent.review_due_at == datetime(2026, 3, 2, 18, 0, tzinfo=UTC)


def test_the_whole_escalation_chain(urgent, clock, people, django_capture_on_commit_callbacks):
    assert fire(clock, MONDAY_9AM + timedelta(hours=4), django_capture_on_commit_callbacks) == 0
    assert levels(urgent) == []

    # Halfway (13:30): the lead is reminded.
    assert (
        fire(clock, datetime(2026, 3, 2, 13, 31, tzinfo=UTC), django_capture_on_commit_callbacks)
        == 1
    )
    assert levels(urgent) == [EscalationLevel.REMINDER]
    assert [m.to for m in mail.outbox] == [["lead@example.org"]]

    # The deadline (18:00): deputies are brought in, and the lead told again.
    fire(clock, datetime(2026, 3, 2, 18, 1, tzinfo=UTC), django_capture_on_commit_callbacks)
    assert levels(urgent) == [EscalationLevel.REMINDER, EscalationLevel.DEPUTIES]
    assert sorted(m.to[0] for m in mail.outbox[1:]) == ["deputy@example.org", "lead@example.org"]

    # As long again past the deadline (Tuesday 03:00): the manager.
    fire(clock, datetime(2026, 3, 3, 3, 1, tzinfo=UTC), django_capture_on_commit_callbacks)
    assert levels(urgent) == [
        EscalationLevel.REMINDER,
        EscalationLevel.DEPUTIES,
        EscalationLevel.MANAGER,
    ]
    assert mail.outbox[-1].to == ["manager@example.org"]
    assert len(mail.outbox) == 4

    # The review stays open throughout for whoever decides.
    review = Task.objects.get(process=urgent.process, flow_task_type="HUMAN", status=STATUS.NEW)
    assert review.flow_task.name == "lead_review"

    # Every escalation is recorded with its time and who was alerted.
    deputies = Escalation.objects.get(share=urgent, level=EscalationLevel.DEPUTIES)
    assert deputies.at == datetime(2026, 3, 2, 18, 1, tzinfo=UTC)
    alerted = set(deputies.notifications.values_list("recipient__username", flat=True))
    assert alerted == {people["lead"].username, people["deputy"].username}


def test_a_decision_after_the_deadline_is_marked_late_by_how_much(urgent, clock, lead):
    clock.move_to(datetime(2026, 3, 2, 19, 30, tzinfo=UTC), tick=False)
    decision = steps.decide(
        share=urgent, user=lead, outcome=choices.Outcome.APPROVE, reasons="Necessary."
    )
    assert decision.late_by == timedelta(hours=1, minutes=30)


def test_a_decision_in_time_is_not_late_and_ends_the_escalation(
    urgent, clock, lead, django_capture_on_commit_callbacks
):
    clock.move_to(datetime(2026, 3, 2, 10, 0, tzinfo=UTC), tick=False)
    decision = steps.decide(
        share=urgent, user=lead, outcome=choices.Outcome.APPROVE, reasons="Necessary."
    )
    assert decision.late_by is None
    urgent.refresh_from_db()
    assert urgent.escalation_due_at is None

    assert (
        fire(clock, datetime(2026, 3, 4, 9, 0, tzinfo=UTC), django_capture_on_commit_callbacks) == 0
    )
    assert levels(urgent) == []
    assert mail.outbox == []


def test_a_second_sweep_fires_nothing_more(urgent, clock, django_capture_on_commit_callbacks):
    when = datetime(2026, 3, 2, 18, 1, tzinfo=UTC)
    assert fire(clock, when, django_capture_on_commit_callbacks) == 2
    sent = len(mail.outbox)
    assert fire(clock, when, django_capture_on_commit_callbacks) == 0
    assert len(mail.outbox) == sent


def test_notifications_name_no_child_and_no_case(urgent, clock, django_capture_on_commit_callbacks):
    fire(clock, datetime(2026, 3, 3, 3, 1, tzinfo=UTC), django_capture_on_commit_callbacks)
    assert mail.outbox
    child = urgent.case.child
    for message in mail.outbox:
        text = message.subject + message.body
        assert child.first_name not in text
        assert child.last_name not in text
        assert urgent.case.reference not in text
        assert url("lead_review", urgent.pk) in text or "lead or deputy" in text


def test_a_duplicated_delivery_sends_nothing_twice(
    urgent, clock, django_capture_on_commit_callbacks
):
    mail.outbox.clear()  # the submission's own notice went to the lead already
    fire(clock, datetime(2026, 3, 2, 13, 31, tzinfo=UTC), django_capture_on_commit_callbacks)
    notification = Notification.objects.get(escalation__isnull=False)
    assert len(mail.outbox) == 1

    assert deliver_notification(notification.pk) is False
    assert deliver_notification.delay(notification.pk).get() is False
    assert len(mail.outbox) == 1


def test_a_delivery_killed_after_claiming_is_retaken_once_the_claim_is_stale(
    urgent, clock, django_capture_on_commit_callbacks, monkeypatch
):
    def crash(*args, **kwargs):
        raise OSError("mail server went away")

    # Only the escalation's own notice is followed here: the submission's went out already.
    Notification.objects.update(emailed_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    monkeypatch.setattr("workflows.tasks.send_mail", crash)
    clock.move_to(datetime(2026, 3, 2, 13, 31, tzinfo=UTC), tick=False)
    # The failed send is logged, never raised into the step that wrote the row (issue 11);
    # a worker would wait and retry.
    with django_capture_on_commit_callbacks(execute=True):
        escalate_due_reviews()
    monkeypatch.undo()
    notification = Notification.objects.get(escalation__isnull=False)
    assert notification.emailed_at is None
    assert notification.email_claimed_at is None  # a failed send gives its claim back

    # A worker killed mid-send leaves a claim behind: it is retaken only once stale.
    Notification.objects.filter(pk=notification.pk).update(
        email_claimed_at=datetime(2026, 3, 2, 13, 31, tzinfo=UTC)
    )
    assert deliver_pending_notifications() == 0
    clock.move_to(datetime(2026, 3, 2, 13, 40, tzinfo=UTC), tick=False)
    assert deliver_pending_notifications() == 1
    assert len(mail.outbox) == 1
    assert deliver_pending_notifications() == 0


def test_escalation_stops_once_the_share_is_decided_even_if_a_timer_fires_late(urgent, clock, lead):
    from workflows.escalation import escalate

    steps.decide(share=urgent, user=lead, outcome=choices.Outcome.APPROVE, reasons="Done.")
    assert escalate(urgent, EscalationLevel.MANAGER) is None
    assert levels(urgent) == []


def test_sweeps_never_overlap(urgent, clock, django_capture_on_commit_callbacks):
    from .sweep_lock import another_sweep_running

    clock.move_to(datetime(2026, 3, 2, 18, 1, tzinfo=UTC), tick=False)
    with another_sweep_running():
        assert sweep_timers() == 0
        assert levels(urgent) == []
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_timers() == 2


def test_a_setting_with_no_deputy_still_reaches_its_lead(
    clock, case, practitioner, recipient, lead, django_capture_on_commit_callbacks
):
    lead.email = "lead@example.org"
    lead.save(update_fields=["email"])
    share = steps.submit(
        share=steps.propose(
            case=case, user=practitioner, fields=complete_fields(recipient), items=[item()]
        ),
        user=practitioner,
    )
    fire(clock, share.review_due_at + timedelta(minutes=1), django_capture_on_commit_callbacks)
    assert "lead@example.org" in [m.to[0] for m in mail.outbox]


def test_someone_who_left_the_setting_is_not_alerted(
    urgent, clock, oakfield, django_capture_on_commit_callbacks
):
    from cases.models import Membership
    from cases.services import membership_end

    leaver = UserFactory(username="leaver", email="leaver@example.org")
    MembershipFactory(user=leaver, organisation=oakfield, role=choices.Role.DEPUTY)
    membership_end(membership=Membership.objects.get(user=leaver))
    fire(clock, datetime(2026, 3, 2, 18, 1, tzinfo=UTC), django_capture_on_commit_callbacks)
    assert "leaver@example.org" not in [m.to[0] for m in mail.outbox]


def test_an_escalation_that_cannot_be_logged_fails_rather_than_passing_as_done(urgent, monkeypatch):
    """Only a second escalation of the same round is quietly skipped; a failed audit write
    must undo the escalation and surface, or the log would miss a step."""
    from django.db import IntegrityError

    from workflows import escalation

    def refuse(*args, **kwargs):
        raise IntegrityError("the audit log refused the entry")

    monkeypatch.setattr(escalation, "record_event", refuse)
    with pytest.raises(IntegrityError):
        escalation.escalate(urgent, EscalationLevel.REMINDER)
    assert not Escalation.objects.filter(share=urgent).exists()
    assert not Notification.objects.filter(escalation__isnull=False).exists()


# --- The sweep reads what is due, and only that -------------------------------------------


def test_the_sweep_reads_only_the_reviews_due_however_many_are_open(
    clock, case, practitioner, recipient, django_assert_max_num_queries
):
    def submit_routine() -> None:
        steps.submit(
            share=steps.propose(
                case=case, user=practitioner, fields=complete_fields(recipient), items=[item()]
            ),
            user=practitioner,
        )

    submit_routine()
    # Nothing is due yet: one indexed read, whatever else is open.
    with django_assert_max_num_queries(1):
        assert escalate_due_reviews() == 0
    for _ in range(5):
        submit_routine()
    with django_assert_max_num_queries(1):
        assert escalate_due_reviews() == 0


def test_each_escalation_moves_the_next_one_on_and_the_last_clears_it(urgent, clock):
    assert urgent.escalation_due_at == datetime(2026, 3, 2, 13, 30, tzinfo=UTC)
    clock.move_to(datetime(2026, 3, 2, 13, 31, tzinfo=UTC), tick=False)
    escalate_due_reviews()
    urgent.refresh_from_db()
    assert urgent.escalation_due_at == datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
    # A sweep that comes late makes every level due at once, each once.
    clock.move_to(datetime(2026, 3, 4, 9, 0, tzinfo=UTC), tick=False)
    assert escalate_due_reviews() == 2
    urgent.refresh_from_db()
    assert urgent.escalation_due_at is None
    assert escalate_due_reviews() == 0


def test_a_returned_share_submitted_again_escalates_in_its_new_round(urgent, clock, lead):
    clock.move_to(datetime(2026, 3, 2, 14, 0, tzinfo=UTC), tick=False)
    escalate_due_reviews()
    steps.decide(share=urgent, user=lead, outcome=choices.Outcome.RETURN, reasons="Add dates.")
    urgent.refresh_from_db()
    assert urgent.escalation_due_at is None
    clock.move_to(datetime(2026, 3, 2, 15, 0, tzinfo=UTC), tick=False)
    steps.submit(share=urgent, user=urgent.proposed_by)
    urgent.refresh_from_db()
    assert (
        urgent.escalation_due_at
        == urgent.submitted_at + (urgent.review_due_at - urgent.submitted_at) / 2
    )
    clock.move_to(urgent.escalation_due_at + timedelta(minutes=1), tick=False)
    assert escalate_due_reviews() == 1
    assert levels(urgent) == [EscalationLevel.REMINDER, EscalationLevel.REMINDER]


def test_a_share_whose_escalation_fails_stays_due_and_the_others_go_on(
    urgent, clock, case, practitioner, recipient, monkeypatch
):
    from workflows import escalation

    other = steps.submit(
        share=steps.propose(
            case=case,
            user=practitioner,
            fields=complete_fields(recipient, urgency=choices.Urgency.URGENT),
            items=[item()],
        ),
        user=practitioner,
    )
    real = escalation.escalate

    def failing_for_the_first(share, level):
        if share.pk == urgent.pk:
            raise RuntimeError("the mail outbox refused the row")
        return real(share, level)

    monkeypatch.setattr(escalation, "escalate", failing_for_the_first)
    clock.move_to(datetime(2026, 3, 2, 13, 31, tzinfo=UTC), tick=False)
    assert escalate_due_reviews() == 1
    assert levels(other) == [EscalationLevel.REMINDER]
    urgent.refresh_from_db()
    assert urgent.escalation_due_at == datetime(2026, 3, 2, 13, 30, tzinfo=UTC)
    monkeypatch.setattr(escalation, "escalate", real)
    assert escalate_due_reviews() == 1
    assert levels(urgent) == [EscalationLevel.REMINDER]


def test_the_migration_hands_open_reviews_from_the_old_timers_to_the_sweep(urgent, clock):
    """Open reviews escalated under the flow's timers carry on from their next level; the
    timers' tasks, whose nodes are gone, are removed."""
    import importlib

    from django.apps import apps
    from django.db import connection

    from cases.models import Share

    migration = importlib.import_module("workflows.migrations.0008_escalation_outside_the_flow")
    clock.move_to(datetime(2026, 3, 2, 13, 31, tzinfo=UTC), tick=False)
    escalate_due_reviews()  # the reminder went, as its timer would have sent it
    Share.objects.filter(pk=urgent.pk).update(escalation_due_at=None)
    review = Task.objects.get(process=urgent.process, flow_task_type="HUMAN", status=STATUS.NEW)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO viewflow_task (flow_task, flow_task_type, status, created, token, "
            "process_id, data) VALUES (%s, 'TIMER', 'SCHEDULED', %s, 'start', %s, '{}')",
            [migration.GONE[1], timezone.now(), urgent.process.pk],
        )
        cursor.execute("SELECT id FROM viewflow_task WHERE flow_task = %s", [migration.GONE[1]])
        (timer_id,) = cursor.fetchone()
        cursor.execute(
            "INSERT INTO viewflow_task_previous (from_task_id, to_task_id) VALUES (%s, %s)",
            [timer_id, review.pk],
        )
    with connection.schema_editor(atomic=False) as editor:
        migration.forwards(apps, editor)
    urgent.refresh_from_db()
    assert urgent.escalation_due_at == datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
    assert not Task.objects.filter(pk=timer_id).exists()
    assert Task.objects.filter(pk=review.pk).exists()
