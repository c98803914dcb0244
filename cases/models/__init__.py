from .children import Carer, Case, Child
from .organisations import Membership, Organisation
from .records import ApprovedItem, Decision, Release
from .shares import Recipient, Share, ShareItem

__all__ = [
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
