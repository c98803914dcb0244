"""Every write to the domain goes through these functions, which enforce the rules."""

from ..errors import RuleViolation
from .advice import advice_ask, advice_give, advice_preview
from .deadlines import deadline_policies_set, deadline_policy_set, deadline_policy_version
from .decisions import decision_reconsider, decision_record, reconsideration_ask
from .memberships import (
    case_close,
    case_team_add,
    case_team_remove,
    membership_change_role,
    membership_end,
    membership_start,
)
from .openness import family_told_record
from .releases import release_in_emergency, release_record
from .shares import share_propose, share_submit, share_update_draft, share_withdraw

__all__ = [
    "RuleViolation",
    "advice_ask",
    "advice_give",
    "advice_preview",
    "case_close",
    "case_team_add",
    "case_team_remove",
    "deadline_policies_set",
    "deadline_policy_set",
    "deadline_policy_version",
    "membership_change_role",
    "membership_end",
    "membership_start",
    "decision_reconsider",
    "decision_record",
    "family_told_record",
    "reconsideration_ask",
    "release_in_emergency",
    "release_record",
    "share_propose",
    "share_submit",
    "share_update_draft",
    "share_withdraw",
]
