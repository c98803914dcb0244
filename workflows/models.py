from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import ExpressionWrapper, F, Q
from django.db.models.expressions import Combinable
from viewflow.workflow.managers import TaskQuerySet
from viewflow.workflow.models import Process, Task

from cases.models import FamilyFollowUp, Release, Share
from permissions.models import BreakGlassGrant
from permissions.selectors import review_queue_for, share_list_for


class ShareProcess(Process):
    """The workflow instance routing one share; the share itself holds the record."""

    # Annotated because viewflow's Process carries no types for the plugin to start from.
    share: models.OneToOneField[Share | Combinable, Share] = models.OneToOneField(
        Share, on_delete=models.PROTECT, related_name="process"
    )

    class Meta:
        verbose_name = "share process"

    @property
    def brief(self) -> str:
        return f"Share #{self.share_id}"


class ShareTaskQuerySet(TaskQuerySet):
    """viewflow's task lists, narrowed to the shares the person may see.

    viewflow's own queue reads guardian's generic permission tables only, so with direct
    foreign-key permissions a lead's queue would be empty; and its other lists show every
    process to anyone allowed to see the flow at all. Both defer to ``permissions`` here.
    """

    def visible_to(self, user: Any) -> ShareTaskQuerySet:
        return self.filter(process__shareprocess__share__in=share_list_for(user).values("pk"))

    def filter_available(self, flow_classes: Any, user: Any) -> ShareTaskQuerySet:
        return super().filter_available(flow_classes, user).visible_to(user)

    def user_queue(self, user: Any, flow_class: Any = None) -> ShareTaskQuerySet:
        queryset = self.filter(flow_task_type="HUMAN")
        if flow_class is not None:
            queryset = queryset.filter(process__flow_class=flow_class)
        awaiting = review_queue_for(user).values("pk")
        return queryset.filter(Q(owner=user) | Q(process__shareprocess__share__in=awaiting))

    def user_archive(self, user: Any, flow_class: Any = None) -> ShareTaskQuerySet:
        return super().user_archive(user, flow_class).visible_to(user)


class ShareTask(Task):
    objects = ShareTaskQuerySet.as_manager()

    class Meta:
        proxy = True


class EscalationLevel(models.TextChoices):
    REMINDER = "reminder", "Reminder before the deadline"
    DEPUTIES = "deputies", "Deadline passed: deputies brought in"
    MANAGER = "manager", "Still undecided: manager brought in"


class Escalation(models.Model):
    """A step of the review's escalation, once per review round, with when it happened."""

    share = models.ForeignKey(Share, on_delete=models.PROTECT, related_name="escalations")
    level = models.CharField(max_length=10, choices=EscalationLevel.choices)
    # Which review round: each submission starts a new one with its own deadline.
    submitted_at = models.DateTimeField()
    review_due_at = models.DateTimeField()
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["share", "submitted_at", "level"], name="one_escalation_per_round"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()} for share #{self.share_id}"


class NotificationKind(models.TextChoices):
    REVIEW_REMINDER = "review_reminder", "A share is waiting for your decision"
    REVIEW_OVERDUE = "review_overdue", "A share's review is past its deadline"
    REVIEW_STILL_OVERDUE = (
        "review_still_overdue",
        "A share is still undecided, well past its deadline",
    )
    FAMILY_FOLLOW_UP_OVERDUE = (
        "family_follow_up_overdue",
        "A family has not yet been told, and the date set to tell them has passed",
    )
    EMERGENCY_RELEASE = (
        "emergency_release",
        "A share was released in an emergency, before any decision: review it today",
    )
    BREAK_GLASS = (
        "break_glass",
        "Break-glass access was used in your setting: review it",
    )
    SHARE_SUBMITTED = "share_submitted", "A share was submitted for your review"
    SHARE_DECIDED = "share_decided", "A share you proposed has been decided"
    SHARE_RETURNED = (
        "share_returned",
        "A share you proposed was returned to you: see the lead's note",
    )
    DECIDED_FOR_LEAD = (
        "decided_for_lead",
        "A deputy decided a share on behalf of the lead",
    )
    ADVICE_ASKED = "advice_asked", "You have been asked for advice"
    DELIVERY_NOT_OPENED = (
        "delivery_not_opened",
        "Information you sent by secure link has not been opened yet",
    )
    DELIVERY_ACKNOWLEDGED = (
        "delivery_acknowledged",
        "The recipient acknowledged the information you sent by secure link",
    )
    FILE_RECEIVED = (
        "file_received",
        "A child protection file was sent to you: open it and accept or reject it",
    )
    FILE_REMINDER = (
        "file_reminder",
        "A child protection file sent to you is still to be accepted or rejected",
    )
    FILE_OVERDUE = (
        "file_overdue",
        "A child protection file sent to your setting is past its five school days",
    )
    FILE_OVERDUE_SENT = (
        "file_overdue_sent",
        "A child protection file you sent has not been accepted in five school days",
    )
    FILE_REQUESTED = (
        "file_requested",
        "Another setting asked your setting for a child's child protection file",
    )
    FILE_REQUEST_DECLINED = (
        "file_request_declined",
        "Your request for a child's child protection file was declined",
    )
    FILE_ACCEPTED = "file_accepted", "A child protection file you sent was accepted"
    FILE_REJECTED = "file_rejected", "A child protection file you sent was rejected"
    FILE_WITHDRAWN = (
        "file_withdrawn",
        "A child protection file sent to your setting was withdrawn by its sender",
    )
    DELIVERY_LOCKED = (
        "delivery_locked",
        "A secure link you sent was locked after too many wrong codes",
    )
    ADVICE_GIVEN = "advice_given", "The advice you asked for has been given"
    RECONSIDERATION_REQUESTED = (
        "reconsideration_requested",
        "The proposer of a refused share asks for it to be reconsidered",
    )


