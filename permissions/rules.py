"""Who may act on a record. Services ask these before they write; views never decide."""

from __future__ import annotations

from cases.choices import Role, ShareStatus
from cases.models import Case, Share

from .roles import UserLike, is_decider_in, role_in
from .selectors import case_list_for


def can_propose_share(user: UserLike, case: Case) -> bool:
    """Practitioners on the case team, and the setting's leads, may propose a share."""
    if not case.is_open:
        return False
    if is_decider_in(user, case.organisation):
        return True
    on_team = case_list_for(user).filter(pk=case.pk).exists()
    return role_in(user, case.organisation) == Role.PRACTITIONER and on_team


def can_edit_draft(user: UserLike, share: Share) -> bool:
    return share.proposed_by_id == user.pk and role_in(user, share.organisation) is not None


def can_decide(user: UserLike, share: Share) -> bool:
    """Leads and deputies decide (a childminder is the lead of their own setting)."""
    return is_decider_in(user, share.organisation)


def can_record_release(user: UserLike, share: Share) -> bool:
    return can_edit_draft(user, share) or is_decider_in(user, share.organisation)


def share_actions(user: UserLike, share: Share) -> set[str]:
    """What the user may do next with this share, for the buttons on its page."""
    actions: set[str] = set()
    if share.status == ShareStatus.DRAFT and can_edit_draft(user, share):
        actions |= {"edit", "withdraw"}
    if share.status == ShareStatus.AWAITING_REVIEW and can_decide(user, share):
        actions.add("decide")
    if share.status in (
        ShareStatus.APPROVED,
        ShareStatus.APPROVED_IN_PART,
    ) and can_record_release(user, share):
        actions.add("release")
    return actions
