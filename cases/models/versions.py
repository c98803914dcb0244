from __future__ import annotations

from django.conf import settings
from django.db import models

from .immutable import AppendOnlyModel
from .shares import Share


class ShareVersion(AppendOnlyModel):
    """The share exactly as it was put forward, frozen at each submission.

    A correction after a return is a new version pointing at the one it corrects; the lead's
    decision names the version it was made on, so nothing decided is ever rewritten.
    """

    share = models.ForeignKey(Share, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    corrects = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="correction"
    )
    # Every golden-rule field and every item, as submitted (see cases.services.versions).
    content = models.JSONField()
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField()

    class Meta(AppendOnlyModel.Meta):
        ordering = ["share", "number"]
        constraints = [
            models.UniqueConstraint(fields=["share", "number"], name="share_version_number_once")
        ]

    def __str__(self) -> str:
        return f"Share #{self.share_id}, version {self.number}"
