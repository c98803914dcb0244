from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from .organisations import Organisation


class Child(models.Model):
    """A child on one setting's roll. Each setting keeps its own record of a child, so what
    one setting writes about them is never another setting's to read."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="children"
    )
    first_name = models.CharField("legal first name", max_length=100)
    last_name = models.CharField("legal last name", max_length=100)
    known_as = models.CharField("preferred name", max_length=100, blank=True)
    date_of_birth = models.DateField()
    year_group = models.CharField("year or room", max_length=40, blank=True)
    address = models.TextField(blank=True)
    nhs_number = models.CharField("NHS number", max_length=12, blank=True)
    unique_pupil_number = models.CharField("UPN", max_length=13, blank=True)
    # Golden rule 2: the family was told at registration how information may be shared.
    privacy_notice_given_on = models.DateField(null=True, blank=True)
    privacy_notice_version = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "children"
        ordering = ["last_name", "first_name"]
        constraints = [
            # A UPN names one pupil; an import matches a changed row to its child by it.
            models.UniqueConstraint(
                fields=["organisation", "unique_pupil_number"],
                condition=~Q(unique_pupil_number=""),
                name="child_upn_unique_per_setting",
            )
        ]
        indexes = [models.Index(fields=["organisation", "last_name", "first_name"])]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Carer(models.Model):
    child = models.ForeignKey(Child, on_delete=models.CASCADE, related_name="carers")
    name = models.CharField(max_length=200)
    relationship = models.CharField(max_length=100)
    address = models.TextField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    has_parental_responsibility = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.name} ({self.relationship})"


class Case(models.Model):
    """A child known to one setting, with the practitioners who work with them."""

    child = models.ForeignKey(Child, on_delete=models.PROTECT, related_name="cases")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="cases")
    reference = models.CharField(max_length=40)
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    team = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="case_teams", blank=True)

    class Meta:
        ordering = ["reference"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "reference"], name="case_reference_unique_per_setting"
            )
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.child}"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None
