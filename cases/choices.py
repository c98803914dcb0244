"""The vocabulary of a sharing decision, in the words of the guidance and the law."""

from django.db import models


class OrganisationKind(models.TextChoices):
    NURSERY = "nursery", "Nursery"
    SCHOOL = "school", "School"
    HEALTH = "health", "Health team or GP practice"
    SOCIAL_CARE = "social_care", "Social care team"
    CHILDMINDER = "childminder", "Childminder (one-person setting)"


class AgencyKind(models.TextChoices):
    """The kind of organisation an address book entry works for. The first three are the
    settings' own kinds: a child protection file goes outside the installation only to them."""

    NURSERY = "nursery", "Nursery"
    SCHOOL = "school", "School"
    CHILDMINDER = "childminder", "Childminder"
    SOCIAL_CARE = "social_care", "Children's social care or MASH"
    HEALTH = "health", "Health"
    POLICE = "police", "Police"
    OTHER = "other", "Another organisation"


# Where a child is educated or cared for day to day: the settings a child protection file
# moves between when the child changes setting (Keeping Children Safe in Education). A
# health or social care team receives information only by a share, decided and recorded.
EDUCATION_SETTING_KINDS = frozenset(
    {OrganisationKind.NURSERY, OrganisationKind.SCHOOL, OrganisationKind.CHILDMINDER}
)


class CalendarRegion(models.TextChoices):
    ENGLAND_WALES = "england_wales", "England and Wales"
    SCOTLAND = "scotland", "Scotland"
    NORTHERN_IRELAND = "northern_ireland", "Northern Ireland"


class Role(models.TextChoices):
    PRACTITIONER = "practitioner", "Practitioner"
    LEAD = "lead", "Designated Safeguarding Lead"
    DEPUTY = "deputy", "Deputy Safeguarding Lead"
    MANAGER = "manager", "Manager"
    AUDITOR = "auditor", "Auditor / Data Protection Officer"


DECIDING_ROLES = frozenset({Role.LEAD, Role.DEPUTY})


class ShareStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    AWAITING_REVIEW = "awaiting_review", "Awaiting lead review"
    APPROVED = "approved", "Approved, awaiting release"
    APPROVED_IN_PART = "approved_in_part", "Approved in part, awaiting release"
    RELEASED = "released", "Released"
    RELEASED_IN_EMERGENCY = (
        "released_in_emergency",
        "Released in an emergency, awaiting the lead's review",
    )
    REFUSED = "refused", "Refused"
    WITHDRAWN = "withdrawn", "Withdrawn"


# A lead's decision is awaited: a submitted share, or one already released in an emergency.
UNDER_REVIEW = frozenset({ShareStatus.AWAITING_REVIEW, ShareStatus.RELEASED_IN_EMERGENCY})


class Direction(models.TextChoices):
    OUTBOUND = "outbound", "We propose to share"
    INBOUND = "inbound", "Answering a request from another agency"


class Urgency(models.TextChoices):
    IMMEDIATE = "immediate", "Immediate risk"
    URGENT = "urgent", "Urgent"
    ROUTINE = "routine", "Routine"


class LawfulBasis(models.TextChoices):
    """UK GDPR Article 6(1) conditions a safeguarding share may rely on."""

    LEGAL_OBLIGATION = "6_1_c", "Art 6(1)(c) legal obligation"
    VITAL_INTERESTS = "6_1_d", "Art 6(1)(d) vital interests"
    PUBLIC_TASK = "6_1_e", "Art 6(1)(e) public task"
    RECOGNISED_LEGITIMATE_INTEREST = (
        "6_1_ea",
        "Art 6(1)(ea) recognised legitimate interest: safeguarding",
    )
    LEGITIMATE_INTERESTS = "6_1_f", "Art 6(1)(f) legitimate interests"
    CONSENT = "6_1_a", "Art 6(1)(a) consent"


class Article9Condition(models.TextChoices):
    """UK GDPR Article 9(2) conditions for special category data."""

    EXPLICIT_CONSENT = "9_2_a", "Art 9(2)(a) explicit consent"
    VITAL_INTERESTS = "9_2_c", "Art 9(2)(c) vital interests (consent cannot be given)"
    SUBSTANTIAL_PUBLIC_INTEREST = "9_2_g", "Art 9(2)(g) substantial public interest"
    HEALTH_OR_SOCIAL_CARE = "9_2_h", "Art 9(2)(h) health or social care"


class Schedule1Paragraph(models.TextChoices):
    """DPA 2018 Schedule 1 paragraphs relied on with Art 9(2)(g) or (h)."""

    PARA_2 = "para_2", "Sch 1 para 2: health or social care purposes"
    PARA_6 = "para_6", "Sch 1 para 6: statutory and government purposes"
    # What police requests rely on for special category data, with Art 9(2)(g).
    PARA_10 = "para_10", "Sch 1 para 10: preventing or detecting unlawful acts"
    PARA_18 = "para_18", "Sch 1 para 18: safeguarding of children and individuals at risk"


class Para18Reason(models.TextChoices):
    CANNOT_BE_GIVEN = "cannot_be_given", "Consent cannot be given"
    CANNOT_REASONABLY_BE_OBTAINED = (
        "cannot_reasonably_be_obtained",
        "Consent cannot reasonably be expected to be obtained",
    )
    WOULD_PREJUDICE_PROTECTION = (
        "would_prejudice_protection",
        "Obtaining consent would prejudice the protection of the child",
    )


