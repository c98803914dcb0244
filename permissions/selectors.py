"""Querysets already narrowed to what a person may see. Every list in the product uses these.

Need to know: a practitioner sees a child only while on the case team; leads and deputies
see every case of their setting; nobody sees another setting. Managers and auditors see
no case content here.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q, QuerySet, Value, When

from cases.choices import DECIDING_ROLES, Role, ShareStatus, Urgency
from cases.models import Case, Recipient, Share

from .roles import UserLike, organisations_where

# The most urgent first, then the longest waiting.
_URGENCY_RANK = models.Case(
    *(When(urgency=urgency, then=Value(rank)) for rank, urgency in enumerate(Urgency.values)),
    default=Value(len(Urgency.values)),
)


def _case_visibility(user: UserLike, prefix: str = "") -> Q:
    deciding = organisations_where(user, DECIDING_ROLES)
    practising = organisations_where(user, {Role.PRACTITIONER})
    return Q(**{f"{prefix}organisation_id__in": deciding}) | Q(
        **{f"{prefix}team": user, f"{prefix}organisation_id__in": practising}
    )


def case_list_for(user: UserLike) -> QuerySet[Case]:
    if not user.is_authenticated:
        return Case.objects.none()
    return (
        Case.objects.filter(_case_visibility(user))
        .distinct()
        .select_related("child", "organisation")
    )


def share_list_for(user: UserLike) -> QuerySet[Share]:
    """Shares of the cases the user may see, and shares they proposed while still a member."""
    if not user.is_authenticated:
        return Share.objects.none()
    visible_cases = case_list_for(user).values("pk")
    still_practising = organisations_where(user, {Role.PRACTITIONER})
    own = Q(proposed_by=user, case__organisation_id__in=still_practising)
    return Share.objects.filter(Q(case_id__in=visible_cases) | own).select_related(
        "case__child", "case__organisation", "proposed_by", "recipient"
    )


def review_queue_for(user: UserLike) -> QuerySet[Share]:
    """Shares awaiting review in the settings where the user is lead or deputy."""
    if not user.is_authenticated:
        return Share.objects.none()
    return (
        Share.objects.filter(
            status=ShareStatus.AWAITING_REVIEW,
            case__organisation_id__in=organisations_where(user, DECIDING_ROLES),
        )
        .select_related("case__child", "case__organisation", "proposed_by")
        .alias(urgency_rank=_URGENCY_RANK)
        .order_by("urgency_rank", "submitted_at")
    )


def recipient_choices_for(user: UserLike, case: Case) -> QuerySet[Recipient]:
    """Recipients in the address book of the case's own setting."""
    return Recipient.objects.filter(organisation_id=case.organisation_id)
