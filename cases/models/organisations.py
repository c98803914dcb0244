from __future__ import annotations

from datetime import time

from django.conf import settings
from django.db import models
from django.db.models import Q

from ..choices import CalendarRegion, OrganisationKind, Role

# Settings of one person, who is their own lead and decides their own shares.
ONE_PERSON_SETTING_KINDS = frozenset({OrganisationKind.CHILDMINDER})


class Organisation(models.Model):
    """A setting: a nursery, school, GP practice, social care team or childminder."""

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=OrganisationKind.choices)
    is_public_authority = models.BooleanField(
        default=False,
        help_text="Maintained schools, NHS bodies and councils are public authorities.",
    )
    timezone = models.CharField(max_length=64, default="Europe/London")
    calendar_region = models.CharField(
        max_length=20, choices=CalendarRegion.choices, default=CalendarRegion.ENGLAND_WALES
    )
    working_day_starts = models.TimeField(default=time(8, 0))
    working_day_ends = models.TimeField(default=time(18, 0))
    # Everyone of the setting signs in with a second factor, not only the roles
    # SAFESHARE_MFA_REQUIRED_ROLES names.
    second_factor_for_everyone = models.BooleanField(
        "Everyone signs in with a second factor",
        default=False,
        help_text="Leads, deputies, managers and auditors always do.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        # Granted per setting as object permissions (never model-wide); see permissions.grants.
        permissions = [
            ("oversee_cases", "See every case of the setting"),
            ("decide_shares", "Decide the setting's shares"),
            ("view_reports", "See the setting's timing reports"),
            ("view_audit_log", "See the setting's audit and access log"),
            ("break_glass", "Take time-limited access to a case of the setting"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_one_person_setting(self) -> bool:
        return self.kind in ONE_PERSON_SETTING_KINDS


class Membership(models.Model):
    """A person's role in one setting; a person may work in several settings."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organisation"],
                condition=Q(ended_at__isnull=True),
                name="one_current_membership_per_setting",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} at {self.organisation}"
