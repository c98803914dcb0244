from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from .. import choices
from .children import Case
from .organisations import Organisation


class Recipient(models.Model):
    """A named person at a named organisation, in one setting's address book."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="recipients"
    )
    person_name = models.CharField(max_length=200)
    role = models.CharField(max_length=200, blank=True)
    agency_name = models.CharField("organisation", max_length=200)
    agency_kind = models.CharField(
        "kind of organisation",
        max_length=20,
        choices=choices.AgencyKind.choices,
        default=choices.AgencyKind.OTHER,
    )
    secure_email = models.EmailField(blank=True)
    # When the setting last confirmed the secure address with the recipient's organisation.
    secure_email_verified_at = models.DateTimeField(null=True, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # A retired entry is offered for no new share; the shares that named it keep it.
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["agency_name", "person_name"]

    def __str__(self) -> str:
        return f"{self.person_name}, {self.agency_name}"


# Between shares due at the same moment, the most urgent first: Urgency's own order.
URGENCY_RANK = models.Case(
    *(
        models.When(urgency=urgency, then=models.Value(rank))
        for rank, urgency in enumerate(choices.Urgency.values)
    ),
    default=models.Value(len(choices.Urgency.values)),
)


class Share(models.Model):
    """A proposed share of information about a child, and its golden-rule record."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="shares")
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="proposed_shares"
    )
    status = models.CharField(
        max_length=30, choices=choices.ShareStatus.choices, default=choices.ShareStatus.DRAFT
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    # Set at each submission from the setting's deadline policy for the share's urgency.
    review_due_at = models.DateTimeField(null=True, blank=True)
    # When the open review next escalates (deadlines.escalation_times), for the escalation
    # sweep's indexed look-up; empty once nothing more falls due or the review is decided.
    escalation_due_at = models.DateTimeField(null=True, blank=True, editable=False)

    purpose = models.TextField(max_length=2000, blank=True)
    direction = models.CharField(
        max_length=10, choices=choices.Direction.choices, default=choices.Direction.OUTBOUND
    )
    requested_by = models.CharField(
        "who asked", max_length=300, blank=True, help_text="For an inbound request."
    )
    requested_on = models.DateField("when they asked", null=True, blank=True)
    urgency = models.CharField(
        max_length=10, choices=choices.Urgency.choices, default=choices.Urgency.ROUTINE
    )
    # The urgency as a number, most urgent first, computed by the database from ``urgency``
    # (so it can never disagree with it): the review queue's tie-break between shares due at
    # the same moment, which its index walks instead of sorting every open review.
    urgency_rank = models.GeneratedField(
        expression=URGENCY_RANK, output_field=models.PositiveSmallIntegerField(), db_persist=True
    )
    # The setting of the share's case, copied when the share is first saved (a share never
    # changes case, nor a case its setting): the lists of a setting's shares filter on it
    # first, in the same index as their order, rather than joining every case of the setting.
    case_setting = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        # The review queue's index below begins with it, and serves look-ups by setting too.
        db_index=False,
    )

    # Golden rule 1: the law is a framework.
    lawful_basis = models.CharField(
        "lawful basis (UK GDPR Art 6)",
        max_length=10,
        choices=choices.LawfulBasis.choices,
        blank=True,
    )
    lawful_basis_power = models.CharField(
        "power or duty relied on",
        max_length=300,
        blank=True,
        help_text="For example: Children Act 2004 s11.",
    )
    article9_condition = models.CharField(
        "special category condition (UK GDPR Art 9)",
        max_length=10,
        choices=choices.Article9Condition.choices,
        blank=True,
    )
    schedule1_paragraph = models.CharField(
        "DPA 2018 Schedule 1 paragraph",
        max_length=10,
        choices=choices.Schedule1Paragraph.choices,
        blank=True,
    )
    para18_reason = models.CharField(
        "why consent is not the route (para 18)",
        max_length=40,
        choices=choices.Para18Reason.choices,
        blank=True,
    )
    statutory_gateways = models.JSONField(default=list, blank=True)

    # Golden rule 4: consent where appropriate.
    consent_status = models.CharField(
        max_length=12, choices=choices.ConsentStatus.choices, blank=True
    )
    consent_not_sought_reason = models.CharField(
        "why consent was not sought",
        max_length=40,
        choices=choices.ConsentNotSoughtReason.choices,
        blank=True,
    )
    consent_override_justification = models.TextField(
        "why sharing overrides the refusal", max_length=4000, blank=True
    )

    # Golden rule 5: safety and well-being.
    risk_if_shared = models.TextField(
        "risk to the child or others if we share", max_length=4000, blank=True
    )
    risk_if_not_shared = models.TextField("risk if we do not share", max_length=4000, blank=True)

    # Golden rule 6: to a named person, securely.
    recipient = models.ForeignKey(
        Recipient, on_delete=models.PROTECT, null=True, blank=True, related_name="shares"
    )
    sending_method = models.CharField(
        "method of sending", max_length=20, choices=choices.PLANNED_SENDING_METHODS, blank=True
    )

    # Golden rule 2: be open and honest with the family, or record why not.
    family_informed = models.CharField(
        "has the family been told?",
        max_length=10,
        choices=choices.FamilyInformed.choices,
        blank=True,
    )
    family_informed_on = models.DateField("when they were told", null=True, blank=True)
    family_informed_by = models.CharField("who told them", max_length=200, blank=True)
    family_not_told_reason = models.CharField(
        "why they have not been told",
        max_length=30,
        choices=choices.FamilyNotToldReason.choices,
        blank=True,
    )
    family_not_told_detail = models.TextField("more about why", max_length=2000, blank=True)

    withdrawn_reason = models.TextField(max_length=2000, blank=True)
    # Set when a practitioner released at once because the child was at immediate risk and
    # no lead could be reached; a retrospective lead review follows.
    emergency_justification = models.TextField(max_length=4000, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "case"]),
            # Only open reviews carry a time: the sweep reads what is due, however many
            # shares there are.
            models.Index(
                fields=["escalation_due_at"],
                name="share_escalation_due",
                condition=models.Q(escalation_due_at__isnull=False),
            ),
            # A setting's open reviews in the queue's order (deadline, the undated last; then
            # urgency, submission, id): a page of the queue reads a page of this index, and
            # its counts read the setting's open reviews alone. The proposer and the status are
            # carried for the queue's "not the person's own" test and the home page's counts,
            # which then need no table row.
            models.Index(
                fields=["case_setting", "review_due_at", "urgency_rank", "submitted_at", "id"],
                name="share_review_queue",
                include=["proposed_by", "status"],
                condition=models.Q(status__in=sorted(choices.UNDER_REVIEW)),
            ),
            # A person's own proposals in a setting, newest first: "my shares" reads a page of
            # it. The setting is in the key, as an equality, so the plan walks this index
            # whatever the planner guesses of how a person's shares and cases correlate; the
            # case is carried for the test of access, so the page's count reads no table row.
            models.Index(
                fields=["proposed_by", "case_setting", "-created_at", "-id"],
                name="share_proposed_newest",
                include=["case"],
            ),
            # A person's drafts in a setting, the last edited first: their home page's drafts.
            models.Index(
                fields=["proposed_by", "case_setting", "-updated_at", "-id"],
                name="share_drafts_last_edited",
                condition=models.Q(status=choices.ShareStatus.DRAFT),
            ),
        ]

    def __str__(self) -> str:
        return f"Share #{self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Copied once, at the first save: a share never changes case, nor a case its
        # setting. Every share is created through here (services.share_propose).
        if self.case_setting_id is None:
            self.case_setting_id = self.case.organisation_id
        super().save(*args, **kwargs)

    @property
    def organisation(self) -> Organisation:
        return self.case.organisation

    @property
    def statutory_gateway_labels(self) -> list[str]:
        labels = dict(choices.StatutoryGateway.choices)
        return [labels.get(code, code) for code in self.statutory_gateways or []]

    @property
    def is_draft(self) -> bool:
        return self.status == choices.ShareStatus.DRAFT

    @property
    def is_under_review(self) -> bool:
        """Waiting for a lead's decision (a retrospective one included): its deadline runs."""
        return self.status in choices.UNDER_REVIEW


