"""Every write to the domain goes through these functions, which enforce the rules."""

from .decisions import decision_record
from .errors import RuleViolation
from .releases import release_record
from .shares import share_propose, share_submit, share_update_draft, share_withdraw

__all__ = [
    "RuleViolation",
    "decision_record",
    "release_record",
    "share_propose",
    "share_submit",
    "share_update_draft",
    "share_withdraw",
]