class StatutoryGateway(models.TextChoices):
    CA1989_S17 = "ca1989_s17", "Children Act 1989 s17 (child in need)"
    CA1989_S47 = "ca1989_s47", "Children Act 1989 s47 (enquiries)"
    CA2004_S10 = "ca2004_s10", "Children Act 2004 s10 (co-operation)"
    CA2004_S11 = "ca2004_s11", "Children Act 2004 s11 (duty to safeguard)"
    CDA1998_S115 = "cda1998_s115", "Crime and Disorder Act 1998 s115"
    PUBLIC_INTEREST = "public_interest", "Common-law public-interest override"


class ConsentStatus(models.TextChoices):
    GIVEN = "given", "Given"
    REFUSED = "refused", "Refused (sharing would override the refusal)"
    NOT_SOUGHT = "not_sought", "Not sought"


class ConsentNotSoughtReason(models.TextChoices):
    WOULD_INCREASE_RISK = "would_increase_risk", "Seeking it would increase the risk"
    WOULD_PREJUDICE_INVESTIGATION = (
        "would_prejudice_investigation",
        "Seeking it would prejudice an investigation",
    )
    NOT_POSSIBLE_IN_TIME = "not_possible_in_time", "Not possible in the time available"
    LACKS_CAPACITY = "lacks_capacity", "The person lacks capacity to consent"
    NOT_THE_BASIS = "not_the_basis", "Consent is not the lawful basis relied on"


class SendingMethod(models.TextChoices):
    SECURE_EMAIL = "secure_email", "Secure email"
    SECURE_PORTAL = "secure_portal", "Secure portal or case system"
    PHONE = "phone", "Telephone, followed up in writing"
    IN_PERSON = "in_person", "In person at a meeting"
    TRACKED_POST = "tracked_post", "Tracked post"
    # Sent by Safeshare itself: a link by email, opened with a code given by phone.
    SECURE_LINK = "safeshare_link", "Safeshare secure link"


# How a proposer plans to send a share: any way but Safeshare's own link, which is not
# planned but done ("Send securely"), and only a release made that way may say so.
PLANNED_SENDING_METHODS = [
    (value, label) for value, label in SendingMethod.choices if value != SendingMethod.SECURE_LINK
]


class ItemCategory(models.TextChoices):
    CONCERN = "concern", "Concern or disclosure"
    OBSERVATION = "observation", "Observation"
    ATTENDANCE = "attendance", "Attendance"
    HEALTH = "health", "Health or development"
    ETHNICITY_RELIGION_OR_SEXUALITY = (
        "identity",
        "Ethnicity, religion or belief, sex life or sexual orientation",
    )
    FAMILY = "family", "Family circumstances"
    CHRONOLOGY_EXTRACT = "chronology_extract", "Extract from the chronology"
    OTHER = "other", "Other"


# Information of these kinds is special category data (UK GDPR Art 9(1)) by what it is, so
# an item in one of them needs an Art 9 condition whether or not its box was ticked. Other
# categories can hold special category data too (a concern may reveal a religion): their box
# says so.
SPECIAL_CATEGORY_BY_NATURE: frozenset[str] = frozenset(
    {ItemCategory.HEALTH, ItemCategory.ETHNICITY_RELIGION_OR_SEXUALITY}
)


def is_special_category_by_nature(category: object) -> bool:
    # Not a str: a bad value the item's own validation refuses; it is not special by nature.
    return isinstance(category, str) and category in SPECIAL_CATEGORY_BY_NATURE


def counts_as_special_category(category: object, marked_special: bool) -> bool:
    """Whether an item is special category data: by its category, or because it was marked so.

    The one answer every reader uses (the rules, the submitted version, the decision
    record, the share page), for items as stored and for items frozen in a version.
    """
    return bool(marked_special) or is_special_category_by_nature(category)


class ThirdPartyHandling(models.TextChoices):
    UNRESOLVED = "", "Not yet resolved"
    REDACTED = "redacted", "Redacted"
    CONFIRMED = "confirmed", "Confirmed to send as written"


class Outcome(models.TextChoices):
    APPROVE = "approve", "Approve"
    APPROVE_IN_PART = "approve_in_part", "Approve in part"
    REFUSE = "refuse", "Refuse"
    RETURN = "return", "Return for more information"


class RefusalReason(models.TextChoices):
    NOT_NECESSARY = "not_necessary", "Sharing is not necessary for the purpose"
    NOT_PROPORTIONATE = "not_proportionate", "Sharing would not be proportionate"
    NO_LAWFUL_BASIS = "no_lawful_basis", "No lawful basis applies"
    WRONG_RECIPIENT = "wrong_recipient", "The recipient does not need this information"
    RISK_OUTWEIGHS = "risk_outweighs", "The risk of sharing outweighs the risk of not sharing"
    ALREADY_HELD = "already_held", "The recipient already holds this information"
    OTHER = "other", "Other (explained below)"


class DecidingCapacity(models.TextChoices):
    LEAD = "lead", "Designated Safeguarding Lead"
    DEPUTY = "deputy", "Deputy, on behalf of the lead"
    SOLE_PRACTITIONER = "sole_practitioner", "Sole practitioner deciding their own share"


class FamilyInformed(models.TextChoices):
    TOLD = "told", "Yes: the family has been told"
    NOT_TOLD = "not_told", "No: the family has not been told"


class FamilyNotToldReason(models.TextChoices):
    INCREASE_RISK = "increase_risk", "Telling them would increase the risk to the child"
    PREJUDICE_INVESTIGATION = (
        "prejudice_investigation",
        "Telling them would prejudice a police or social care investigation",
    )
    # The only temporary reason: a follow-up to tell them falls due.
    NOT_YET_POSSIBLE = "not_yet_possible", "Not yet possible (they will be told)"


class AdviserCapacity(models.TextChoices):
    COLLEAGUE = "colleague", "A colleague"
    LEAD = "lead", "The Designated Safeguarding Lead or a deputy"
    DATA_PROTECTION_OFFICER = "dpo", "The data protection officer"