# What a proposer is told of a decision on their share: the home page's "not yet seen".
DECISION_NOTICE_KINDS = (
    NotificationKind.SHARE_DECIDED,
    NotificationKind.SHARE_RETURNED,
    NotificationKind.DECIDED_FOR_LEAD,
)


class Notification(models.Model):
    """An outbox row: shown in the person's list and emailed once.

    It names no child and carries no case detail: who acted, what kind of thing, a link.
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    link = models.CharField(max_length=300, blank=True)
    escalation = models.ForeignKey(
        Escalation, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    # Or the promise to tell a family (golden rule 2) whose deadline passed.
    family_follow_up = models.ForeignKey(
        FamilyFollowUp,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    # Or a release made in an emergency, without the lead's sign-off: leads and deputies are
    # told at once rather than when the retrospective review falls due.
    release = models.ForeignKey(
        Release,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    # Or a break-glass use the setting's leads and deputies are to review.
    break_glass_grant = models.ForeignKey(
        BreakGlassGrant,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    # The share it is about, named by its number only; empty where the recipient may not see
    # the share: an adviser (nothing points at it) or a manager (whose notice names the
    # share's number in its detail, as the reports do, and links nowhere).
    share = models.ForeignKey(
        Share, on_delete=models.PROTECT, null=True, blank=True, related_name="notifications"
    )
    # Who acted, where saying so helps (the deputy who decided, the person who asked).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # A short line of no case content: an outcome, "resubmitted after being returned".
    detail = models.CharField(max_length=200, blank=True)
    # The deadline the recipient has to meet, if any (a review's).
    due_at = models.DateTimeField(null=True, blank=True)
    # What happened, once: the same event never notifies the same person twice, however
    # often the step that writes it is retried ("share_submitted:41:2026-12-02T09:00").
    event = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Claimed by one delivery at a time; a claim older than claim_timeout() may be retaken,
    # so a worker killed mid-send does not lose the email.
    email_claimed_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "escalation"], name="one_notification_per_escalation"
            ),
            models.UniqueConstraint(
                fields=["recipient", "family_follow_up"],
                name="one_notification_per_family_follow_up",
            ),
            models.UniqueConstraint(
                fields=["recipient", "release"], name="one_notification_per_emergency_release"
            ),
            models.UniqueConstraint(
                fields=["recipient", "break_glass_grant"],
                name="one_notification_per_break_glass",
            ),
            models.UniqueConstraint(
                fields=["recipient", "event"],
                condition=~Q(event=""),
                name="one_notification_per_event",
            ),
        ]
        indexes = [
            models.Index(fields=["emailed_at", "email_claimed_at"]),
            # A person's unread, newest first: the home page's "new for you" reads its first
            # rows; the counts (the menu's, the home page's) read it alone, kind included.
            models.Index(
                fields=["recipient", "-created_at", "-id"],
                name="notification_unread_newest",
                include=["kind"],
                condition=Q(read_at__isnull=True),
            ),
            # The decisions a proposer has not yet read, newest first: the home page's
            # "not yet seen" walks these only, not every unread notice (a lead's thousands of
            # submissions to review).
            models.Index(
                fields=["recipient", "-created_at", "-id"],
                name="notification_unread_decision",
                condition=Q(read_at__isnull=True, kind__in=DECISION_NOTICE_KINDS),
            ),
            # The notifications page's order, unread first, then the newest: a page of the
            # list reads a page of this index.
            models.Index(
                F("recipient"),
                ExpressionWrapper(Q(read_at__isnull=True), output_field=models.BooleanField()),
                F("created_at"),
                F("id"),
                name="notification_list",
            ),
        ]

    def __str__(self) -> str:
        return self.get_kind_display()
