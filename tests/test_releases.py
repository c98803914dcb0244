"""Recording a release: only of an approved share, at a real time, with third parties handled."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import choices, redaction
from cases.models import Case, Recipient, Release, Share
from cases.services import RuleViolation
from workflows import steps
from workflows.flows import ShareFlow

from .factories import complete_fields, item

C = choices
Outcome = C.Outcome
DECIDED_AT = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)

WITNESS = "Reported by Mrs Jones at number 4, who saw the bruise."
WHO_IT_IDENTIFIES = "Mrs Jones; number 4"
REDACTED = "Reported by [a neighbour], who saw the bruise."


def violation(action: Callable[[], Any]) -> dict[str, list[str]]:
    with pytest.raises(RuleViolation) as caught:
        action()
    return caught.value.message_dict


def assert_not_released(share: Share, status: str = C.ShareStatus.APPROVED) -> None:
    share.refresh_from_db()
    assert share.status == status
    assert not Release.objects.filter(share=share).exists()


def submit(case: Case, user: Any, recipient: Recipient, items: list[dict[str, Any]]) -> Share:
    share = steps.propose(case=case, user=user, fields=complete_fields(recipient), items=items)
    return steps.submit(share=share, user=user)


@pytest.fixture
def traveller():
    with time_machine.travel(DECIDED_AT, tick=False) as traveller:
        yield traveller


@pytest.fixture
def approved_at_ten(traveller, approved: Share) -> Share:
    """The standard approved share, decided at exactly DECIDED_AT; the clock then moves on."""
    traveller.shift(timedelta(hours=1))
    return approved


@pytest.fixture
def with_third_party(case: Case, practitioner: Any, recipient: Recipient, lead: Any) -> Share:
    """Approved: an ordinary item, then one naming a witness."""
    share = submit(
        case,
        practitioner,
        recipient,
        [
            item(),
            item(
                category=C.ItemCategory.CONCERN,
                content=WITNESS,
                identifies_third_party=True,
                third_party_details=WHO_IT_IDENTIFIES,
            ),
        ],
    )
    steps.decide(share=share, user=lead, outcome=Outcome.APPROVE, reasons="Necessary.")
    return share


def third_party_item(share: Share) -> Any:
    return share.items.get(identifies_third_party=True)


# ---------------------------------------------------------------- only approved shares


def test_a_share_awaiting_review_cannot_be_released(submitted, practitioner):
    errors = violation(
        lambda: steps.record_release(share=submitted, user=practitioner, sent_at=timezone.now())
    )

    assert "__all__" in errors
    assert "only an approved share" in " ".join(errors["__all__"])
    assert_not_released(submitted, C.ShareStatus.AWAITING_REVIEW)


def test_a_draft_cannot_be_released(draft, practitioner):
    errors = violation(
        lambda: steps.record_release(share=draft, user=practitioner, sent_at=timezone.now())
    )

    assert "__all__" in errors
    assert_not_released(draft, C.ShareStatus.DRAFT)


def test_a_refused_share_cannot_be_released(submitted, lead, practitioner):
    steps.decide(
        share=submitted,
        user=lead,
        outcome=Outcome.REFUSE,
        refusal_reason=C.RefusalReason.NOT_NECESSARY,
        reasons="Not needed.",
    )

    errors = violation(
        lambda: steps.record_release(share=submitted, user=practitioner, sent_at=timezone.now())
    )

    assert "__all__" in errors
    assert_not_released(submitted, C.ShareStatus.REFUSED)


def test_a_share_can_be_released_only_once(approved, practitioner, lead):
    first = steps.record_release(share=approved, user=practitioner, sent_at=timezone.now())

    errors = violation(
        lambda: steps.record_release(share=approved, user=lead, sent_at=timezone.now())
    )

    assert "__all__" in errors
    assert list(Release.objects.filter(share=approved)) == [first]


# ---------------------------------------------------------------- when it was sent


def test_the_time_sent_is_required(approved, practitioner):
    errors = violation(
        lambda: steps.record_release(share=approved, user=practitioner, sent_at=None)
    )

    assert "sent_at" in errors
    assert_not_released(approved)


def test_the_time_sent_cannot_be_in_the_future(approved_at_ten, practitioner):
    errors = violation(
        lambda: steps.record_release(
            share=approved_at_ten,
            user=practitioner,
            sent_at=timezone.now() + timedelta(minutes=1),
        )
    )

    assert "sent_at" in errors
    assert "future" in " ".join(errors["sent_at"])
    assert_not_released(approved_at_ten)


def test_the_time_sent_cannot_be_before_the_decision(approved_at_ten, practitioner):
    errors = violation(
        lambda: steps.record_release(
            share=approved_at_ten,
            user=practitioner,
            sent_at=DECIDED_AT - timedelta(seconds=1),
        )
    )

    assert "sent_at" in errors
    assert "before" in " ".join(errors["sent_at"])
    assert_not_released(approved_at_ten)


@pytest.mark.parametrize(
    "sent_at",
    [DECIDED_AT, DECIDED_AT + timedelta(minutes=30), DECIDED_AT + timedelta(hours=1)],
    ids=["at-the-decision", "between", "just-now"],
)
def test_a_time_sent_between_the_decision_and_now_is_accepted(
    approved_at_ten, practitioner, sent_at
):
    release = steps.record_release(share=approved_at_ten, user=practitioner, sent_at=sent_at)

    release.refresh_from_db()
    assert release.sent_at == sent_at
    assert release.recorded_at == DECIDED_AT + timedelta(hours=1)


# ---------------------------------------------------------------- third parties


def test_an_item_naming_a_third_party_must_be_handled_before_release(with_third_party, lead):
    errors = violation(
        lambda: steps.record_release(share=with_third_party, user=lead, sent_at=timezone.now())
    )

    assert "items.1.third_party_handling" in errors
    assert "items.0.third_party_handling" not in errors
    assert_not_released(with_third_party)


def test_an_unresolved_handling_choice_is_not_enough(with_third_party, lead):
    flagged = third_party_item(with_third_party)

    errors = violation(
        lambda: steps.record_release(
            share=with_third_party,
            user=lead,
            sent_at=timezone.now(),
            third_party_handling={flagged.pk: (C.ThirdPartyHandling.UNRESOLVED, "")},
        )
    )

    assert "items.1.third_party_handling" in errors
    assert_not_released(with_third_party)


def test_an_unknown_handling_choice_is_refused(with_third_party, lead):
    flagged = third_party_item(with_third_party)

    errors = violation(
        lambda: steps.record_release(
            share=with_third_party,
            user=lead,
            sent_at=timezone.now(),
            third_party_handling={flagged.pk: ("ignore", "")},
        )
    )

    assert "__all__" in errors
    assert_not_released(with_third_party)


@pytest.mark.parametrize("text", ["", "   "])
def test_a_redaction_needs_the_redacted_text(with_third_party, lead, text):
    flagged = third_party_item(with_third_party)

    errors = violation(
        lambda: steps.record_release(
            share=with_third_party,
            user=lead,
            sent_at=timezone.now(),
            third_party_handling={flagged.pk: (C.ThirdPartyHandling.REDACTED, text)},
        )
    )

    assert "items.1.redacted_content" in errors
    assert_not_released(with_third_party)
    flagged.refresh_from_db()
    assert flagged.third_party_handling == C.ThirdPartyHandling.UNRESOLVED
    assert flagged.redacted_content == ""


def test_an_oversized_redaction_is_refused(with_third_party, lead):
    flagged = third_party_item(with_third_party)

    errors = violation(
        lambda: steps.record_release(
            share=with_third_party,
            user=lead,
            sent_at=timezone.now(),
            third_party_handling={flagged.pk: (C.ThirdPartyHandling.REDACTED, "r" * 8001)},
        )
    )

    assert "items.1.redacted_content" in errors
    assert_not_released(with_third_party)


def test_the_redacted_text_is_what_is_frozen_in_the_release(with_third_party, lead):
    flagged = third_party_item(with_third_party)

    release = steps.record_release(
        share=with_third_party,
        user=lead,
        sent_at=timezone.now(),
        third_party_handling={flagged.pk: (C.ThirdPartyHandling.REDACTED, f"  {REDACTED}  ")},
    )

    release.refresh_from_db()
    entry = next(e for e in release.content if e["item"] == flagged.pk)
    assert entry["text"] == REDACTED
    assert entry["redacted"] is True
    assert WITNESS not in str(release.content)
    flagged.refresh_from_db()
    assert flagged.third_party_handling == C.ThirdPartyHandling.REDACTED
    assert flagged.redacted_content == REDACTED


def test_a_confirmed_item_is_sent_as_written(with_third_party, lead):
    flagged = third_party_item(with_third_party)

    release = steps.record_release(
        share=with_third_party,
        user=lead,
        sent_at=timezone.now(),
        third_party_handling={flagged.pk: (C.ThirdPartyHandling.CONFIRMED, "ignored text")},
    )

    entry = next(e for e in release.content if e["item"] == flagged.pk)
    assert entry["text"] == WITNESS
    assert entry["redacted"] is False
    flagged.refresh_from_db()
    assert flagged.third_party_handling == C.ThirdPartyHandling.CONFIRMED
    assert flagged.redacted_content == ""


def test_the_frozen_release_does_not_follow_later_changes_to_the_item(with_third_party, lead):
    flagged = third_party_item(with_third_party)
    release = steps.record_release(
        share=with_third_party,
        user=lead,
        sent_at=timezone.now(),
        third_party_handling={flagged.pk: (C.ThirdPartyHandling.REDACTED, REDACTED)},
    )

    flagged.redacted_content = "Something else entirely."
    flagged.save()

    release.refresh_from_db()
    assert next(e for e in release.content if e["item"] == flagged.pk)["text"] == REDACTED


def test_a_third_party_item_left_out_of_a_part_approval_needs_no_handling(
    case, practitioner, recipient, lead
):
    share = submit(
        case,
        practitioner,
        recipient,
        [
            item(),
            item(
                content=WITNESS, identifies_third_party=True, third_party_details=WHO_IT_IDENTIFIES
            ),
        ],
    )
    plain = share.items.get(identifies_third_party=False)
    steps.decide(
        share=share,
        user=lead,
        outcome=Outcome.APPROVE_IN_PART,
        reasons="The witness account is not needed.",
        approved_item_ids=[plain.pk],
    )

    release = steps.record_release(share=share, user=practitioner, sent_at=timezone.now())

    assert [entry["item"] for entry in release.content] == [plain.pk]
    assert WITNESS not in str(release.content)


# ------------------------------------------------- a redaction must take the person out


def redact(share: Share, user: Any, text: str) -> Release:
    return steps.record_release(
        share=share,
        user=user,
        sent_at=timezone.now(),
        third_party_handling={third_party_item(share).pk: (C.ThirdPartyHandling.REDACTED, text)},
    )


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(WITNESS, id="as-written"),
        pytest.param(f"\n  {WITNESS.upper()}  ", id="other-case-and-spacing"),
        pytest.param(WITNESS.replace(" at ", "   at\n"), id="other-line-breaks"),
    ],
)
def test_the_original_text_is_not_a_redaction(with_third_party, lead, text):
    errors = violation(lambda: redact(with_third_party, lead, text))

    assert errors == {
        "items.1.redacted_content": [
            "This is the original text: take out what identifies someone else, or confirm "
            "it must be sent as written."
        ]
    }
    assert_not_released(with_third_party)
    flagged = third_party_item(with_third_party)
    assert (flagged.third_party_handling, flagged.redacted_content) == ("", "")


@pytest.mark.parametrize(
    ("text", "left"),
    [
        pytest.param("Reported by a neighbour (Jones), who saw it.", "“Jones”", id="surname"),
        pytest.param("Reported by MRS JONES, who saw it.", "“Mrs Jones”", id="whole-name"),
        pytest.param("Reported by a neighbour at number 4.", "“number 4”", id="address"),
    ],
)
def test_a_redaction_still_holding_a_flagged_detail_is_refused(with_third_party, lead, text, left):
    errors = violation(lambda: redact(with_third_party, lead, text))

    assert list(errors) == ["items.1.redacted_content"]
    assert f"still contains {left}" in errors["items.1.redacted_content"][0]
    assert_not_released(with_third_party)


def test_a_redaction_keeping_only_common_words_is_released_and_marked_redacted(
    with_third_party, lead
):
    # "number" and "the" are common words: they identify nobody.
    text = "Reported by [a neighbour] at number, who saw the bruise."
    release = redact(with_third_party, lead, text)

    entry = next(e for e in release.content if e["item"] == third_party_item(with_third_party).pk)
    assert (entry["text"], entry["redacted"]) == (text, True)


@pytest.mark.parametrize(
    ("text", "details", "left"),
    [
        pytest.param("Seen by Rowe.", "Jo Rowe", ["Rowe"], id="either-significant-word"),
        pytest.param("Seen by JO ROWE.", "Jo Rowe", ["Jo Rowe"], id="the-whole-detail"),
        pytest.param("Seen by Rowena.", "Jo Rowe", [], id="whole-words-only"),
        pytest.param("Seen by Jo.", "Jo Rowe", [], id="short-words-alone-pass"),
        pytest.param(
            "A neighbour on the road.", "Jo Rowe, neighbour at 4 Elm Road", [], id="common"
        ),
        pytest.param(
            "Call 07700 about Elm.",
            "Jo Rowe; 07700 900123\n4 Elm Road",
            ["07700", "Elm"],
            id="each-detail-on-its-own",
        ),
    ],
)
def test_what_counts_as_a_flagged_detail_left_in(text, details, left):
    assert redaction.details_left_in(text, details) == left


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "A child saw the bruise. Also: the mother uses cocaine.",
            "adds words that are not in the text approved (“A”, “child”, “Also”",
            id="added-content",
        ),
        pytest.param(
            "Reported by [a neighbour who also says the mother drinks every night], who saw "
            "the bruise.",
            "Keep each replacement in square brackets to 40 characters or fewer",
            id="a-replacement-that-says-more",
        ),
        pytest.param(
            "Reported by one of the Joneses, who saw the bruise.",
            "still contains “Jones”",
            id="the-surname-in-the-plural",
        ),
    ],
)
def test_a_redaction_only_takes_out(with_third_party, lead, text, message):
    """What leaves as "redacted" is the approved text less what identifies someone else:
    nothing added, replacements only as short labels in brackets."""
    errors = violation(lambda: redact(with_third_party, lead, text))

    assert list(errors) == ["items.1.redacted_content"]
    assert message in errors["items.1.redacted_content"][0]
    assert_not_released(with_third_party)


@pytest.mark.parametrize(
    ("redacted", "added"),
    [
        ("Reported by [name removed], who saw the bruise.", []),
        ("Reported by, who saw.", []),
        ("who Reported", ["Reported"]),
        ("Reported by a child", ["a", "child"]),
    ],
)
def test_what_counts_as_a_word_added(redacted, added):
    assert redaction.words_added(redacted, WITNESS) == added


def test_the_same_refusal_holds_on_the_emergency_path(case, practitioner, recipient):
    share = steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(recipient, urgency=C.Urgency.IMMEDIATE),
        items=[item(content=WITNESS, identifies_third_party=True, third_party_details="Mrs Jones")],
    )
    errors = violation(
        lambda: steps.release_in_emergency(
            share=share,
            user=practitioner,
            justification="Threat made tonight; lead and deputy unreachable.",
            sent_at=timezone.now(),
            third_party_handling={
                third_party_item(share).pk: (C.ThirdPartyHandling.REDACTED, WITNESS.lower())
            },
        )
    )
    assert "This is the original text" in errors["items.0.redacted_content"][0]
    assert_not_released(share, C.ShareStatus.DRAFT)


def test_a_flagged_item_must_say_who_it_identifies_before_submission(case, practitioner, recipient):
    share = steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(recipient),
        items=[item(), item(content=WITNESS, identifies_third_party=True)],
    )
    errors = violation(lambda: steps.submit(share=share, user=practitioner))

    assert list(errors) == ["items.1.third_party_details"]
    share.refresh_from_db()
    assert share.status == C.ShareStatus.DRAFT


def test_who_it_identifies_is_frozen_with_the_version_submitted(with_third_party):
    version = with_third_party.versions.get()
    assert [i["third_party_details"] for i in version.content["items"]] == ["", WHO_IT_IDENTIFIES]


# ---------------------------------------------------------------- who records it


@pytest.mark.parametrize("persona", ["practitioner", "lead", "deputy"])
def test_the_proposer_or_a_lead_may_record_the_release(request, approved, persona):
    user = request.getfixturevalue(persona)

    release = steps.record_release(share=approved, user=user, sent_at=timezone.now())

    assert release.released_by == user
    approved.refresh_from_db()
    assert approved.status == C.ShareStatus.RELEASED


@pytest.mark.parametrize("persona", ["colleague", "manager", "auditor", "other_lead"])
def test_nobody_else_may_record_the_release(request, approved, persona):
    user = request.getfixturevalue(persona)

    errors = violation(
        lambda: steps.record_release(share=approved, user=user, sent_at=timezone.now())
    )

    assert "__all__" in errors
    assert_not_released(approved)
    task = Task.objects.get(process=approved.process, flow_task=ShareFlow.record_release)
    assert task.status == STATUS.ASSIGNED
    assert task.finished is None


# ---------------------------------------------------------------- what is kept


def test_a_release_freezes_who_how_what_and_why(approved_at_ten, practitioner, recipient):
    sent_at = DECIDED_AT + timedelta(minutes=20)

    release = steps.record_release(
        share=approved_at_ten, user=practitioner, sent_at=sent_at, note="  Phoned first.  "
    )

    release.refresh_from_db()
    approved_at_ten.refresh_from_db()
    assert approved_at_ten.status == C.ShareStatus.RELEASED
    assert release.share == approved_at_ten
    assert release.decision == approved_at_ten.decisions.get()
    assert release.recipient_name == recipient.person_name
    assert release.recipient_role == recipient.role
    assert release.recipient_agency == recipient.agency_name
    assert release.sending_method == C.SendingMethod.SECURE_EMAIL
    assert release.purpose == "Refer a concern to children's social care."
    assert release.sent_at == sent_at
    assert release.released_by == practitioner
    assert release.note == "Phoned first."
    assert release.content == [
        {
            "item": approved_at_ten.items.get().pk,
            "category": "Observation",
            "text": "Bruise on the left forearm seen at drop-off.",
            "redacted": False,
        }
    ]


def test_an_oversized_note_is_refused(approved, practitioner):
    errors = violation(
        lambda: steps.record_release(
            share=approved, user=practitioner, sent_at=timezone.now(), note="n" * 2001
        )
    )

    assert "note" in errors
    assert_not_released(approved)
