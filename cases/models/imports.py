from __future__ import annotations

from django.conf import settings
from django.db import models

from .organisations import Organisation


class RegisterImportKind(models.TextChoices):
    CHILDREN = "children", "Children (with their carers)"
    STAFF = "staff", "Staff"


class RegisterImport(models.Model):
    """A school MIS export between its preview and its confirmation.

    The file is kept as text so that confirming checks every row again against the register
    as it is then; that text holds children's details, so it is cleared once the import is
    applied, and a discarded upload is deleted outright.
    """

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="register_imports"
    )
    kind = models.CharField(max_length=20, choices=RegisterImportKind.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="register_imports"
    )
    file_name = models.CharField(max_length=255, blank=True)
    uploaded_text = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    # What confirming did, in words (the counts), kept after the text is cleared.
    outcome = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} import for {self.organisation} #{self.pk}"

    @property
    def is_applied(self) -> bool:
        return self.applied_at is not None
