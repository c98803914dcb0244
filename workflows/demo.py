"""Demonstration data: two settings, their people, children, and shares in every state.

For demonstration only: every account has the password ``safeshare-demo``, and every account
whose role signs in with a second factor has the same published authenticator secret,
``DEMO_AUTHENTICATOR_SECRET`` (``manage.py demo_code`` prints its current code).

The story is played over the three weeks before the seeding, step by step through the same
services people use, on a clock of its own (``_story_clock``): each record, task, version,
timer and audit entry carries the moment its step happened in the story, so every share is
proposed before it is submitted, submitted before it is decided, decided before it is
released, and the reports show real times (hours and days), never negative ones.
"""

from __future__ import annotations

from base64 import b32decode
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any
from unittest import mock

import django.utils.timezone
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from cases import app_settings, choices, services
from cases.models import Carer, Case, Child, Membership, Organisation, Recipient, Share
from cases.services import case_team_add, membership_start

from . import steps
from .flows import ShareFlow

DEMO_PASSWORD = "safeshare-demo"  # noqa: S105 - published in the README, demo only
# The authenticator secret of every demo account that needs a second factor, as typed into
# an app (base32). Published in the README, demo only.
DEMO_AUTHENTICATOR_SECRET = "ONQWMZLTNBQXEZJNMRSW23ZNN5XGY6JB"  # noqa: S105
OAKFIELD = "Oakfield Nursery"
RIVERSIDE = "Riverside Primary School"

PEOPLE = [
    # username, full name, setting, role
    ("lead", "Grace Lead", OAKFIELD, choices.Role.LEAD),
    ("deputy", "Dan Deputy", OAKFIELD, choices.Role.DEPUTY),
    ("practitioner", "Priya Practitioner", OAKFIELD, choices.Role.PRACTITIONER),
    ("colleague", "Colin Colleague", OAKFIELD, choices.Role.PRACTITIONER),
    ("manager", "Mona Manager", OAKFIELD, choices.Role.MANAGER),
    ("auditor", "Arun Auditor", OAKFIELD, choices.Role.AUDITOR),
    ("otherlead", "Olu Otherlead", RIVERSIDE, choices.Role.LEAD),
]

CHILDREN = [
    # reference, first, last, date of birth, setting, on the practitioner's team, UPN, room
    ("OAK-001", "Maisie", "Thompson", date(2022, 3, 14), OAKFIELD, True, "", "Toddlers"),
    ("OAK-002", "Leo", "Okafor", date(2021, 11, 2), OAKFIELD, True, "", "Pre-school"),
    ("OAK-003", "Ava", "Patel", date(2022, 7, 30), OAKFIELD, False, "", "Toddlers"),
    ("RIV-001", "Noah", "Williams", date(2016, 5, 9), RIVERSIDE, False, "H801200001001", "Year 5"),
    ("RIV-002", "Ella", "Hughes", date(2017, 1, 21), RIVERSIDE, False, "X801200001002", "Year 4"),
]


_AGENCY_KINDS = {
    "social_care": choices.AgencyKind.SOCIAL_CARE,
    "health": choices.AgencyKind.HEALTH,
    "mash": choices.AgencyKind.SOCIAL_CARE,
    "dsl": choices.AgencyKind.SCHOOL,
}


def _complete_fields(recipient: Recipient, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "purpose": "Inform children's social care of a safeguarding concern for assessment.",
        "direction": choices.Direction.OUTBOUND,
        "urgency": choices.Urgency.URGENT,
        "lawful_basis": choices.LawfulBasis.LEGITIMATE_INTERESTS,
        "consent_status": choices.ConsentStatus.NOT_SOUGHT,
        "consent_not_sought_reason": choices.ConsentNotSoughtReason.WOULD_INCREASE_RISK,
        "family_informed": choices.FamilyInformed.NOT_TOLD,
        "family_not_told_reason": choices.FamilyNotToldReason.INCREASE_RISK,
        "risk_if_shared": "The family may disengage from the nursery for a while.",
        "risk_if_not_shared": "Unexplained bruising could continue without an assessment.",
        "recipient": recipient,
        "sending_method": choices.SendingMethod.SECURE_EMAIL,
        "statutory_gateways": [choices.StatutoryGateway.CA1989_S47],
    }
    fields.update(overrides)
    return fields


