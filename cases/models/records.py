from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models

from .. import choices
from .immutable import AppendOnlyModel, AppendOnlyQuerySet
from .organisations import Organisation
from .shares import Share, ShareItem


class Decision(AppendOnlyModel):
    """The lead's decision on a share, with its reasons. Never edited or deleted."""

    share = models.ForeignKey(Share, on_delete=models.PROTECT, related_name="decisions")
    outcome = models.CharField(max_length=20, choices=choices.Outcome.choices)
    refusal_reason = models.CharField(
        max_length=20, choices=choices.RefusalReason.choices, blank=True
    )
    reasons = models.TextField(max_length=4000)
    conditions = models.TextField(max_length=2000, blank=True)
    approved_items: models.ManyToManyField[ShareItem, ApprovedItem] = models.ManyToManyField(
        ShareItem, through="ApprovedItem", blank=True, related_name="approvals"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="decisions"
    )
    capacity = models.CharField(max_length=20, choices=choices.DecidingCapacity.choices)
    self_approval_rationale = models.TextField(max_length=4000, blank=True)
    decided_at = models.DateTimeField(auto_now_add=True)
    # How long after the review deadline the decision came; empty when it was on time.
    late_by = models.DurationField(null=True, blank=True)
    # The version of the share decided on (empty only for decisions older than versions).
    version = models.ForeignKey(
        "ShareVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="decisions"
    )
    # A reconsideration is a new decision pointing at the one it reconsiders.
    reconsiders = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reconsideration",
    )
    # Facts copied onto the record when it is written, so the timing reports
    # (workflows.reports) read a setting's decisions through one index, with no join and no
    # look-up per decision. They are as permanent as the rest of the record, and stay true:
    # the setting is the share's case's, and a case never moves to another setting; the
    # round's start is the submission it answered, which later submissions do not change;
    # the urgency is the one it was decided under (see below).
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        # The (organisation, decided_at) index below serves look-ups by setting too.
        db_index=False,
    )
    # When the review round this decision closed began: the share's submission it answered
    # (for a retrospective review, when the emergency release was recorded). Empty for a
    # reconsideration, which answers no review round, and for a decision whose round has no
    # known start.
    round_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The share's urgency when it was decided: the one its review round was reviewed under,
    # which set the round's deadline. The reports count the round under it (a returned share
    # given another urgency counts under that one from its next round).
    urgency = models.CharField(max_length=10, choices=choices.Urgency.choices, editable=False)

    class Meta(AppendOnlyModel.Meta):
        ordering = ["decided_at", "pk"]
        indexes = [
            # A setting's decisions, by when they were made: the timing reports' review rounds.
            models.Index(fields=["organisation", "decided_at"], name="decision_setting_decided_at"),
            # A share's review-round decisions, latest first: each share's timeline reads its
            # latest one, and counts them, from this index alone.
            models.Index(
                fields=["share", "-decided_at", "-id"],
                condition=models.Q(reconsiders__isnull=True),
                name="decision_share_latest_round",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} on share #{self.share_id}"


class ApprovedItem(AppendOnlyModel):
    """One item a decision approved for release; part of the decision, so equally permanent."""

    decision = models.ForeignKey(Decision, on_delete=models.PROTECT)
    item = models.ForeignKey(ShareItem, on_delete=models.PROTECT)

    class Meta(AppendOnlyModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["decision", "item"], name="approved_item_once")
        ]


class Release(AppendOnlyModel):
    """What was actually sent, frozen at the moment it was recorded. Never edited or deleted."""

    share = models.OneToOneField(Share, on_delete=models.PROTECT, related_name="release")
    # Empty for an emergency release, made before any decision (the lead reviews it after).
    decision = models.ForeignKey(
        Decision, on_delete=models.PROTECT, null=True, blank=True, related_name="releases"
    )
    recipient_name = models.CharField(max_length=200)
    recipient_role = models.CharField(max_length=200, blank=True)
    recipient_agency = models.CharField(max_length=200)
    sending_method = models.CharField(max_length=20, choices=choices.SendingMethod.choices)
    purpose = models.TextField()
    content = models.JSONField(help_text="The exact items sent, as they were sent.")
    # Whom it is about, as the recipient of a secure link read it (their legal name and date
    # of birth, so they can match their own records). Empty for a release sent another way,
    # where what was said of the child is not known here.
    about_child = models.CharField(max_length=400, blank=True)
    sent_at = models.DateTimeField()
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="releases"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    note = models.TextField(max_length=2000, blank=True)
    # Copied when the release is written, so that the timing reports read a setting's
    # releases from one index, with no join to their decisions, shares and cases (at a
    # million decisions that join was most of a manager's release figures): the setting
    # (its share's case's, which never changes) and when its time to release began, which
    # is the decision it acted on, or for an emergency release, sent before any decision,
    # the share's proposal.
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        # The (organisation, sent_at) index below serves look-ups by setting too.
        db_index=False,
    )
    timed_from = models.DateTimeField(editable=False)

    class Meta(AppendOnlyModel.Meta):
        indexes = [
            # A setting's releases, by when they were sent: the timing reports' releases,
            # read from the index alone on PostgreSQL (a release's row, with what was sent,
            # is many times its entry here; releases are never updated, so the heap is
            # not visited to check them).
            models.Index(
                fields=["organisation", "sent_at"],
                include=["timed_from", "decision"],
                name="release_setting_sent_at",
            ),
        ]

    def __str__(self) -> str:
        return f"Release of share #{self.share_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Copied as the release is written, whoever writes it (see the fields above).
        if self.organisation_id is None:
            self.organisation_id = self.share.case_setting_id
        if self.timed_from is None:
            acted_on = self.decision
            self.timed_from = acted_on.decided_at if acted_on else self.share.created_at
        super().save(*args, **kwargs)


class ReconsiderationRequestQuerySet(AppendOnlyQuerySet):
    def unanswered(self) -> ReconsiderationRequestQuerySet:
        """Not yet answered: no decision reconsiders the refusal asked about."""
        return self.filter(refusal__reconsideration__isnull=True)


class ReconsiderationRequest(AppendOnlyModel):
    """The proposer of a refused share asks the leads to look at the refusal again.

    Answered by the reconsideration: the decision that ``reconsiders`` the refusal asked
    about (``refusal.reconsideration``), so the request itself never changes.
    """

    share = models.ForeignKey(
        Share, on_delete=models.PROTECT, related_name="reconsideration_requests"
    )
    # One request per refusal: a second would only ask the same question again.
    refusal = models.OneToOneField(
        Decision, on_delete=models.PROTECT, related_name="reconsideration_request"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(max_length=4000)
    requested_at = models.DateTimeField(auto_now_add=True)

    objects: ClassVar[Any] = ReconsiderationRequestQuerySet.as_manager()

    class Meta(AppendOnlyModel.Meta):
        ordering = ["requested_at", "pk"]

    def __str__(self) -> str:
        return f"Reconsideration asked for on share #{self.share_id}"
