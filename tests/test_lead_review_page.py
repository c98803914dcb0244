"""The lead review page: everything needed to decide, on one screen (issue 12, item 4).

Whether the family was told, the deadline and the time left, the advice sought and given,
and for a share sent back and submitted again, the lead's note and what changed since; and
a decision form that shows only what the chosen outcome needs, without JavaScript, whose
server keeps nothing the outcome does not use.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.formats import date_format

from cases import choices
from cases.models import Case, Decision, Recipient, Share, ShareVersion
from cases.services import advice_ask, advice_give
from cases.version_changes import (
    NOT_GIVEN,
    FieldChange,
    ItemChangeKind,
    field_changes,
    item_changes,
    version_changes,
)
from permissions.audit import records_shown
from permissions.models import AuditEntry
from workflows import steps

from .factories import complete_fields, item
from .http_helpers import form_data, page_text, url

Outcome = choices.Outcome
MONDAY_10AM = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
NOTE = "Say what Maisie said about the bruise, in her own words."


@pytest.fixture
def clock() -> Any:
    with time_machine.travel(MONDAY_10AM, tick=False) as traveller:
        yield traveller


def review_page(client: Any, lead: Any, share: Share) -> Any:
    client.force_login(lead)
    page = client.get(url("lead_review", share.pk))
    assert page.status_code == 200
    return page


def seen_by(user: Any, record: Any) -> bool:
    """Whether a page the user opened showed the record: a page view is one entry naming
    every record it showed."""
    shown = (record._meta.model_name, record.pk)
    views = AuditEntry.objects.filter(actor=user, action__startswith="view_")
    return any(shown in records_shown(entry) for entry in views)


# ---------------------------------------------------------------- what changed: the comparison


def version(number: int, fields: dict[str, Any], items: list[dict[str, Any]]) -> ShareVersion:
    """A snapshot as cases.services.versions freezes one (unsaved: the comparison reads only
    the two versions it is given)."""
    return ShareVersion(number=number, content={"fields": fields, "items": items})


def snapshot_item(pk: int, **changes: Any) -> dict[str, Any]:
    return {
        "id": pk,
        "category": choices.ItemCategory.OBSERVATION,
        "content": "Bruise on the left forearm.",
        "necessity": "Social care decide whether to assess.",
        "is_special_category": False,
        "identifies_third_party": False,
        "third_party_details": "",
        "third_party_handling": "",
        "redacted_content": "",
        **changes,
    }


def test_a_changed_answer_is_labelled_in_words_before_and_after():
    before = {
        "purpose": "Refer a concern.",
        "consent_status": "not_sought",
        "consent_status_label": "Not sought",
        "family_informed_on": None,
        "lawful_basis": "6e",
        "lawful_basis_label": "Public task",
    }
    after = {
        **before,
        "purpose": "Refer a concern to children's social care.",
        "consent_status": "refused",
        "consent_status_label": "Refused",
        "family_informed_on": "2026-02-27",
    }

    assert field_changes(before, after) == [
        FieldChange("Purpose", "Refer a concern.", "Refer a concern to children's social care."),
        FieldChange("Consent", "Not sought", "Refused"),
        FieldChange("When they were told", NOT_GIVEN, "27 Feb 2026"),
    ]


def test_gateways_ticked_in_another_order_are_no_change_and_blank_is_blank():
    before = {"statutory_gateways": ["a", "b"], "requested_by": "", "recipient": ""}
    after = {"statutory_gateways": ["b", "a"], "requested_by": None, "recipient": ""}

    assert field_changes(before, after) == []


def test_gateways_are_shown_by_their_labels():
    before: dict[str, Any] = {"statutory_gateways": [], "statutory_gateway_labels": []}
    after = {"statutory_gateways": ["s47"], "statutory_gateway_labels": ["Children Act s47"]}

    assert field_changes(before, after) == [
        FieldChange("Statutory gateways", NOT_GIVEN, "Children Act s47")
    ]


def test_items_added_removed_and_changed_are_told_apart_by_their_id():
    kept = snapshot_item(1)
    dropped = snapshot_item(2, category=choices.ItemCategory.ATTENDANCE, content="71%.")
    before = [kept, dropped]
    after = [
        snapshot_item(
            1,
            content="Bruise on the left forearm; she said her uncle did it.",
            identifies_third_party=True,
            third_party_details="her uncle",
        ),
        snapshot_item(3, category=choices.ItemCategory.CONCERN, content="Her own words."),
    ]

    changes = item_changes(before, after)

    assert [(c.kind, c.number, c.category) for c in changes] == [
        (ItemChangeKind.CHANGED, 1, "Observation"),
        (ItemChangeKind.ADDED, 2, "Concern or disclosure"),
        (ItemChangeKind.REMOVED, 2, "Attendance"),
    ]
    changed, added, removed = changes
    assert changed.changes == (
        FieldChange(
            "Content",
            "Bruise on the left forearm.",
            "Bruise on the left forearm; she said her uncle did it.",
        ),
        FieldChange("Identifies someone else", "No", "Yes"),
        FieldChange("Who it identifies", NOT_GIVEN, "her uncle"),
    )
    assert FieldChange("Content", "", "Her own words.") in added.changes
    assert all(change.before == "" for change in added.changes)
    assert FieldChange("Content", "71%.", "") in removed.changes
    assert all(change.after == "" for change in removed.changes)


def test_two_versions_alike_have_no_changes():
    fields = {"purpose": "Refer a concern."}
    changes = version_changes(
        version(1, fields, [snapshot_item(1)]), version(2, fields, [snapshot_item(1)])
    )

    assert not changes
    assert changes.fields == () and changes.items == ()


# ---------------------------------------------------------------- golden rule 2: the family


def test_the_page_shows_the_family_is_not_yet_told_and_when_the_promise_falls_overdue(
    clock, case, practitioner, lead, recipient, client
):
    share = steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(
            recipient, family_not_told_reason=choices.FamilyNotToldReason.NOT_YET_POSSIBLE
        ),
        items=[item()],
    )
    steps.submit(share=share, user=practitioner)
    follow_up = share.family_follow_ups.get()

    shown = page_text(review_page(client, lead, share))
    assert "Openness with the family (golden rule 2)" in shown
    assert "Not yet possible (they will be told)" in shown
    due = date_format(timezone.localtime(follow_up.due_at), "j M Y H:i")
    assert f"Follow-up: to be told by {due} Not yet recorded as told." in shown
    assert "Overdue" not in shown

    clock.move_to(follow_up.due_at + timedelta(hours=1))
    assert "Not yet recorded as told. Overdue" in page_text(review_page(client, lead, share))


def test_the_page_shows_when_and_by_whom_the_family_was_told(
    clock, case, practitioner, lead, recipient, client
):
    share = steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(
            recipient,
            family_informed=choices.FamilyInformed.TOLD,
            family_informed_on=datetime(2026, 2, 27).date(),
            family_informed_by="Priya, at pick-up",
            family_not_told_reason="",
        ),
        items=[item()],
    )
    steps.submit(share=share, user=practitioner)

    assert "Told On 27 Feb 2026 by Priya, at pick-up" in page_text(review_page(client, lead, share))


# ---------------------------------------------------------------- the deadline


def test_the_deadline_is_shown_with_the_time_left_then_how_long_overdue(
    clock, submitted, lead, client
):
    due = submitted.review_due_at
    assert due is not None and due > timezone.now()
    page = review_page(client, lead, submitted)
    shown = page_text(page)

    assert f"Decide by {date_format(timezone.localtime(due), 'l j M Y, H:i')}" in shown
    assert re.search(r"\(urgent\) — \d+ hours?( \d+ minutes?)? left", shown), shown
    assert "ss-time-left--overdue" not in page.content.decode()

    clock.move_to(due + timedelta(hours=2))
    page = review_page(client, lead, submitted)
    assert "(urgent) — overdue by 2 hours" in page_text(page)
    # Said in words, and marked for colour too.
    assert 'class="ss-time-left ss-time-left--overdue"' in page.content.decode()


# ---------------------------------------------------------------- golden rule 3: advice


def test_the_advice_sought_and_given_is_shown_and_each_reading_logged(
    clock, draft, practitioner, colleague, lead, client
):
    consultation = advice_ask(
        share=draft,
        user=practitioner,
        adviser=colleague,
        question="Is a bruise like this enough to refer Maisie?",
    )
    clock.shift(timedelta(hours=1))
    advice_give(consultation=consultation, user=colleague, advice="Yes: refer today.")
    steps.submit(share=draft, user=practitioner)
    consultation.refresh_from_db()

    shown = page_text(review_page(client, lead, draft))

    assert "Advice sought" in shown
    # The question as the adviser was shown it: de-identified.
    assert consultation.question in shown
    assert "Maisie" not in consultation.question
    assert "Adviser colin (A colleague)" in shown
    assert "Advice Yes: refer today." in shown
    assert (
        f"Answered {date_format(timezone.localtime(consultation.answered_at), 'j M Y H:i')}"
        in shown
    )
    assert seen_by(lead, consultation)


def test_a_share_asked_no_advice_says_so(clock, submitted, lead, client):
    assert "No advice was asked on this share" in page_text(review_page(client, lead, submitted))


# ---------------------------------------------------------------- a resubmission


@pytest.fixture
def resubmitted(
    clock: Any, case: Case, practitioner: Any, lead: Any, recipient: Recipient
) -> Share:
    """Returned by the lead with a note, then corrected and submitted again: the purpose
    reworded, the first item changed, the second taken out and a new one added."""
    share = steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(recipient),
        items=[
            item(),
            item(category=choices.ItemCategory.ATTENDANCE, content="Attendance 71% this term."),
        ],
    )
    steps.submit(share=share, user=practitioner)
    clock.shift(timedelta(hours=1))
    steps.decide(share=share, user=lead, outcome=Outcome.RETURN, reasons=NOTE)
    clock.shift(timedelta(hours=1))
    first = share.items.order_by("position").first()
    assert first is not None
    steps.save_and_submit(
        share=share,
        user=practitioner,
        fields=complete_fields(recipient, purpose="Refer Maisie's disclosure to social care."),
        items=[
            {**item(content="Bruise on the left forearm, about 3 cm."), "id": first.pk},
            item(category=choices.ItemCategory.CONCERN, content="She said: he grabbed my arm."),
        ],
    )
    share.refresh_from_db()
    assert share.status == choices.ShareStatus.AWAITING_REVIEW
    return share


def test_a_resubmission_shows_the_return_note_and_what_changed_since(resubmitted, lead, client):
    returned = resubmitted.decisions.get(outcome=Outcome.RETURN)
    page = review_page(client, lead, resubmitted)
    shown = page_text(page)

    assert "Returned for more information, and submitted again" in shown
    when = date_format(timezone.localtime(returned.decided_at), "j M Y H:i")
    assert f"Returned by grace (Designated Safeguarding Lead) on {when}" in shown
    assert f"The note returned with it {NOTE}" in shown
    assert "What changed since the version returned" in shown
    # The answers: a real table, before and after said in its headers.
    assert (
        "Answers changed Question Before (version 1, returned) After (version 2, now) "
        "Purpose Refer a concern to children's social care. "
        "Refer Maisie's disclosure to social care."
    ) in shown
    # The items: changed, added and removed, each said in words.
    assert (
        "Item 1: Observation Changed Content Bruise on the left forearm seen at drop-off. "
        "Bruise on the left forearm, about 3 cm."
    ) in shown
    assert (
        "Item 2: Concern or disclosure Added Category Not in the version returned "
        "Concern or disclosure"
    ) in shown
    assert "Was item 2: Attendance Removed Category Attendance Taken out" in shown
    html = page.content.decode()
    assert '<th scope="col">Before (version 1, returned)</th>' in html
    assert '<tbody class="ss-change ss-change--removed">' in html
    # The return decision shown is logged as seen, like every record on the page.
    assert seen_by(lead, returned)


def test_a_first_submission_shows_no_return(clock, submitted, lead, client):
    assert "Returned for more information" not in page_text(review_page(client, lead, submitted))


def test_the_page_reads_a_bounded_number_of_queries_whatever_it_shows(
    clock, case, practitioner, colleague, deputy, lead, recipient, client
):
    def queries_for(n: int) -> int:
        share = steps.propose(
            case=case,
            user=practitioner,
            fields=complete_fields(recipient),
            items=[item(content=f"Item {i}.") for i in range(n)],
        )
        for i in range(n):
            asked = advice_ask(
                share=share, user=practitioner, adviser=colleague, question=f"Question {i}?"
            )
            advice_give(consultation=asked, user=colleague, advice=f"Advice {i}.")
        steps.submit(share=share, user=practitioner)
        steps.decide(share=share, user=lead, outcome=Outcome.RETURN, reasons=NOTE)
        steps.save_and_submit(
            share=share,
            user=practitioner,
            fields=complete_fields(recipient, purpose="Reworded."),
            items=[item(content=f"New item {i}.") for i in range(n)],
        )
        client.force_login(deputy)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url("lead_review", share.pk)).status_code == 200
        return len(queries)

    assert queries_for(1) == queries_for(4)


# ---------------------------------------------------------------- the decision form


def test_each_outcome_only_field_is_in_the_page_with_the_classes_the_css_uses(
    clock, submitted, lead, client
):
    html = review_page(client, lead, submitted).content.decode()

    assert re.search(r'<form [^>]*class="ss-form ss-card ss-decision"', html)
    wrappers = {
        "approved_items": "ss-for-outcome ss-for-approve_in_part",
        "refusal_reason": "ss-for-outcome ss-for-refuse",
        "conditions": "ss-for-outcome ss-for-approve ss-for-approve_in_part",
    }
    for name, classes in wrappers.items():
        assert re.search(
            rf'<div class="{classes}">\s*<div class="ss-field">.*?name="{name}"', html, re.S
        ), name
    # What every outcome needs is never hidden.
    for name in ("outcome", "reasons"):
        assert re.search(rf'<div class="ss-field">\s*\S.*?name="{name}"', html, re.S)
        assert not re.search(rf'ss-for-outcome">\s*<div class="ss-field">[^<]*<[^>]*{name}', html)


def test_the_stylesheet_shows_each_field_for_its_outcome_only_where_has_is_supported():
    css = (Path(__file__).parents[1] / "cases/static/safeshare/safeshare.css").read_text()
    rules = css[css.index("@supports selector(:has(*))") :]
    assert ".ss-decision .ss-for-outcome { display: none; }" in rules
    for outcome in ("approve", "approve_in_part", "refuse"):
        assert (
            f'.ss-decision:has(input[name="outcome"][value="{outcome}"]:checked) .ss-for-{outcome}'
        ) in rules


def test_after_an_error_the_chosen_outcome_stays_checked_and_its_field_shown(
    clock, submitted, lead, client
):
    page = review_page(client, lead, submitted)
    response = client.post(
        url("lead_review", submitted.pk),
        form_data(page, outcome=Outcome.REFUSE, reasons="Not proportionate."),
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'<input type="radio" name="outcome" value="refuse"[^>]*checked', html)
    assert "Choose the main reason for refusing." in page_text(response)
    assert not Decision.objects.filter(share=submitted).exists()


def test_a_refusal_reason_posted_with_an_approval_is_not_kept(clock, submitted, lead, client):
    page = review_page(client, lead, submitted)
    response = client.post(
        url("lead_review", submitted.pk),
        form_data(
            page,
            outcome=Outcome.APPROVE,
            refusal_reason=choices.RefusalReason.NOT_PROPORTIONATE,
            reasons="Necessary and proportionate.",
            conditions="Keep it to the social worker.",
        ),
    )

    assert response.status_code == 302
    decision = Decision.objects.get(share=submitted)
    assert decision.outcome == Outcome.APPROVE
    assert decision.refusal_reason == ""
    assert decision.conditions == "Keep it to the social worker."


def test_conditions_and_items_posted_with_a_refusal_are_not_kept_nor_checked(
    clock, case, practitioner, lead, recipient, client
):
    share = steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(recipient),
        items=[item(), item(content="Second item.")],
    )
    steps.submit(share=share, user=practitioner)
    page = review_page(client, lead, share)
    response = client.post(
        url("lead_review", share.pk),
        form_data(
            page,
            outcome=Outcome.REFUSE,
            refusal_reason=choices.RefusalReason.NOT_PROPORTIONATE,
            reasons="Not proportionate.",
            # Longer than conditions may be: hidden and unused, so no reason to refuse.
            conditions="x" * 2500,
            approved_items=[str(share.items.first().pk)],  # type: ignore[union-attr]
        ),
    )

    assert response.status_code == 302, page_text(response)
    decision = Decision.objects.get(share=share)
    assert decision.outcome == Outcome.REFUSE
    assert decision.conditions == ""
    assert not decision.approved_items.exists()


def test_items_ticked_then_approve_in_full_approves_every_item(
    clock, case, practitioner, lead, recipient, client
):
    share = steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(recipient),
        items=[item(), item(content="Second item.")],
    )
    steps.submit(share=share, user=practitioner)
    first = share.items.order_by("position").first()
    assert first is not None
    page = review_page(client, lead, share)
    response = client.post(
        url("lead_review", share.pk),
        form_data(
            page, outcome=Outcome.APPROVE, reasons="All of it.", approved_items=[str(first.pk)]
        ),
    )

    assert response.status_code == 302
    decision = Decision.objects.get(share=share)
    assert set(decision.approved_items.values_list("pk", flat=True)) == set(
        share.items.values_list("pk", flat=True)
    )


def test_the_reconsideration_form_carries_the_same_classes(clock, submitted, lead, deputy, client):
    steps.decide(
        share=submitted,
        user=lead,
        outcome=Outcome.REFUSE,
        refusal_reason=choices.RefusalReason.ALREADY_HELD,
        reasons="Social care already hold this.",
    )
    client.force_login(deputy)
    html = client.get(url("reconsider", submitted.pk)).content.decode()

    assert re.search(r'<form [^>]*class="ss-form ss-card ss-decision"', html)
    assert '<div class="ss-for-outcome ss-for-refuse">' in html
    assert '<div class="ss-for-outcome ss-for-approve_in_part">' in html