def _items(with_third_party: bool = False) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [
        {
            "category": choices.ItemCategory.OBSERVATION,
            "content": "Bruising seen on the upper arm at drop-off on Monday; body map recorded.",
            "necessity": "Social care needs the observation to decide whether to assess.",
        },
        {
            "category": choices.ItemCategory.ATTENDANCE,
            "content": "Attendance fell from 95% to 60% over the last half term.",
            "necessity": "Shows a change in pattern alongside the injury.",
        },
    ]
    if with_third_party:
        items.append(
            {
                "category": choices.ItemCategory.CONCERN,
                "content": "Another parent, Ms J. Rowe, reported shouting heard from the flat.",
                "necessity": "A second account of concern from outside the nursery.",
                "identifies_third_party": True,
                "third_party_details": "Ms J. Rowe",
            }
        )
    return items


class StoryClockError(RuntimeError):
    """The demo's story cannot be played at the times it needs."""


@contextmanager
def _story_clock(start: datetime) -> Iterator[_Story]:
    """Read every ``timezone.now()`` as the story's moment while the demo is seeded.

    Django's ``timezone.now()`` (which model defaults, viewflow and every service call,
    however they imported it) reads ``datetime.now`` in ``django.utils.timezone``: that one
    name is replaced, and only for the seeding. Time never runs backwards in the story, nor
    past the real present, so the audit chain stays in order.
    """
    real_now = timezone.now()
    story = _Story(start, real_now)

    class _Meta(type):
        def __instancecheck__(cls, instance: object) -> bool:
            return isinstance(instance, datetime)

    class _StoryTime(datetime, metaclass=_Meta):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            moment = story.moment
            return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)

    with mock.patch.object(django.utils.timezone, "datetime", _StoryTime):
        if timezone.now() != start:
            raise StoryClockError("Django no longer reads the time where the demo sets it.")
        yield story


