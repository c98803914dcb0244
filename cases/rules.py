"""The golden rules as checks. Each returns {field: [plain-English message]} for what is wrong.

Item errors are keyed ``items.<index>.<field>`` so a form can show each one beside the
item it concerns. These functions read; the services in ``cases.services`` decide when
they apply and refuse the write.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date

from django.db import models

from . import choices, redaction
from .deadlines import today_in
from .models import Organisation, Share, ShareItem

Errors = dict[str, list[str]]

# The DPA 2018 Schedule 1 paragraphs each Art 9 condition may rest on. Art 9(2)(g) and (h)
# need one beside them (DPA 2018 s10); (a) and (c) stand alone and take none. Every condition
# is listed, so a new one cannot slip through unchecked.
_PARAGRAPHS_FOR_CONDITION: dict[str, frozenset[str]] = {
    choices.Article9Condition.EXPLICIT_CONSENT: frozenset(),
    choices.Article9Condition.VITAL_INTERESTS: frozenset(),
    choices.Article9Condition.SUBSTANTIAL_PUBLIC_INTEREST: frozenset(
        {
            choices.Schedule1Paragraph.PARA_6,
            choices.Schedule1Paragraph.PARA_10,
            choices.Schedule1Paragraph.PARA_18,
        }
    ),
    choices.Article9Condition.HEALTH_OR_SOCIAL_CARE: frozenset({choices.Schedule1Paragraph.PARA_2}),
}

# UK GDPR Art 6(1): neither (f) nor (ea) (added by the Data (Use and Access) Act 2025) is open
# to a public authority performing its tasks; it relies on (e) or (c) instead.
_NOT_FOR_PUBLIC_AUTHORITIES = frozenset(
    {choices.LawfulBasis.RECOGNISED_LEGITIMATE_INTEREST, choices.LawfulBasis.LEGITIMATE_INTERESTS}
)


def item_key(index: int, field: str) -> str:
    return f"items.{index}.{field}"


def _collect() -> defaultdict[str, list[str]]:
    return defaultdict(list)


def lawful_basis_errors(
    share: Share, items: Sequence[ShareItem], organisation: Organisation
) -> Errors:
    errors = _collect()
    if not share.lawful_basis:
        errors["lawful_basis"].append(
            "Choose the lawful basis (UK GDPR Article 6) this share relies on."
        )
    elif share.lawful_basis in _NOT_FOR_PUBLIC_AUTHORITIES and organisation.is_public_authority:
        basis = choices.LawfulBasis(share.lawful_basis).label
        errors["lawful_basis"].append(
            f"{organisation.name} is a public authority, so it cannot rely on {basis} for "
            "its tasks. Use Art 6(1)(e) public task (naming the power, for example Children "
            "Act 2004 s11) or Art 6(1)(c) legal obligation."
        )
    if (
        share.lawful_basis == choices.LawfulBasis.PUBLIC_TASK
        and not share.lawful_basis_power.strip()
    ):
        errors["lawful_basis_power"].append(
            "Name the power or duty the public task rests on, for example Children Act 2004 s11."
        )

    if any(item.counts_as_special_category for item in items):
        if not share.article9_condition:
            errors["article9_condition"].append(
                "This share includes special category data: choose the Article 9 condition "
                "relied on (usually Art 9(2)(g) with Schedule 1 paragraph 18)."
                + _special_by_nature_note(items)
            )
        allowed = _PARAGRAPHS_FOR_CONDITION.get(share.article9_condition)
        if allowed and not share.schedule1_paragraph:
            errors["schedule1_paragraph"].append(
                "Choose the DPA 2018 Schedule 1 paragraph that goes with this Article 9 condition."
            )
        elif allowed and share.schedule1_paragraph not in allowed:
            errors["schedule1_paragraph"].append(
                "This Schedule 1 paragraph does not go with the Article 9 condition chosen."
            )
        elif allowed is not None and not allowed and share.schedule1_paragraph:
            # A paragraph beside a condition that takes none would put a wrong law on the record.
            condition = choices.Article9Condition(share.article9_condition).label
            errors["schedule1_paragraph"].append(
                f"{condition} stands alone: it needs no DPA 2018 Schedule 1 paragraph, so "
                "leave the paragraph empty."
            )
        if share.schedule1_paragraph == choices.Schedule1Paragraph.PARA_18 and not (
            share.para18_reason
        ):
            errors["para18_reason"].append(
                "Paragraph 18 applies only when consent cannot be given, cannot reasonably be "
                "obtained, or obtaining it would prejudice the child's protection: say which."
            )
    errors.update(gateway_errors(share))
    return dict(errors)


def _special_by_nature_note(items: Sequence[ShareItem]) -> str:
    """Which items count by their category, since a box left unticked does not take them out."""
    by_nature = [
        f"item {index + 1} ({item.get_category_display()})"
        for index, item in enumerate(items)
        if choices.is_special_category_by_nature(item.category)
    ]
    if not by_nature:
        return ""
    named = ", ".join(by_nature)
    return (
        f" {named[0].upper()}{named[1:]}: information of that kind is always special "
        "category data, whether or not its box is ticked."
    )


def gateway_errors(share: Share) -> Errors:
    gateways = share.statutory_gateways
    if not isinstance(gateways, list) or not set(gateways) <= set(choices.StatutoryGateway.values):
        return {"statutory_gateways": ["Choose gateways from the list only."]}
    return {}


def consent_errors(share: Share) -> Errors:
    errors = _collect()
    if not share.consent_status:
        errors["consent_status"].append("Record the consent status: given, refused, or not sought.")
    elif share.consent_status == choices.ConsentStatus.NOT_SOUGHT:
        if not share.consent_not_sought_reason:
            errors["consent_not_sought_reason"].append("Say why consent was not sought.")
    elif (
        share.consent_status == choices.ConsentStatus.REFUSED
        and not share.consent_override_justification.strip()
    ):
        errors["consent_override_justification"].append(
            "Consent was refused: explain why sharing is still justified. "
            "Only the lead or a deputy can approve a share against a refusal."
        )
    return dict(errors)


def risk_errors(share: Share) -> Errors:
    errors = _collect()
    if not share.risk_if_shared.strip():
        errors["risk_if_shared"].append(
            "Describe the risk to the child or others if this information is shared."
        )
    if not share.risk_if_not_shared.strip():
        errors["risk_if_not_shared"].append(
            "Describe the risk to the child or others if it is not shared."
        )
    return dict(errors)


def recipient_errors(share: Share) -> Errors:
    errors = _collect()
    if share.recipient is None:
        errors["recipient"].append(
            "Choose the named person, at a named organisation, who will receive this."
        )
    elif share.recipient.organisation_id != share.case.organisation_id:
        errors["recipient"].append("Choose a recipient from this setting's address book.")
    elif share.recipient.retired_at is not None:
        errors["recipient"].append(
            f"{share.recipient} has been retired from the address book: choose who receives "
            "this now."
        )
    if not share.sending_method:
        errors["sending_method"].append("Choose the secure method of sending.")
    elif share.sending_method not in dict(choices.PLANNED_SENDING_METHODS):
        errors["sending_method"].append("Choose one of the methods of sending offered.")
    if not share.purpose.strip():
        errors["purpose"].append("Say what the share is for.")
    if share.direction == choices.Direction.INBOUND and not share.requested_by.strip():
        errors["requested_by"].append("Say who asked for this information.")
    return dict(errors)


# More than any one share needs; a bound on what a single save may write.
MAX_ITEMS_PER_SHARE = 50


def item_count_errors(count: int) -> Errors:
    if count > MAX_ITEMS_PER_SHARE:
        return {
            "items": [
                f"A share can hold at most {MAX_ITEMS_PER_SHARE} items (this has {count}): "
                "split it into more than one share."
            ]
        }
    return {}


def item_errors(items: Sequence[ShareItem]) -> Errors:
    errors = _collect()
    if not items:
        errors["items"].append(
            "Add at least one item: choose each piece of information on its own."
        )
    for index, item in enumerate(items):
        if not item.necessity.strip():
            errors[item_key(index, "necessity")].append(
                "Say why this item is needed for the purpose."
            )
        # Without them, nothing can tell whether a redaction on release took the person out.
        if item.identifies_third_party and not item.third_party_details.strip():
            errors[item_key(index, "third_party_details")].append(
                "Say who this item identifies: the names, addresses or other details to take "
                "out if it is redacted."
            )
    return dict(errors)


def third_party_errors(items: Iterable[ShareItem]) -> Errors:
    """Before release: every item naming someone else is redacted or knowingly confirmed."""
    errors = _collect()
    for index, item in enumerate(items):
        if not item.identifies_third_party:
            continue
        if item.third_party_handling == choices.ThirdPartyHandling.REDACTED:
            for message in _redaction_errors(item):
                errors[item_key(index, "redacted_content")].append(message)
        elif item.third_party_handling != choices.ThirdPartyHandling.CONFIRMED:
            errors[item_key(index, "third_party_handling")].append(
                "This item identifies someone else (a referrer, witness or another child): "
                "redact it, or confirm it must be sent as written."
            )
    return dict(errors)


def _redaction_errors(item: ShareItem) -> list[str]:
    """A text recorded as "redacted" must have had the flagged person taken out of it."""
    redacted = item.redacted_content
    if not redacted.strip():
        return ["Enter the redacted text that will be sent."]
    if redaction.same_text(redacted, item.content):
        return [
            "This is the original text: take out what identifies someone else, or confirm "
            "it must be sent as written."
        ]
    left = redaction.details_left_in(redacted, item.third_party_details)
    if left:
        return [
            f"The redacted text still contains {', '.join(f'“{found}”' for found in left)}, "
            "flagged as identifying someone else: take it out, or confirm the item must be "
            "sent as written."
        ]
    added = redaction.words_added(redacted, item.content)
    if added:
        return [
            "The redacted text adds words that are not in the text approved ("
            + ", ".join(f"“{word}”" for word in added[:8])
            + "): a redaction only takes out. Put what replaces a removed part in square "
            "brackets, for example [a neighbour]."
        ]
    long = redaction.long_replacements(redacted)
    if long:
        return [
            f"Keep each replacement in square brackets to {redaction.REPLACEMENT_LIMIT} "
            f"characters or fewer: {long[0][:60]}… says more than what was taken out."
        ]
    return []


def family_errors(share: Share, today: date | None = None) -> Errors:
    """Golden rule 2: the family was told (when, by whom), or the reason they were not."""
    errors = _collect()
    if share.family_informed == choices.FamilyInformed.TOLD:
        if share.family_informed_on is None:
            errors["family_informed_on"].append("Enter the date the family was told.")
        elif share.family_informed_on > (today or today_in(share.case.organisation)):
            errors["family_informed_on"].append("The date they were told cannot be in the future.")
        if not share.family_informed_by.strip():
            errors["family_informed_by"].append("Say who told the family.")
    elif share.family_informed == choices.FamilyInformed.NOT_TOLD:
        if not share.family_not_told_reason:
            errors["family_not_told_reason"].append("Say why the family has not been told.")
    else:
        errors["family_informed"].append(
            "Record whether the family has been told about this share, or why not."
        )
    return dict(errors)


def submission_errors(share: Share, items: Sequence[ShareItem]) -> Errors:
    organisation = share.case.organisation
    merged: Errors = {}
    for found in (
        lawful_basis_errors(share, items, organisation),
        consent_errors(share),
        family_errors(share),
        risk_errors(share),
        recipient_errors(share),
        item_errors(items),
    ):
        for key, messages in found.items():
            merged.setdefault(key, []).extend(messages)
    return merged


def approval_errors(share: Share, approved: Sequence[ShareItem], remedy: str) -> Errors:
    """Golden rule 1 again as a lead approves, for the items approved, keyed to the outcome.

    Submission checked it, but the share may have been submitted before a rule tightened (a
    public authority relying on Art 6(1)(f); a health item whose box was left unticked), and
    nothing may be approved in breach of the law as it stands. ``remedy`` tells the lead
    what they can do instead, which depends on the step they are at.
    """
    found = lawful_basis_errors(share, approved, share.case.organisation)
    if not found:
        return {}
    problems = [
        f"It cannot be approved as it stands. {message}"
        for messages in found.values()
        for message in messages
    ]
    return {"outcome": [*problems, remedy]}


def emergency_release_errors(share: Share) -> Errors:
    """An emergency release goes without the lead's sign-off, so only for immediate risk."""
    if share.urgency == choices.Urgency.IMMEDIATE:
        return {}
    return {
        "urgency": [
            f"This share is marked {share.get_urgency_display().lower()}. Only a share marked "
            "immediate risk can be released in an emergency, before the lead's review: "
            "submit it for review, or, if the child is at immediate risk, change its urgency "
            "on the draft first."
        ]
    }


