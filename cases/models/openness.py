"""Golden rules 2 and 3: telling the family, and asking advice without naming the child."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from .. import choices
from .shares import Share


class FamilyFollowUp(models.Model):
    """A promise to tell the family, made when it was "not yet possible", with a deadline.

    Kept open until someone records when the family was told; it is then closed for good.
    """

    share = models.ForeignKey(Share, on_delete=models.PROTECT, related_name="family_follow_ups")
    due_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    # The day the family was told (it may be before the day it was recorded).
    informed_on = models.DateField(null=True, blank=True)
    informed_by = models.CharField("who told them", max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "pk"]
        constraints = [
            # One open follow-up per share: a resubmission does not pile up promises.
            models.UniqueConstraint(
                fields=["share"],
                condition=models.Q(recorded_at__isnull=True),
                name="one_open_family_follow_up",
            )
        ]

    def __str__(self) -> str:
        return f"Tell the family about share #{self.share_id}"

    @property
    def is_open(self) -> bool:
        return self.recorded_at is None


class Consultation(models.Model):
    """Advice sought on a draft without naming the child (golden rule 3).

    The adviser sees ``question`` and ``shared_text`` only: both are de-identified when the
    question is asked, and kept as they were shown.
    """

    share = models.ForeignKey(Share, on_delete=models.PROTECT, related_name="consultations")
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="consultations_asked"
    )
    adviser = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="consultations_received"
    )
    adviser_capacity = models.CharField(max_length=10, choices=choices.AdviserCapacity.choices)
    question = models.TextField(max_length=4000)
    shared_text = models.TextField(help_text="The de-identified share the adviser is shown.")
    asked_at = models.DateTimeField(auto_now_add=True)
    advice = models.TextField(max_length=8000, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["asked_at", "pk"]
        indexes = [models.Index(fields=["adviser", "answered_at"])]

    def __str__(self) -> str:
        return f"Advice on share #{self.share_id}"

    @property
    def is_answered(self) -> bool:
        return self.answered_at is not None
