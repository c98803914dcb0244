"""Golden rule 3: seek advice without naming the child."""

from __future__ import annotations

from django.utils import timezone

from cases.people import Person
from permissions.audit import record_event
from permissions.models import AuditAction
from permissions.roles import role_in
from permissions.rules import can_ask_advice, can_be_adviser, can_give_advice

from ..choices import AdviserCapacity, Role
from ..deidentify import deidentified_question, deidentified_text
from ..errors import raise_if, refuse
from ..models import Consultation, Share
from ..transactions import atomic_change
from .shares import locked

_CAPACITY: dict[str, str] = {
    Role.LEAD: AdviserCapacity.LEAD,
    Role.DEPUTY: AdviserCapacity.LEAD,
    Role.AUDITOR: AdviserCapacity.DATA_PROTECTION_OFFICER,
}


QUESTION_LIMIT = 4000
ADVICE_LIMIT = 8000
_NO_QUESTION = "Write the question you want advice on."


def _text_errors(field: str, text: str, limit: int, missing: str) -> dict[str, list[str]]:
    if not text:
        return {field: [missing]}
    if len(text) > limit:
        return {field: [f"Keep this to {limit} characters or fewer (it has {len(text)})."]}
    return {}


def advice_preview(*, share: Share, question: str) -> str:
    """The question as the adviser would get it. Its length is checked before any scrubbing,
    so an oversized question costs nothing but this refusal."""
    question = (question or "").strip()
    raise_if(_text_errors("question", question, QUESTION_LIMIT, _NO_QUESTION))
    return deidentified_question(share, question)


@atomic_change()
def advice_ask(
    *, share: Share, user: Person, adviser: Person | None, question: str
) -> Consultation:
    """Ask a colleague, the lead or the data protection officer; they see no identity.

    The question is scrubbed too: a practitioner writing the child's name in it by habit
    must not undo the de-identification.
    """
    share = locked(share)
    if not can_ask_advice(user, share):
        raise refuse(
            "__all__", "Advice can be asked only by the proposer, while the share is a draft."
        )
    question = (question or "").strip()
    errors = _text_errors("question", question, QUESTION_LIMIT, _NO_QUESTION)
    if adviser is None or not can_be_adviser(adviser, share):
        errors["adviser"] = ["Choose someone of this setting, other than yourself, to ask."]
    raise_if(errors)
    assert adviser is not None  # refused above otherwise
    role = role_in(adviser, share.organisation) or ""
    consultation = Consultation.objects.create(
        share=share,
        asked_by=user,
        adviser=adviser,
        adviser_capacity=_CAPACITY.get(role, AdviserCapacity.COLLEAGUE),
        question=deidentified_question(share, question),
        shared_text=deidentified_text(share),
    )
    record_event(
        AuditAction.ADVICE_ASKED, consultation, actor=user, detail=f"adviser #{adviser.pk}"
    )
    return consultation


@atomic_change()
def advice_give(*, consultation: Consultation, user: Person, advice: str) -> Consultation:
    """The adviser's answer, kept with the share; it is given once and not changed after."""
    consultation = Consultation.objects.select_for_update(no_key=True).get(pk=consultation.pk)
    if not can_give_advice(user, consultation):
        raise refuse("__all__", "Only the person asked can answer this.")
    if consultation.is_answered:
        raise refuse("__all__", "This has been answered already; the answer stands as given.")
    advice = (advice or "").strip()
    raise_if(_text_errors("advice", advice, ADVICE_LIMIT, "Write your advice."))
    consultation.advice = advice
    consultation.answered_at = timezone.now()
    consultation.save(update_fields=["advice", "answered_at"])
    record_event(AuditAction.ADVICE_GIVEN, consultation, actor=user)
    return consultation
