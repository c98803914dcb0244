from __future__ import annotations

from datetime import date
from typing import Any

import factory
from django.contrib.auth import get_user_model

from cases import choices
from cases.models import Case, Child, Membership, Organisation, Recipient
from cases.services import membership_start


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw")


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Setting {n}")
    kind = choices.OrganisationKind.NURSERY


class MembershipFactory(factory.django.DjangoModelFactory):
    """Starts memberships through the service, so the person's access follows at once."""

    class Meta:
        model = Membership

    @classmethod
    def _create(cls, model_class: type, *args: Any, **kwargs: Any) -> Membership:
        return membership_start(**kwargs)

    user = factory.SubFactory(UserFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    role = choices.Role.PRACTITIONER


class ChildFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Child

    organisation = factory.SubFactory(OrganisationFactory)
    first_name = factory.Sequence(lambda n: f"Childname{n}")
    last_name = "Example"
    date_of_birth = date(2020, 1, 1)


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case

    organisation = factory.SubFactory(OrganisationFactory)
    # The child is on the roll of the case's own setting.
    child = factory.SubFactory(ChildFactory, organisation=factory.SelfAttribute("..organisation"))
    reference = factory.Sequence(lambda n: f"REF-{n:04d}")


class RecipientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Recipient

    organisation = factory.SubFactory(OrganisationFactory)
    person_name = "Sam Carter"
    role = "Social worker"
    agency_name = "Northshire Children's Social Care"
    agency_kind = "social_care"
    secure_email = "duty@northshire.example.org"


def complete_fields(recipient: Recipient, **overrides: Any) -> dict[str, Any]:
    """Share fields that satisfy every submission rule; override one to break a rule."""
    fields: dict[str, Any] = {
        "purpose": "Refer a concern to children's social care.",
        "direction": choices.Direction.OUTBOUND,
        "urgency": choices.Urgency.URGENT,
        "lawful_basis": choices.LawfulBasis.LEGITIMATE_INTERESTS,
        "consent_status": choices.ConsentStatus.NOT_SOUGHT,
        "consent_not_sought_reason": choices.ConsentNotSoughtReason.WOULD_INCREASE_RISK,
        "family_informed": choices.FamilyInformed.NOT_TOLD,
        "family_not_told_reason": choices.FamilyNotToldReason.INCREASE_RISK,
        "risk_if_shared": "The family may disengage.",
        "risk_if_not_shared": "Harm may continue unassessed.",
        "recipient": recipient,
        "sending_method": choices.SendingMethod.SECURE_EMAIL,
    }
    if recipient.organisation.is_public_authority:
        # Art 6(1)(f) is not open to a public authority: it relies on its public task.
        fields["lawful_basis"] = choices.LawfulBasis.PUBLIC_TASK
        fields["lawful_basis_power"] = "Children Act 2004 s11"
    fields.update(overrides)
    return fields


def item(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "category": choices.ItemCategory.OBSERVATION,
        "content": "Bruise on the left forearm seen at drop-off.",
        "necessity": "Needed for social care to decide whether to assess.",
    }
    data.update(overrides)
    return data


def submitted_share(
    case: Case, user: Any, recipient: Recipient, urgency: str = choices.Urgency.ROUTINE
) -> Any:
    """A complete share proposed and submitted through the flow's steps, as a page does."""
    from workflows import steps  # late: the factories serve tests that never load the flow

    share = steps.propose(
        case=case, user=user, fields=complete_fields(recipient, urgency=urgency), items=[item()]
    )
    return steps.submit(share=share, user=user)
