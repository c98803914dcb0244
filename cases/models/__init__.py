from .children import Carer, Case, Child
from .deadlines import DEFAULT_POLICY, DeadlinePolicy, DeadlineRule
from .organisations import Membership, Organisation
from .records import ApprovedItem, Decision, Release
from .shares import Recipient, Share, ShareItem

__all__ = [
    "DEFAULT_POLICY",
    "DeadlinePolicy",
    "DeadlineRule",
    "ApprovedItem",
    "Carer",
    "Case",
    "Child",
    "Decision",
    "Membership",
    "Organisation",
    "Recipient",
    "Release",
    "Share",
    "ShareItem",
]
