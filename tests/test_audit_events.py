"""Every step in a share's life, every change of access and every page of records shown
writes exactly one audit entry: the right action, by the right person in the role they
held, on the right share and case. Every chain stays intact after each."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Model
from django.test import Client
from django.utils import timezone

from cases import choices
from cases.models import Case, Consultation, FamilyFollowUp, Share
from cases.services import (
    advice_ask,
    advice_give,
    case_close,
    case_team_add,
    case_team_remove,
    decision_reconsider,
    family_told_record,
    share_update_draft,
)
from permissions.audit import records_shown
from permissions.audit_chain import verify
from permissions.break_glass import break_glass_review, break_glass_take
from permissions.lookups import note_viewed
from permissions.models import AuditAction, AuditEntry
from workflows import steps
from workflows.escalation import escalate
from workflows.models import EscalationLevel

from .factories import CaseFactory, complete_fields, item
from .http_helpers import url


def last_sequence() -> int:
    """A mark in the log as a whole: sequences start again in every setting's chain, so the
    mark is the newest primary key, which grows with every append in every chain."""
    return AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def logged_since(mark: int) -> list[AuditEntry]:
    # The setting's own entries: its chain's start is recorded in the installation chain.
    entries = list(
        AuditEntry.objects.filter(pk__gt=mark, organisation__isnull=False).order_by("pk")
    )
    assert verify().intact
    return entries


def the_only_entry(mark: int) -> AuditEntry:
    entries = logged_since(mark)
    assert len(entries) == 1, [(e.action, e.object_type, e.detail) for e in entries]
    return entries[0]


def on(record: Model, case: Case, share: Share | None) -> dict[str, Any]:
    """The fields that place an entry: the record it concerns, its case, share and setting."""
    return {
        "object_type": record._meta.model_name,
        "object_id": record.pk,
        "case_id": case.pk,
        "share_id": share.pk if share else None,
        "organisation_id": case.organisation_id,
    }


def assert_entry(entry: AuditEntry, **expected: Any) -> None:
    assert {name: getattr(entry, name) for name in expected} == expected


@pytest.fixture
def refused(submitted: Share, lead: Any) -> Share:
    steps.decide(
        share=submitted,
        user=lead,
        outcome=choices.Outcome.REFUSE,
        refusal_reason=choices.RefusalReason.NOT_PROPORTIONATE,
        reasons="Too much for the purpose.",
    )
    submitted.refresh_from_db()
    return submitted


@pytest.fixture
def consultation(draft: Share, practitioner: Any, lead: Any) -> Consultation:
    return advice_ask(share=draft, user=practitioner, adviser=lead, question="Is this enough?")


# --- A share's life -------------------------------------------------------------------------


def test_proposing_a_share_logs_it_once(case: Case, practitioner: Any, recipient: Any) -> None:
    mark = last_sequence()
    share = steps.propose(
        case=case, user=practitioner, fields=complete_fields(recipient), items=[item()]
    )
    entry = the_only_entry(mark)
    assert_entry(
        entry, action=AuditAction.SHARE_CREATED, actor_id=practitioner.pk, basis="practitioner"
    )
    assert_entry(entry, **on(share, case, share))


def test_changing_a_draft_logs_it_once(draft: Share, practitioner: Any, recipient: Any) -> None:
    mark = last_sequence()
    share_update_draft(
        share=draft,
        user=practitioner,
        fields=complete_fields(recipient, purpose="A clearer purpose."),
        items=[item()],
    )
    entry = the_only_entry(mark)
    assert_entry(
        entry, action=AuditAction.SHARE_EDITED, actor_id=practitioner.pk, basis="practitioner"
    )
    assert_entry(entry, **on(draft, draft.case, draft))


def test_submitting_a_share_logs_it_once_with_its_version(draft: Share, practitioner: Any) -> None:
    mark = last_sequence()
    steps.submit(share=draft, user=practitioner)
    entry = the_only_entry(mark)
    assert_entry(
        entry,
        action=AuditAction.SHARE_SUBMITTED,
        actor_id=practitioner.pk,
        basis="practitioner",
        detail="version 1",
    )
    assert_entry(entry, **on(draft, draft.case, draft))


DECISIONS = [
    ("lead", choices.Outcome.APPROVE, {}),
    ("deputy", choices.Outcome.APPROVE_IN_PART, {}),
    ("lead", choices.Outcome.REFUSE, {"refusal_reason": choices.RefusalReason.NOT_NECESSARY}),
]


@pytest.mark.parametrize(("decider", "outcome", "extra"), DECISIONS, ids=[d[1] for d in DECISIONS])
def test_each_decision_is_logged_once_in_the_deciders_role(
    request: pytest.FixtureRequest,
    case: Case,
    practitioner: Any,
    recipient: Any,
    decider: str,
    outcome: str,
    extra: dict[str, Any],
) -> None:
    user = request.getfixturevalue(decider)
    share = steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(recipient),
        items=[item(), item(content="Said she was hungry at lunch.")],
    )
    steps.submit(share=share, user=practitioner)
    if outcome == choices.Outcome.APPROVE_IN_PART:
        extra = {"approved_item_ids": [share.items.order_by("position").first().pk]}
    mark = last_sequence()
    decision = steps.decide(share=share, user=user, outcome=outcome, reasons="Weighed.", **extra)
    entry = the_only_entry(mark)
    assert_entry(
        entry,
        action=AuditAction.SHARE_DECIDED,
        actor_id=user.pk,
        basis=decider,
        detail=decision.get_outcome_display(),
    )
    assert_entry(entry, **on(decision, case, share))


def test_returning_a_share_logs_it_once(submitted: Share, lead: Any) -> None:
    mark = last_sequence()
    decision = steps.decide(
        share=submitted, user=lead, outcome=choices.Outcome.RETURN, reasons="Which day?"
    )
    entry = the_only_entry(mark)
    assert_entry(entry, action=AuditAction.SHARE_RETURNED, actor_id=lead.pk, basis="lead")
    assert_entry(entry, **on(decision, submitted.case, submitted))


def test_recording_a_release_logs_it_once(approved: Share, practitioner: Any) -> None:
    mark = last_sequence()
    release = steps.record_release(share=approved, user=practitioner, sent_at=timezone.now())
    entry = the_only_entry(mark)
    assert_entry(
        entry,
        action=AuditAction.SHARE_RELEASED,
        actor_id=practitioner.pk,
        basis="practitioner",
        detail=f"release #{release.pk}",
    )
    assert_entry(entry, **on(approved, approved.case, approved))


def test_an_emergency_release_logs_it_once_as_before_any_decision(
    draft: Share, practitioner: Any
) -> None:
    # Only a share marked immediate risk may be released before a decision.
    Share.objects.filter(pk=draft.pk).update(urgency=choices.Urgency.IMMEDIATE)
    mark = last_sequence()
    release = steps.release_in_emergency(
        share=draft,
        user=practitioner,
        justification="Threat made tonight; lead and deputy unreachable.",
        sent_at=timezone.now(),
    )
    entry = the_only_entry(mark)
    assert_entry(
        entry,
        action=AuditAction.SHARE_RELEASED,
        actor_id=practitioner.pk,
        basis="practitioner",
        detail=f"release #{release.pk}, in an emergency before any decision",
    )
    assert_entry(entry, **on(draft, draft.case, draft))


def test_withdrawing_a_share_logs_it_once(draft: Share, practitioner: Any) -> None:
    mark = last_sequence()
    steps.withdraw(share=draft, user=practitioner, reason="Social care already know.")
    entry = the_only_entry(mark)
    assert_entry(
        entry, action=AuditAction.SHARE_WITHDRAWN, actor_id=practitioner.pk, basis="practitioner"
    )
    assert_entry(entry, **on(draft, draft.case, draft))


def test_reconsidering_a_refusal_logs_it_once(refused: Share, deputy: Any) -> None:
    original = refused.decisions.get()
    mark = last_sequence()
    decision = decision_reconsider(
        share=refused, user=deputy, outcome=choices.Outcome.APPROVE, reasons="New information."
    )
    entry = the_only_entry(mark)
    assert_entry(
        entry,
        action=AuditAction.SHARE_RECONSIDERED,
        actor_id=deputy.pk,
        basis="deputy",
        detail=f"Approve, reconsidering decision #{original.pk}",
    )
    assert_entry(entry, **on(decision, refused.case, refused))


def test_an_escalation_is_logged_once_as_done_by_the_system(submitted: Share) -> None:
    mark = last_sequence()
    escalation = escalate(submitted, EscalationLevel.DEPUTIES)
    entry = the_only_entry(mark)
    assert_entry(
        entry,
        action=AuditAction.ESCALATION,
        actor_id=None,
        basis="system",
        detail=escalation.get_level_display(),
    )
    assert_entry(entry, **on(submitted, submitted.case, submitted))


def test_asking_advice_logs_it_once(draft: Share, practitioner: Any, colleague: Any) -> None:
    mark = last_sequence()
    consultation = advice_ask(
        share=draft, user=practitioner, adviser=colleague, question="Would you share this?"
    )
    entry = the_only_entry(mark)
    assert_entry(
        entry,
        action=AuditAction.ADVICE_ASKED,
        actor_id=practitioner.pk,
        basis="practitioner",
        detail=f"adviser #{colleague.pk}",
    )
    assert_entry(entry, **on(consultation, draft.case, draft))


def test_giving_advice_logs_it_once(consultation: Consultation, lead: Any) -> None:
    mark = last_sequence()
    advice_give(consultation=consultation, user=lead, advice="Yes: it is proportionate.")
    entry = the_only_entry(mark)
    assert_entry(entry, action=AuditAction.ADVICE_GIVEN, actor_id=lead.pk, basis="lead")
    assert_entry(entry, **on(consultation, consultation.share.case, consultation.share))


def test_recording_that_the_family_was_told_logs_it_once(
    case: Case, practitioner: Any, recipient: Any
) -> None:
    not_yet = complete_fields(
        recipient, family_not_told_reason=choices.FamilyNotToldReason.NOT_YET_POSSIBLE
    )
    share = steps.propose(case=case, user=practitioner, fields=not_yet, items=[item()])
    steps.submit(share=share, user=practitioner)
    follow_up = FamilyFollowUp.objects.get(share=share)
    today = timezone.localdate()
    mark = last_sequence()
    family_told_record(
        follow_up=follow_up, user=practitioner, informed_on=today, informed_by="Priya, at pick-up"
    )
    entry = the_only_entry(mark)
    assert_entry(
        entry,
        action=AuditAction.FAMILY_INFORMED,
        actor_id=practitioner.pk,
        basis="practitioner",
        detail=f"told on {today:%d %B %Y} by Priya, at pick-up",
    )
    assert_entry(entry, **on(share, case, share))


# --- Access -----------------------------------------------------------------------------------


def test_joining_a_case_team_logs_the_grant_once(case: Case, colleague: Any, lead: Any) -> None:
    mark = last_sequence()
    case_team_add(case=case, user=colleague, by=lead)
    entry = the_only_entry(mark)
    assert_entry(
        entry,
        action=AuditAction.GRANT,
        actor_id=lead.pk,
        subject_id=colleague.pk,
        basis="cases.view_case",
    )
    assert_entry(entry, **on(case, case, None))


def test_leaving_a_case_team_logs_the_revoke_once(case: Case, practitioner: Any, lead: Any) -> None:
    mark = last_sequence()
    case_team_remove(case=case, user=practitioner, by=lead)
    entry = the_only_entry(mark)
    assert_entry(
        entry,
        action=AuditAction.REVOKE,
        actor_id=lead.pk,
        subject_id=practitioner.pk,
        basis="cases.view_case",
    )
    assert_entry(entry, **on(case, case, None))


def test_taking_break_glass_access_logs_it_once(case: Case, colleague: Any) -> None:
    mark = last_sequence()
    grant = break_glass_take(user=colleague, case=case, reason="Mum asked me at the door.")
    entry = the_only_entry(mark)
    assert_entry(
        entry,
        action=AuditAction.BREAK_GLASS,
        actor_id=colleague.pk,
        subject_id=colleague.pk,
        basis=f"break-glass grant #{grant.pk}, 24 hours",
    )
    assert_entry(entry, **on(case, case, None))


def test_the_lead_ending_break_glass_access_logs_it_once(
    case: Case, colleague: Any, lead: Any
) -> None:
    grant = break_glass_take(user=colleague, case=case, reason="Mum asked me at the door.")
    mark = last_sequence()
    break_glass_review(grant=grant, lead=lead, end_now=True)
    entry = the_only_entry(mark)
    assert_entry(
        entry,
        action=AuditAction.REVOKE,
        actor_id=lead.pk,
        subject_id=colleague.pk,
        basis=f"break-glass grant #{grant.pk} ended by the lead",
    )
    assert_entry(entry, **on(case, case, None))


def test_closing_a_case_logs_the_end_of_each_break_glass_grant_once(
    case: Case, practitioner: Any, colleague: Any, lead: Any
) -> None:
    grant = break_glass_take(user=colleague, case=case, reason="Mum asked me at the door.")
    mark = last_sequence()
    case_close(case=case, by=lead)
    entries = logged_since(mark)
    # The closing itself, by the lead; the team's own access goes too, one revoke for the
    # practitioner on the team.
    assert sorted((e.action, e.subject_id, e.basis) for e in entries) == sorted(
        [
            (AuditAction.CASE_CLOSED, None, "lead"),
            (AuditAction.REVOKE, practitioner.pk, "cases.view_case"),
            (
                AuditAction.REVOKE,
                colleague.pk,
                f"break-glass grant #{grant.pk} ended: the case was closed",
            ),
        ]
    )
    assert {(e.actor_id, e.case_id, e.share_id) for e in entries} == {(lead.pk, case.pk, None)}


# --- Records shown ----------------------------------------------------------------------------

VIEWS = [
    ("case", AuditAction.VIEW_CASE),
    ("share", AuditAction.VIEW_SHARE),
    ("decision", AuditAction.VIEW_DECISION),
    ("release", AuditAction.VIEW_RELEASE),
    ("consultation", AuditAction.VIEW_CONSULTATION),
]


@pytest.mark.parametrize(("kind", "action"), VIEWS, ids=[v[0] for v in VIEWS])
def test_each_record_shown_is_logged_once_with_the_basis_of_access(
    approved: Share, practitioner: Any, lead: Any, kind: str, action: str
) -> None:
    steps.record_release(share=approved, user=practitioner, sent_at=timezone.now())
    records = {
        "case": approved.case,
        "share": approved,
        "decision": approved.decisions.get(),
        "release": approved.release,
        "consultation": Consultation.objects.create(
            share=approved, asked_by=practitioner, adviser=lead, question="Q?", shared_text="T"
        ),
    }
    share = None if kind == "case" else approved
    mark = last_sequence()
    note_viewed(practitioner, approved.case, records[kind])
    entry = the_only_entry(mark)
    assert_entry(entry, action=action, actor_id=practitioner.pk, basis="case team", subject_id=None)
    assert_entry(entry, **on(records[kind], approved.case, share))
    assert entry.detail == f"{kind} {records[kind].pk}"
    assert records_shown(entry) == [(kind, records[kind].pk)]


def test_the_share_page_is_one_entry_naming_every_record_it_shows(
    approved: Share, practitioner: Any
) -> None:
    release = steps.record_release(share=approved, user=practitioner, sent_at=timezone.now())
    decision = approved.decisions.get()
    client = Client()
    client.force_login(practitioner)
    mark = last_sequence()
    assert client.get(url("share_detail", approved.pk)).status_code == 200
    entry = the_only_entry(mark)
    assert_entry(
        entry,
        action=AuditAction.VIEW_SHARE,
        actor_id=practitioner.pk,
        basis="case team",
        detail=f"share {approved.pk}; decision {decision.pk}; release {release.pk}",
    )
    assert_entry(entry, **on(approved, approved.case, approved))


def test_the_case_page_is_one_entry_naming_the_case_and_every_share_it_lists(
    approved: Share, practitioner: Any, recipient: Any
) -> None:
    case = approved.case
    second = steps.propose(
        case=case, user=practitioner, fields=complete_fields(recipient), items=[item()]
    )
    client = Client()
    client.force_login(practitioner)
    mark = last_sequence()
    page = client.get(url("case_detail", case.pk))
    assert page.status_code == 200
    entry = the_only_entry(mark)
    assert_entry(entry, action=AuditAction.VIEW_CASE, actor_id=practitioner.pk, basis="case team")
    # Two shares: the entry is the case's alone, and names both shares, as the page listed.
    assert_entry(entry, **on(case, case, None))
    listed = [f"share {share.pk}" for share in page.context["shares"]]
    assert sorted(listed) == sorted([f"share {approved.pk}", f"share {second.pk}"])
    assert entry.detail.split("; ") == [f"case {case.pk}", *listed]


def test_a_page_of_many_records_is_still_one_entry_and_drops_none(
    submitted: Share, practitioner: Any, lead: Any
) -> None:
    """However many records a page shows, all are named, in the order shown, and the entry
    stays one append (far past what a 300-character note would hold)."""
    shown = [
        Consultation.objects.create(
            share=submitted, asked_by=practitioner, adviser=lead, question="Q?", shared_text="T"
        )
        for _ in range(60)
    ]
    mark = last_sequence()
    note_viewed(practitioner, submitted.case, submitted, *shown, submitted)
    entry = the_only_entry(mark)
    expected = [f"share {submitted.pk}", *(f"consultation {c.pk}" for c in shown)]
    assert entry.detail.split("; ") == expected  # the share shown twice is named once
    assert records_shown(entry) == [
        ("share", submitted.pk),
        *(("consultation", c.pk) for c in shown),
    ]
    assert len(entry.detail) > 300
    assert_entry(entry, **on(submitted, submitted.case, submitted))


def test_a_view_logged_one_record_to_an_entry_still_reads_as_that_record() -> None:
    """As views were logged before a page view was one entry: no list, the record itself."""
    entry = AuditEntry(action=AuditAction.VIEW_DECISION, object_type="decision", object_id=7)
    assert records_shown(entry) == [("decision", 7)]
    assert records_shown(AuditEntry(action=AuditAction.SEARCHED, detail="case 4")) == []


def test_records_of_two_cases_are_one_entry_per_case(approved: Share, practitioner: Any) -> None:
    other_case = CaseFactory(organisation=approved.case.organisation)
    mark = last_sequence()
    note_viewed(practitioner, approved.case, approved, other_case)
    entries = logged_since(mark)
    assert [(e.action, e.case_id, e.share_id, e.detail) for e in entries] == [
        (AuditAction.VIEW_SHARE, approved.case_id, approved.pk, f"share {approved.pk}"),
        (AuditAction.VIEW_CASE, other_case.pk, None, f"case {other_case.pk}"),
    ]
