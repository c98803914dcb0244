"""Every write to the domain goes through these functions, which enforce the rules."""

from ..errors import RuleViolation
from .address_book import recipient_add, recipient_retire, recipient_update
from .advice import advice_ask, advice_give, advice_preview
from .children import case_open, child_add, child_update
from .closures import closure_add, closure_remove
from .deadlines import deadline_policies_set, deadline_policy_set, deadline_policy_version
from .decisions import decision_reconsider, decision_record, reconsideration_ask
from .deliveries import (
    delivery_acknowledge,
    delivery_resend,
    delivery_revoke,
    delivery_seen,
    delivery_send,
    delivery_unlock,
)
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
from .setting import setting_create, setting_update
from .shares import share_propose, share_submit, share_update_draft, share_withdraw
from .staff import staff_invitation_renewed, staff_invite

__all__ = [
    "RuleViolation",
    "advice_ask",
    "advice_give",
    "advice_preview",
    "case_close",
    "case_open",
    "child_add",
    "child_update",
    "closure_add",
    "closure_remove",
    "case_team_add",
    "case_team_remove",
    "deadline_policies_set",
    "deadline_policy_set",
    "deadline_policy_version",
    "delivery_acknowledge",
    "delivery_resend",
    "delivery_revoke",
    "delivery_seen",
    "delivery_send",
    "delivery_unlock",
    "membership_change_role",
    "membership_end",
    "membership_start",
    "decision_reconsider",
    "decision_record",
    "family_told_record",
    "reconsideration_ask",
    "recipient_add",
    "recipient_retire",
    "recipient_update",
    "release_in_emergency",
    "release_record",
    "setting_create",
    "setting_update",
    "share_propose",
    "share_submit",
    "share_update_draft",
    "share_withdraw",
    "staff_invitation_renewed",
    "staff_invite",
]
