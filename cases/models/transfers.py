"""A child protection file moving from one setting to another.

Keeping Children Safe in Education asks the old setting's lead to send it within five
school days of the child starting at the new one, separately from the main pupil file,
securely, and to get confirmation of receipt. ``FileTransfer`` is that file, frozen at
sending (``file``: the child's details, chronology and each share's record, as sections);
its life (sent, viewed, accepted or rejected, reminded, escalated) is ``TransferEvent``,
appended and never changed. ``FileRequest`` is the new setting asking for it.

The new setting is in this installation (``to_setting``, answered by its lead in Safeshare),
or outside it (``to_recipient``, an entry of the sender's address book with a confirmed
secure address): then the file goes by a secure link (``Delivery``), and its receipt is the
recipient's acknowledgement there.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from ..people import display_name
from .children import Case, Child
from .immutable import AppendOnlyModel
from .organisations import Organisation
from .shares import Recipient


class TransferStatus(models.TextChoices):
    SENT = "sent", "Sent, not yet opened"
    VIEWED = "viewed", "Opened by the receiving lead"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    # A setting outside Safeshare acknowledged receipt through the secure link.
    RECEIVED = "received", "Receipt acknowledged"
    WITHDRAWN = "withdrawn", "Withdrawn by the sender"


_ANSWERED_AS: dict[str, str] = {
    TransferStatus.RECEIVED: "acknowledged as received",
    TransferStatus.WITHDRAWN: "withdrawn",
}

# A file still waiting on its receiving lead: in their queue, on the clock.
AWAITING_ANSWER = frozenset({TransferStatus.SENT, TransferStatus.VIEWED})


class TransferEventKind(models.TextChoices):
    SENT = "sent", "Sent"
    VIEWED = "viewed", "Opened by the receiving setting"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    REMINDED = "reminded", "Receiving lead reminded"
    ESCALATED = "escalated", "Past its five school days: leads and deputies told"
    RECEIVED = "received", "Receipt acknowledged through the secure link"
    WITHDRAWN = "withdrawn", "Withdrawn by the sender"


class FileRequestStatus(models.TextChoices):
    OPEN = "open", "Waiting for the previous setting"
    SENT = "sent", "File sent"
    DECLINED = "declined", "Declined"


class FileRequest(models.Model):
    """A new setting asking a child's previous setting (in this installation) for their
    child protection file. Answered by the file itself, or declined with a reason."""

    asked_of = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="file_requests_received"
    )
    asked_for = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="file_requests_made"
    )
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    asked_at = models.DateTimeField(auto_now_add=True)
    # The child as the asking setting knows them: the previous setting finds them on its roll.
    first_name = models.CharField("child's legal first name", max_length=100)
    last_name = models.CharField("child's legal last name", max_length=100)
    date_of_birth = models.DateField("child's date of birth")
    starts_on = models.DateField("the child's first day with you")
    note = models.TextField(max_length=2000, blank=True)
    status = models.CharField(
        max_length=10, choices=FileRequestStatus.choices, default=FileRequestStatus.OPEN
    )
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.TextField(max_length=2000, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["asked_of", "asked_at"],
                condition=models.Q(status="open"),
                name="file_request_open",
            )
        ]

    def __str__(self) -> str:
        return f"Request for a child protection file #{self.pk}"


class FileTransfer(models.Model):
    """One child's child protection file, sent by one setting's lead to another's."""

    child = models.ForeignKey(Child, on_delete=models.PROTECT, related_name="transfers_out")
    from_setting = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="transfers_sent"
    )
    # In this installation: the setting and its lead or deputy it was sent to.
    to_setting = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="transfers_received",
    )
    to_lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="transfers_to_me",
    )
    # Outside it: the address book entry it went to by secure link, and who that was at
    # sending (the entry may be corrected later; the file says who it reached).
    to_recipient = models.ForeignKey(
        Recipient,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="files_sent_to",
    )
    to_name = models.CharField(max_length=420, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="transfers_sent"
    )
    sent_at = models.DateTimeField()
    starts_on = models.DateField("the child's first day at the new setting")
    # Five school days from the start (or from sending, if that is later), on the receiving
    # setting's calendar; the reminder at half that time.
    due_at = models.DateTimeField()
    remind_at = models.DateTimeField()
    # Sent after the child's fifth school day there: the sender's own five days had passed.
    sent_late = models.BooleanField(default=False)
    note = models.TextField(max_length=2000, blank=True)
    # The file as it was at sending: a title and sections of labelled text and tables, the
    # shape the decision record uses, so one template and one PDF drawer show both.
    file = models.JSONField()
    status = models.CharField(
        max_length=10, choices=TransferStatus.choices, default=TransferStatus.SENT
    )
    # The request it answers, when the new setting asked for it.
    request = models.OneToOneField(
        FileRequest, on_delete=models.PROTECT, null=True, blank=True, related_name="transfer"
    )
    # The new setting's case the file was attached to when it was accepted (a case opened
    # then, or the child's open case there already).
    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, null=True, blank=True, related_name="transferred_files"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(
                        to_setting__isnull=False, to_lead__isnull=False, to_recipient__isnull=True
                    )
                    | models.Q(
                        to_setting__isnull=True, to_lead__isnull=True, to_recipient__isnull=False
                    )
                ),
                name="transfer_inside_or_outside",
            )
        ]
        indexes = [
            # The receiving setting's files still to answer, oldest due first.
            models.Index(
                fields=["to_setting", "due_at"],
                condition=models.Q(status__in=["sent", "viewed"]),
                name="transfer_awaiting",
            ),
            # The sweep: files whose reminder or deadline has come.
            models.Index(
                fields=["remind_at"],
                condition=models.Q(status__in=["sent", "viewed"]),
                name="transfer_remind_at",
            ),
        ]

    def __str__(self) -> str:
        return f"Child protection file #{self.pk}"

    @property
    def answered_as(self) -> str:
        """What became of it, to follow "The file has been" or "The file is"."""
        return _ANSWERED_AS.get(self.status, self.get_status_display().lower())

    @property
    def outside(self) -> bool:
        """Sent to a setting outside this installation, by secure link."""
        return self.to_setting_id is None

    @property
    def receiver(self) -> str:
        """Whom it went to, in words: the setting's lead, or the outside recipient."""
        if self.outside:
            return self.to_name
        return f"{display_name(self.to_lead)}, {self.to_setting}"


class TransferEvent(AppendOnlyModel):
    transfer = models.ForeignKey(FileTransfer, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=10, choices=TransferEventKind.choices)
    at = models.DateTimeField(auto_now_add=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    reason = models.TextField(max_length=2000, blank=True)

    class Meta(AppendOnlyModel.Meta):
        indexes = [models.Index(fields=["transfer", "kind"], name="transfer_event_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.transfer})"
