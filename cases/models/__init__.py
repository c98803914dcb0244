from .children import Carer, Case, Child
from .closures import SettingClosure
from .deadlines import DEFAULT_POLICY, DeadlinePolicy, DeadlineRule
from .deliveries import ENDING_EVENTS, Delivery, DeliveryEvent, DeliveryEventKind
from .imports import RegisterImport, RegisterImportKind
from .openness import Consultation, FamilyFollowUp
from .organisations import ONE_PERSON_SETTING_KINDS, Membership, Organisation
from .records import ApprovedItem, Decision, ReconsiderationRequest, Release
from .shares import Recipient, Share, ShareItem
from .transfers import (
    AWAITING_ANSWER,
    FileRequest,
    FileRequestStatus,
    FileTransfer,
    TransferEvent,
    TransferEventKind,
    TransferStatus,
)
from .versions import ShareVersion

__all__ = [
    "ONE_PERSON_SETTING_KINDS",
    "DEFAULT_POLICY",
    "DeadlinePolicy",
    "DeadlineRule",
    "ApprovedItem",
    "Carer",
    "Case",
    "Child",
    "Consultation",
    "Decision",
    "Delivery",
    "DeliveryEvent",
    "DeliveryEventKind",
    "ENDING_EVENTS",
    "FamilyFollowUp",
    "Membership",
    "Organisation",
    "Recipient",
    "ReconsiderationRequest",
    "SettingClosure",
    "RegisterImport",
    "RegisterImportKind",
    "Release",
    "Share",
    "ShareItem",
    "ShareVersion",
    "AWAITING_ANSWER",
    "FileRequest",
    "FileRequestStatus",
    "FileTransfer",
    "TransferEvent",
    "TransferEventKind",
    "TransferStatus",
]