def text_length_errors(instance: models.Model, prefix: str = "") -> Errors:
    """Django does not enforce max_length on TextField; a service must."""
    errors = _collect()
    for field in instance._meta.concrete_fields:
        limit = getattr(field, "max_length", None)
        value = getattr(instance, field.attname, None)
        if limit and isinstance(value, str) and len(value) > limit:
            errors[f"{prefix}{field.name}"].append(
                f"Keep this to {limit} characters or fewer (it has {len(value)})."
            )
    return dict(errors)


# Plausible dates. Every date a person types is of something that has already happened
# (a request made, a family told, information sent), so none may be after today in the
# setting's timezone; and none before 1 January 1900, which no record of a living child's
# case can predate (0001-01-01 and 9999-12-31 are typing or tampering, not history).
EARLIEST_PLAUSIBLE = date(1900, 1, 1)


def past_date_errors(field: str, value: date | None, today: date, what: str) -> Errors:
    """A date that must already have happened: not in the future, not before 1900."""
    if value is None:
        return {}
    if value > today:
        return {field: [f"{what} cannot be in the future."]}
    if value < EARLIEST_PLAUSIBLE:
        return {field: [f"{what} cannot be before {EARLIEST_PLAUSIBLE:%d %B %Y}: check the year."]}
    return {}


def share_date_errors(share: Share, today: date | None = None) -> Errors:
    """The draft's own dates, checked at every save: when they asked, when the family was told."""
    today = today or today_in(share.case.organisation)
    errors: Errors = {}
    errors.update(
        past_date_errors("requested_on", share.requested_on, today, "The date they asked")
    )
    errors.update(
        past_date_errors(
            "family_informed_on", share.family_informed_on, today, "The date they were told"
        )
    )
    return errors
