from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from .organisations import Organisation


class SettingClosure(models.Model):
    """A period a school or nursery is closed to children (a half-term, a holiday), as its
    lead enters its term dates. A child protection file's five school days skip it
    (``cases.deadlines.school_calendar_of``); nothing else does."""

    # The composite index below leads with the setting, so the foreign key needs none of
    # its own.
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="closures", db_index=False
    )
    first_day = models.DateField("first day closed")
    last_day = models.DateField("last day closed")  # inclusive
    name = models.CharField(max_length=100)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organisation", "first_day"]
        indexes = [
            # The calendar reads a setting's closures ending on or after a day; the overlap
            # check those ending on or after a new one's first day.
            models.Index(
                fields=["organisation", "last_day", "first_day"], name="closure_setting_days"
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(last_day__gte=F("first_day")), name="closure_ends_after_it_starts"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.first_day:%-d %b %Y} to {self.last_day:%-d %b %Y})"