class ShareItem(models.Model):
    """One piece of information, chosen on its own and justified (never "the whole file")."""

    share = models.ForeignKey(Share, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField(default=0)
    category = models.CharField(max_length=20, choices=choices.ItemCategory.choices)
    content = models.TextField(max_length=8000)
    necessity = models.TextField("why it is needed", max_length=2000, blank=True)
    is_special_category = models.BooleanField(
        "special category data",
        default=False,
        help_text="Health, ethnicity, religion, sex life or sexual orientation, and similar.",
    )
    identifies_third_party = models.BooleanField(
        "identifies someone else",
        default=False,
        help_text="The referrer, a witness or another child.",
    )
    # What a redaction must take out; the release refuses a redacted text still holding it.
    third_party_details = models.TextField(
        "who it identifies",
        max_length=2000,
        blank=True,
        help_text=(
            "The names, addresses or other details that identify them, to take out if it is "
            "redacted. Separate each with a comma or a new line."
        ),
    )
    third_party_handling = models.CharField(
        max_length=10, choices=choices.ThirdPartyHandling.choices, blank=True, default=""
    )
    redacted_content = models.TextField(max_length=8000, blank=True)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return f"{self.get_category_display()} (item {self.position + 1})"

    @property
    def counts_as_special_category(self) -> bool:
        """Special category data by its category or by its box: read this, not the box alone."""
        return choices.counts_as_special_category(self.category, self.is_special_category)

    @property
    def content_to_send(self) -> str:
        if self.third_party_handling == choices.ThirdPartyHandling.REDACTED:
            return self.redacted_content
        return self.content
