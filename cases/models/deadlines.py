from __future__ import annotations

from django.db import models

from .. import choices
from .organisations import Organisation


class DeadlineRule(models.TextChoices):
    HOURS = "hours", "Within a number of clock hours"
    END_OF_WORKING_DAY = "end_of_day", "By the end of the working day"
    WORKING_DAYS = "working_days", "Within a number of working days"


class DeadlinePolicy(models.Model):
    """How soon a lead must decide a share of one urgency, in one setting."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="deadline_policies"
    )
    urgency = models.CharField(max_length=10, choices=choices.Urgency.choices)
    rule = models.CharField(max_length=20, choices=DeadlineRule.choices)
    amount = models.PositiveSmallIntegerField(
        default=0, help_text="Hours or working days; unused for the end of the working day."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "urgency"], name="one_deadline_policy_per_urgency"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organisation}: {self.get_urgency_display()}"


# Used wherever a setting has not set its own policy.
DEFAULT_POLICY: dict[str, tuple[str, int]] = {
    choices.Urgency.IMMEDIATE: (DeadlineRule.HOURS, 1),
    choices.Urgency.URGENT: (DeadlineRule.END_OF_WORKING_DAY, 0),
    choices.Urgency.ROUTINE: (DeadlineRule.WORKING_DAYS, 3),
}