class _Story:
    """Where the demo's story has got to: a moment before the real present."""

    def __init__(self, start: datetime, real_now: datetime) -> None:
        self.moment = start
        self.real_now = real_now

    def ago(self, days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
        """Move the story on to this long before the seeding, and return that moment."""
        moment = self.real_now - timedelta(days=days, hours=hours, minutes=minutes)
        if moment < self.moment:
            raise StoryClockError(f"The story would go back in time, to {moment}.")
        self.moment = moment
        return moment


def _user(username: str, full_name: str) -> Any:
    user_model = get_user_model()
    first, last = full_name.split(" ", 1)
    user, created = user_model.objects.get_or_create(
        username=username,
        defaults={"first_name": first, "last_name": last, "email": f"{username}@example.org"},
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user


def demo_authenticator_key() -> str:
    """The demo secret as django-otp stores a key (hex)."""
    return b32decode(DEMO_AUTHENTICATOR_SECRET).hex()


def _demo_authenticator(user: Any) -> None:
    if not TOTPDevice.objects.filter(user=user).exists():
        TOTPDevice.objects.create(
            user=user, key=demo_authenticator_key(), confirmed=True, name="Demo authenticator"
        )


def _settings() -> dict[str, Organisation]:
    oakfield, _ = Organisation.objects.get_or_create(
        name=OAKFIELD, defaults={"kind": choices.OrganisationKind.NURSERY}
    )
    riverside, _ = Organisation.objects.get_or_create(
        name=RIVERSIDE,
        defaults={"kind": choices.OrganisationKind.SCHOOL, "is_public_authority": True},
    )
    return {OAKFIELD: oakfield, RIVERSIDE: riverside}


def _week_of(day: date) -> tuple[date, date]:
    """Monday to Friday of the week a day falls in."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=4)


def _term_dates(organisation: Organisation, lead: Any) -> None:
    """The last autumn half-term, and the coming Christmas holiday and spring half-term, each
    relative to today, so the Term dates page shows closures past and ahead."""
    if organisation.closures.exists():
        return
    today = timezone.localdate()

    def christmas(year: int) -> tuple[date, date]:
        # Two school weeks from the Monday of the week of 22 December.
        first, _ = _week_of(date(year, 12, 22))
        return first, first + timedelta(days=11)

    def coming(dates: Any) -> tuple[date, date]:
        this_year = dates(today.year)
        return this_year if this_year[1] >= today else dates(today.year + 1)

    def autumn(year: int) -> tuple[date, date]:
        return _week_of(date(year, 10, 28))

    last_autumn = autumn(today.year) if autumn(today.year)[1] < today else autumn(today.year - 1)
    for name, (first, last) in (
        ("Autumn half-term", last_autumn),
        ("Christmas holiday", coming(christmas)),
        ("Spring half-term", coming(lambda year: _week_of(date(year, 2, 16)))),
    ):
        services.closure_add(
            organisation=organisation, first_day=first, last_day=last, name=name, by=lead
        )


def _shares(
    people: dict[str, Any],
    cases: dict[str, Case],
    recipients: dict[str, Recipient],
    story: _Story,
) -> int:
    """Each share's steps, in the order they happened: the story's clock only moves on."""
    practitioner, lead, deputy = people["practitioner"], people["lead"], people["deputy"]
    social_care, health = recipients["social_care"], recipients["health"]
    maisie, leo = cases["OAK-001"], cases["OAK-002"]
    ago = story.ago

    def propose(case: Case, by: Any, third_party: bool = False, **overrides: Any) -> Share:
        recipient = overrides.pop("recipient", social_care)
        return steps.propose(
            case=case,
            user=by,
            fields=_complete_fields(recipient, **overrides),
            items=_items(third_party),
        )

    # The shares are proposed in the order the tests know them by (their ids); each step
    # after that comes at its own moment, so the script reads in the order things happened.

    # A draft, still being prepared, on which the practitioner asked advice without naming
    # Maisie: the lead has answered; a colleague (not on the case) has yet to.
    ago(days=12, hours=3)
    draft = steps.propose(
        case=maisie,
        user=practitioner,
        fields={"purpose": "Ask the health visitor to check on weight loss.", "recipient": health},
        items=[
            {
                "category": choices.ItemCategory.HEALTH,
                "content": "Weight has dropped two centiles since January; "
                "Sam Thompson says Maisie is eating well at home.",
                "necessity": "",
                "is_special_category": True,
            }
        ],
    )
    # Awaiting lead review: urgent, and left undecided long past its deadline (overdue now).
    # At the first sweep of the timers (within 30 s of `make run`) the lead is reminded, and
    # the deputy and the manager are brought in.
    ago(days=12, hours=1)
    overdue = propose(leo, practitioner, urgency=choices.Urgency.URGENT)
    ago(days=12)
    steps.submit(share=overdue, user=practitioner)
    # Approved after two hours, waiting for the practitioner to record the release.
    ago(days=11, hours=6)
    approved = propose(maisie, practitioner, third_party=True)
    ago(days=11, hours=5)
    steps.submit(share=approved, user=practitioner)
    ago(days=11, hours=4)
    steps.note_opened(approved, ShareFlow.lead_review, lead)
    ago(days=11, hours=3)
    steps.decide(
        share=approved,
        user=lead,
        outcome=choices.Outcome.APPROVE,
        reasons="Necessary and proportionate: the bruising needs assessment today.",
    )
    # Approved in part after five hours, by the deputy.
    ago(days=10, hours=2)
    in_part = propose(leo, practitioner, third_party=True)
    ago(days=10)
    steps.submit(share=in_part, user=practitioner)
    ago(days=9, hours=19)
    steps.decide(
        share=in_part,
        user=deputy,
        outcome=choices.Outcome.APPROVE_IN_PART,
        reasons="The observation is needed; the other parent's account is not ours to pass on.",
        approved_item_ids=list(
            in_part.items.filter(identifies_third_party=False).values_list("pk", flat=True)
        ),
    )
    # Released, an hour after a decision that took a day and four hours.
    # The family could not be told yet: a follow-up to tell them falls due.
    ago(days=9, hours=2)
    released = propose(
        maisie,
        practitioner,
        urgency=choices.Urgency.ROUTINE,
        family_not_told_reason=choices.FamilyNotToldReason.NOT_YET_POSSIBLE,
        family_not_told_detail="The parent is abroad until next week; no phone contact.",
    )
    ago(days=9)
    steps.submit(share=released, user=practitioner)
    ago(days=8, hours=21)
    steps.note_opened(released, ShareFlow.lead_review, lead)
    ago(days=7, hours=20)
    steps.decide(
        share=released,
        user=lead,
        outcome=choices.Outcome.APPROVE,
        reasons="Agreed with social care this morning; share the two items.",
    )
    sent = ago(days=7, hours=19)
    ago(days=7, hours=18, minutes=30)
    steps.record_release(
        share=released,
        user=practitioner,
        sent_at=sent,
        note="Sent to the duty inbox; receipt acknowledged by phone.",
    )
    # Refused after two days: the health visitor already had it.
    ago(days=6, hours=3)
    refused = propose(leo, practitioner, urgency=choices.Urgency.ROUTINE, recipient=health)
    ago(days=6)
    steps.submit(share=refused, user=practitioner)
    ago(days=5, hours=20)
    steps.note_opened(refused, ShareFlow.lead_review, lead)
    ago(days=3, hours=22)
    steps.decide(
        share=refused,
        user=lead,
        outcome=choices.Outcome.REFUSE,
        refusal_reason=choices.RefusalReason.ALREADY_HELD,
        reasons="The health visitor saw Leo yesterday and recorded the same concern.",
    )
    # Returned for more information after five hours: back in draft with the lead's note.
    ago(days=2, hours=9)
    returned = propose(maisie, practitioner)
    ago(days=2, hours=8)
    steps.submit(share=returned, user=practitioner)
    ago(days=2, hours=3)
    steps.decide(
        share=returned,
        user=lead,
        outcome=choices.Outcome.RETURN,
        reasons="Add what Maisie said about the bruise, in her own words.",
    )
    # The advice on the draft.
    ago(days=1, hours=23, minutes=30)
    asked = services.advice_ask(
        share=draft,
        user=practitioner,
        adviser=lead,
        question="Maisie Thompson (born 14/03/2022) has lost weight again. Should I tell "
        "her mum before I ask the health visitor, or would consent be the wrong route?",
    )
    ago(days=1, hours=20)
    services.advice_give(
        consultation=asked,
        user=lead,
        advice="Tell the parent first and ask for consent: nothing suggests it would put the "
        "child at risk. Record the answer in the consent section.",
    )
    ago(hours=20)
    services.advice_ask(
        share=draft,
        user=practitioner,
        adviser=people["colleague"],
        question="Have you seen a drop in weight like this in your room before?",
    )
    # Released at once in an emergency a minute ago, awaiting the lead's retrospective
    # review, due by the end of the working day (today's, when seeded in working hours).
    # Recorded last, so its review's halfway reminder is not already due at the first sweep.
    ago(minutes=14)
    emergency = propose(maisie, practitioner, urgency=choices.Urgency.IMMEDIATE)
    # Withdrawn by the proposer.
    ago(minutes=12)
    withdrawn = propose(leo, practitioner)
    ago(minutes=10)
    steps.withdraw(
        share=withdrawn,
        user=practitioner,
        reason="The family have moved to another area; the new nursery will refer.",
    )

    riverside_lead = people["otherlead"]
    riverside_case = cases["RIV-001"]
    mash = recipients["mash"]
    ago(minutes=4)
    school_share = steps.propose(
        case=riverside_case,
        user=riverside_lead,
        fields=_complete_fields(
            mash,
            lawful_basis=choices.LawfulBasis.PUBLIC_TASK,
            lawful_basis_power="Children Act 2004 s11",
        ),
        items=_items(),
    )
    ago(minutes=3)
    steps.submit(share=school_share, user=riverside_lead)

    sent = ago(minutes=2)
    ago(minutes=1)
    steps.release_in_emergency(
        share=emergency,
        user=practitioner,
        justification="Maisie said she was afraid to go home tonight; lead and deputy on a "
        "course with phones off. Duty social worker needed it before collection at 17:30.",
        sent_at=sent,
    )
    return Share.objects.count()


# How long before the seeding the story begins: the settings, their people and children.
STORY_LENGTH = timedelta(days=21)


@transaction.atomic
def seed_demo() -> dict[str, int]:
    """Create the demonstration data; running it again adds nothing."""
    with _story_clock(timezone.now() - STORY_LENGTH) as story:
        return _seed(story)


def _seed(story: _Story) -> dict[str, int]:
    settings = _settings()
    people = {}
    for username, full_name, setting_name, role in PEOPLE:
        user = _user(username, full_name)
        organisation = settings[setting_name]
        if not Membership.objects.filter(
            user=user, organisation=organisation, ended_at__isnull=True
        ).exists():
            membership_start(user=user, organisation=organisation, role=role)
        people[username] = user
        if role in app_settings.get("SAFESHARE_MFA_REQUIRED_ROLES"):
            _demo_authenticator(user)

    cases = {}
    for reference, first, last, born, setting_name, on_team, upn, room in CHILDREN:
        organisation = settings[setting_name]
        case = Case.objects.filter(organisation=organisation, reference=reference).first()
        if case is None:
            child = Child.objects.create(
                organisation=organisation,
                first_name=first,
                last_name=last,
                date_of_birth=born,
                unique_pupil_number=upn,
                year_group=room,
                address=f"{len(first)} Demo Street, Northshire",
                privacy_notice_given_on=date(2024, 9, 2),
                privacy_notice_version="2024-09",
            )
            Carer.objects.create(
                child=child,
                name=f"Sam {last}",
                relationship="Parent",
                has_parental_responsibility=True,
            )
            case = Case.objects.create(child=child, organisation=organisation, reference=reference)
            if on_team:
                case_team_add(case=case, user=people["practitioner"])
        cases[reference] = case

    recipients = {
        "social_care": (
            "Sam Carter",
            "Duty social worker",
            "Northshire Children's Social Care",
            OAKFIELD,
        ),
        "health": ("Dr Priya Shah", "Health visitor", "Northshire Health Visiting Team", OAKFIELD),
        "mash": (
            "Jordan Lee",
            "MASH officer",
            "Northshire Multi-Agency Safeguarding Hub",
            RIVERSIDE,
        ),
        # A school in another area, outside this installation: a child's file goes to its
        # lead by secure link.
        "dsl": (
            "Jo Bright",
            "Designated Safeguarding Lead",
            "Hilltop Primary School, Westshire",
            OAKFIELD,
        ),
    }
    address_book = {}
    for key, (person, job, agency, setting_name) in recipients.items():
        domain = "hilltop.westshire" if key == "dsl" else "northshire"
        address_book[key], _ = Recipient.objects.get_or_create(
            organisation=settings[setting_name],
            person_name=person,
            agency_name=agency,
            defaults={
                "role": job,
                "agency_kind": _AGENCY_KINDS[key],
                "secure_email": f"{key}@{domain}.example.org",
                # Confirmed with their organisations, so a share to them can go by secure
                # link; the health visitor's address is not yet (it can be recorded only).
                "secure_email_verified_at": (
                    None if key == "health" else timezone.now() - timedelta(days=40)
                ),
            },
        )

    shares = Share.objects.count()
    if not Share.objects.filter(case__organisation__in=settings.values()).exists():
        shares = _shares(people, cases, address_book, story)
    # Entered now, after the story: its entries follow every other in the audit chain.
    story.ago()
    for setting_name, lead in ((OAKFIELD, people["lead"]), (RIVERSIDE, people["otherlead"])):
        _term_dates(settings[setting_name], lead)
    return {"settings": len(settings), "people": len(people), "cases": len(cases), "shares": shares}
