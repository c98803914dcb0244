"""A release, or a child protection file, sent through Safeshare itself: a link to the
recipient outside Safeshare, opened with a code.

The email holds a link and nothing of the case; the one-time code that opens it is shown
once to the sender, to pass on by another channel (a phone call). What happens to the link
afterwards (opened, viewed, downloaded, acknowledged, a wrong code, locked, revoked) is a
``DeliveryEvent``: appended, never changed, so the link's state is read from its events.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from .immutable import AppendOnlyModel
from .organisations import Organisation
from .records import Release
from .shares import Share
from .transfers import FileTransfer


class DeliveryEventKind(models.TextChoices):
    OPENED = "opened", "Opened with the code"
    VIEWED = "viewed", "Viewed"
    DOWNLOADED = "downloaded", "Downloaded as a PDF"
    ACKNOWLEDGED = "acknowledged", "Receipt acknowledged"
    WRONG_CODE = "wrong_code", "A wrong code was entered"
    LOCKED = "locked", "Locked after too many wrong codes"
    REVOKED = "revoked", "Revoked"
    NOT_OPENED = "not_opened", "Sender told it had not been opened"


# Events after which the link opens nothing more.
ENDING_EVENTS = frozenset({DeliveryEventKind.LOCKED, DeliveryEventKind.REVOKED})


class Delivery(models.Model):
    """One secure link to one release or one child protection file. Only its email's outbox
    fields ever change."""

    release = models.ForeignKey(
        Release, on_delete=models.PROTECT, null=True, blank=True, related_name="deliveries"
    )
    # The release's share, for the share's page and its setting's sweep without a join.
    share = models.ForeignKey(
        Share, on_delete=models.PROTECT, null=True, blank=True, related_name="deliveries"
    )
    # Or the file it carries to a setting outside this installation.
    transfer = models.ForeignKey(
        FileTransfer, on_delete=models.PROTECT, null=True, blank=True, related_name="deliveries"
    )
    # What the link carries, signed (``cases.services.deliveries.link_token``): never the
    # table's own key, so links cannot be counted or guessed.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(help_text="The recipient's verified secure address it went to.")
    # The one-time code, hashed as passwords are: only the sender ever saw it.
    code_digest = models.CharField(max_length=200)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="deliveries_sent"
    )
    sent_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    # When the sender is told it has not been opened (working days on the setting's calendar).
    remind_at = models.DateTimeField()
    # The email with the link, as an outbox row: sent once after the sending commits.
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(release__isnull=False, share__isnull=False, transfer__isnull=True)
                    | models.Q(release__isnull=True, share__isnull=True, transfer__isnull=False)
                ),
                name="delivery_of_a_release_or_a_file",
            )
        ]
        indexes = [
            # The sweep's look-up: links whose "not yet opened" time has come.
            models.Index(fields=["remind_at"], name="delivery_remind_at"),
            # The outbox's look-up: emails not yet sent.
            models.Index(
                fields=["sent_at"],
                condition=models.Q(emailed_at__isnull=True),
                name="delivery_email_pending",
            ),
        ]

    def __str__(self) -> str:
        if self.transfer_id is not None:
            return f"Secure link for child protection file #{self.transfer_id}"
        return f"Secure link for share #{self.share_id}"

    @property
    def setting(self) -> Organisation:
        """The setting that sent it: the one whose name the recipient reads."""
        if self.transfer is not None:
            return self.transfer.from_setting
        assert self.share is not None
        return self.share.case.organisation


class DeliveryEvent(AppendOnlyModel):
    """Something that happened to a secure link, when, and who said they were there."""

    delivery = models.ForeignKey(Delivery, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=20, choices=DeliveryEventKind.choices)
    at = models.DateTimeField(auto_now_add=True)
    # The recipient's name, as they gave it when they opened the link or acknowledged it.
    name = models.CharField(max_length=200, blank=True)
    # A person in Safeshare who acted (the sender or a lead revoking); empty for the recipient.
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta(AppendOnlyModel.Meta):
        indexes = [models.Index(fields=["delivery", "kind"], name="delivery_event_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.delivery})"
