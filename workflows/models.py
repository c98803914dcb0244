from __future__ import annotations

from django.db import models
from viewflow.workflow.models import Process

from cases.models import Share


class ShareProcess(Process):
    """The workflow instance routing one share; the share itself holds the record."""

    share = models.OneToOneField(Share, on_delete=models.PROTECT, related_name="process")

    class Meta:
        verbose_name = "share process"

    @property
    def brief(self) -> str:
        return f"Share #{self.share_id}"
