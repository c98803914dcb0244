"""Object permissions, break-glass grants and the product's one audit log."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from guardian.models import UserObjectPermissionBase

from cases.models import Case, Organisation, Share
from cases.models.immutable import AppendOnlyModel


# Direct foreign-key permission tables: guardian's generic tables compare pk::varchar and
# cannot use the target's index, and cases are numerous.
class CaseUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Case, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        abstract = False


class OrganisationUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Organisation, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        abstract = False


class BreakGlassGrantQuerySet(models.QuerySet):
    def active(self) -> BreakGlassGrantQuerySet:
        return self.filter(expires_at__gt=timezone.now(), ended_at__isnull=True)


class BreakGlassGrant(models.Model):
    """Time-limited access to a case by someone of the setting not on its team, with a reason."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="break_glass_grants"
    )
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="break_glass_grants")
    reason = models.TextField(max_length=2000)
    granted_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    # Set when the lead ends it early; expiry needs nothing to run.
    ended_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    objects = BreakGlassGrantQuerySet.as_manager()

    class Meta:
        ordering = ["-granted_at"]
        indexes = [models.Index(fields=["user", "expires_at"])]

    def __str__(self) -> str:
        return f"Break-glass access to {self.case.reference} by {self.user}"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None and self.expires_at > timezone.now()


class AuditAction(models.TextChoices):
    VIEW_CASE = "view_case", "Viewed a case"
    VIEW_SHARE = "view_share", "Viewed a share"
    VIEW_DECISION = "view_decision", "Viewed a decision"
    VIEW_RELEASE = "view_release", "Viewed a release"
    VIEW_CONSULTATION = "view_consultation", "Viewed a request for advice"
    VIEW_CHILD = "view_child", "Viewed a child's record on the roll"
    GRANT = "grant", "Access granted"
    REVOKE = "revoke", "Access revoked"
    BREAK_GLASS = "break_glass", "Break-glass access taken"
    SHARE_CREATED = "share_created", "Share proposed"
    SHARE_EDITED = "share_edited", "Draft changed"
    SHARE_SUBMITTED = "share_submitted", "Share submitted for lead review"
    SHARE_DECIDED = "share_decided", "Decision recorded"
    SHARE_RECONSIDERED = "share_reconsidered", "Decision reconsidered"
    RECONSIDERATION_REQUESTED = "reconsideration_requested", "Reconsideration asked for"
    SHARE_RETURNED = "share_returned", "Share returned for more information"
    SHARE_RELEASED = "share_released", "Release recorded"
    SHARE_WITHDRAWN = "share_withdrawn", "Share withdrawn"
    # A release sent by secure link, and what its recipient (outside Safeshare) did with it.
    DELIVERY_SENT = "delivery_sent", "Sent by secure link"
    DELIVERY_OPENED = "delivery_opened", "Secure link opened with its code"
    DELIVERY_VIEWED = "delivery_viewed", "Secure link viewed"
    DELIVERY_DOWNLOADED = "delivery_downloaded", "Secure link downloaded as a PDF"
    DELIVERY_ACKNOWLEDGED = "delivery_acknowledged", "Receipt acknowledged"
    DELIVERY_WRONG_CODE = "delivery_wrong_code", "Wrong code for a secure link"
    DELIVERY_LOCKED = "delivery_locked", "Secure link locked after wrong codes"
    DELIVERY_REVOKED = "delivery_revoked", "Secure link revoked"
    # A child protection file moving to another setting, and its answer.
    FILE_SENT = "file_sent", "Child protection file sent"
    FILE_VIEWED = "file_viewed", "Child protection file opened"
    FILE_ACCEPTED = "file_accepted", "Child protection file accepted"
    FILE_REJECTED = "file_rejected", "Child protection file rejected"
    FILE_WITHDRAWN = "file_withdrawn", "Child protection file withdrawn by its sender"
    FILE_REQUESTED = "file_requested", "Child protection file asked for"
    FILE_REQUEST_DECLINED = "file_request_declined", "Request for a child's file declined"
    ESCALATION = "escalation", "Review escalated"
    ADVICE_ASKED = "advice_asked", "Advice asked without identity"
    ADVICE_GIVEN = "advice_given", "Advice given"
    FAMILY_INFORMED = "family_informed", "Family told"
    DEADLINES_CHANGED = "deadlines_changed", "Setting's review deadlines changed"
    # Signing in and out. An entry names the account, never the password or code typed.
    SIGNED_IN = "signed_in", "Signed in"
    SIGN_IN_FAILED = "sign_in_failed", "Sign-in failed"
    LOCKED_OUT = "locked_out", "Sign-in paused after failed attempts"
    SIGNED_OUT = "signed_out", "Signed out"
    SECOND_FACTOR_SET_UP = "second_factor_set_up", "Second factor set up"
    SECOND_FACTOR_RESET = "second_factor_reset", "Second factor reset"
    RECOVERY_CODES_ISSUED = "recovery_codes_issued", "New recovery codes issued"
    PASSWORD_RESET_ASKED = "password_reset_asked", "Password reset link asked for"
    PASSWORD_CHANGED = "password_changed", "Password changed"
    SIGN_IN_POLICY_CHANGED = "sign_in_policy_changed", "Setting's sign-in rules changed"
    PAUSE_LIFTED = "pause_lifted", "Sign-in pause lifted"
    # The setting's own details and register, as its lead or deputy keeps them.
    SETTING_CREATED = "setting_created", "Setting created"
    SETTING_CHANGED = "setting_changed", "Setting's details changed"
    CLOSURE_ADDED = "closure_added", "Term dates: closure added"
    CLOSURE_REMOVED = "closure_removed", "Term dates: closure removed"
    STAFF_INVITED = "staff_invited", "Staff member invited"
    ROLE_CHANGED = "role_changed", "Staff role changed"
    MEMBERSHIP_ENDED = "membership_ended", "Staff membership ended"
    CHILD_ADDED = "child_added", "Child added"
    CHILD_CHANGED = "child_changed", "Child's details changed"
    CASE_OPENED = "case_opened", "Case opened"
    CASE_CLOSED = "case_closed", "Case closed"
    RECIPIENT_ADDED = "recipient_added", "Recipient added to the address book"
    RECIPIENT_CHANGED = "recipient_changed", "Recipient's details changed"
    RECIPIENT_RETIRED = "recipient_retired", "Recipient retired from the address book"
    REGISTER_IMPORTED = "register_imported", "Children or staff imported"
    SEARCHED = "searched", "Searched"
    # The installation chain's own bookkeeping (no setting's log shows it): a setting's chain
    # began, and every chain's head as it stood (``permissions.audit_chain``).
    CHAIN_STARTED = "chain_started", "A setting's audit chain started"
    CHAIN_HEADS = "chain_heads", "Every audit chain's head recorded"


# Signing in and out, and changes to how someone signs in: the audit log's "Sign-in" view.
SIGN_IN_ACTIONS = frozenset(
    {
        AuditAction.SIGNED_IN,
        AuditAction.SIGN_IN_FAILED,
        AuditAction.LOCKED_OUT,
        AuditAction.SIGNED_OUT,
        AuditAction.SECOND_FACTOR_SET_UP,
        AuditAction.SECOND_FACTOR_RESET,
        AuditAction.RECOVERY_CODES_ISSUED,
        AuditAction.PASSWORD_RESET_ASKED,
        AuditAction.PASSWORD_CHANGED,
        AuditAction.SIGN_IN_POLICY_CHANGED,
        AuditAction.PAUSE_LIFTED,
    }
)

# Actions that change something, as against reading it (the share's history shows these).
EVENT_ACTIONS = frozenset(AuditAction.values) - {
    AuditAction.VIEW_CASE,
    AuditAction.VIEW_SHARE,
    AuditAction.VIEW_DECISION,
    AuditAction.VIEW_RELEASE,
    AuditAction.VIEW_CONSULTATION,
    AuditAction.VIEW_CHILD,
    AuditAction.SEARCHED,
}


class AuditEntry(AppendOnlyModel):
    """One event, in order: who did what to which record, when, and under which role or grant.

    The product's one audit log, hash-chained one chain per setting: each entry carries the
    SHA-256 of the entry before it in its chain and of its own content
    (``permissions.audit_chain``), and the database refuses UPDATE and DELETE on the table
    (migrations 0003 and 0010). Write through ``permissions.audit`` only.
    """

    # The chain the entry belongs to: its setting's id, or 0 for the installation chain
    # (every entry written before the log was split per setting, then the entries of no
    # setting and the chains' own bookkeeping). Set by ``audit_chain.append``.
    chain = models.PositiveBigIntegerField(default=0)
    # Position in its chain, from 1 with no gaps; set under the chain's lock when appended.
    sequence = models.PositiveBigIntegerField()
    previous_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64, unique=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_entries",
    )
    # None only for a sign-in event of no setting (an unknown username, or an account that
    # belongs to no setting) and the installation chain's bookkeeping. Every other entry is
    # its setting's, for its leads to read.
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_entries",
    )
    action = models.CharField(max_length=30, choices=AuditAction.choices)
    # What the event concerns: its kind and id, and the case it belongs to. For a page view,
    # the page's main record (the others it showed are listed in ``detail``).
    object_type = models.CharField(max_length=40)
    object_id = models.BigIntegerField()
    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_entries"
    )
    # The share the event belongs to, so a share's history is one indexed query.
    share = models.ForeignKey(
        Share, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_entries"
    )
    basis = models.CharField("under which role or grant", max_length=60, blank=True)
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="For a grant or revoke: the person whose access changed.",
    )
    # Unbounded: a page view lists every record the page showed ("case 4; share 12;
    # decision 40"), however many, and the chain's bookkeeping every chain's head. Services
    # still keep their own notes short.
    detail = models.TextField(blank=True)

    class Meta(AppendOnlyModel.Meta):
        # The order entries were appended in: within a chain, its sequence. Not "sequence"
        # itself, which starts again at 1 in every setting's chain.
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["chain", "sequence"], name="permissions_audit_one_entry_per_place"
            )
        ]
        indexes = [
            models.Index(fields=["organisation", "at"]),
            models.Index(fields=["case", "at"]),
            models.Index(fields=["share", "sequence"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.record_name} #{self.object_id}"

    @property
    def record_name(self) -> str:
        """The kind of record in words, as the audit log shows it to a reader."""
        return _RECORD_NAMES.get(self.object_type, self.object_type)


# Records whose model name is not already a word a reader knows.
_RECORD_NAMES = {
    "filetransfer": "child protection file",
    "filerequest": "request for a child's file",
    "settingclosure": "term dates",
    "registerimport": "import",
    "deadlinepolicy": "deadline policy",
    "breakglassgrant": "break-glass access",
    "reconsiderationrequest": "request to reconsider",
    "familyfollowup": "family follow-up",
    "recipient": "address book entry",
}


class SignedInSession(models.Model):
    """A session someone signed in to, so that signing them out everywhere (a new password,
    a new second factor, a lead's reset) can end each one, whatever the session store.
    A row goes when its session is signed out or ended; stale ones go at the next sign-in."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signed_in_sessions"
    )
    session_key = models.CharField(max_length=40, unique=True)
    signed_in_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Session of {self.user} since {self.signed_in_at:%Y-%m-%d %H:%M}"
