"""What an adviser may see of a share: the facts of the concern, never who the child is.

Golden rule 3: advice is sought with the child de-identified. Structured identifiers are
simply left out (names, date of birth, address, NHS number, pupil number, the recipient's
name). Free text is scrubbed of every name the setting knows for the child, the carers,
other children and their carers, the people named on the share and the setting's case
references, then of anything that looks like a date, postcode, phone number, email address
or identifier.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from .models import Carer, Case, Child, Share

_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_TITLES = ("Mr", "Mrs", "Ms", "Miss", "Mx", "Dr")
_TITLED = r"\b(" + "|".join(_TITLES) + r")\.?"

# An email address may be made of a name: it goes whole, before names are replaced in it.
_EMAIL = (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "[email]")

# Longest first, so "14 March 2019" is replaced whole before a bare "2019" could be.
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE), "[postcode]"),
    (
        re.compile(rf"\b\d{{1,2}}(st|nd|rd|th)?\s+(of\s+)?{_MONTH},?\s+\d{{4}}\b", re.IGNORECASE),
        "[date]",
    ),
    (
        re.compile(rf"\b{_MONTH}\s+\d{{1,2}}(st|nd|rd|th)?,?\s+\d{{4}}\b", re.IGNORECASE),
        "[date]",
    ),
    (re.compile(r"\b\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}\b"), "[date]"),
    (re.compile(r"\b[A-Z]\d{11}[A-Z\d]\b", re.IGNORECASE), "[identifier]"),  # pupil number
    (re.compile(r"\b\d{3}[\s-]?\d{3}[\s-]?\d{4}\b"), "[identifier]"),  # NHS number
    (re.compile(r"(\+44\s?|\b0)\d{2,4}[\s-]?\d{3,4}[\s-]?\d{3,4}\b"), "[phone]"),
    (
        re.compile(
            r"\b\d+[a-z]?\s+([A-Z][a-z]+\s+){1,3}(street|st|road|rd|avenue|ave|lane|close|"
            r"drive|way|court|place|crescent|gardens|terrace|estate)\b",
            re.IGNORECASE,
        ),
        "[address]",
    ),
    # Whoever is named with a title is someone the adviser need not know: the title, any
    # initials and up to two names after it ("Ms J. Rowe", "Dr Amir Khan").
    (re.compile(_TITLED + r"\s+([A-Z]\.\s*)*[A-Z][\w'-]+(\s+[A-Z][\w'-]+)?"), "[person]"),
]


def _ordinal(number: int) -> str:
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{'th' if 10 <= number % 100 <= 20 else suffix}"


def _date_forms(day: date) -> list[str]:
    """A date of birth as people write it. Any other date is caught by the patterns; these
    are named so that the adviser reads "[date of birth]" rather than a bare "[date]"."""
    numeric = [
        f"{d}{sep}{m}{sep}{y}"
        for sep in "/.-"
        for d, m in ((day.day, day.month), (f"{day:%d}", f"{day:%m}"))
        for y in (day.year, f"{day:%y}")
    ]
    words = [
        form
        for month in (f"{day:%B}", f"{day:%b}")
        for d in (str(day.day), _ordinal(day.day))
        for form in (f"{d} {month} {day.year}", f"{d} of {month} {day.year}")
        + (f"{month} {d}, {day.year}", f"{month} {d} {day.year}")
    ]
    return [day.isoformat(), *numeric, *words]


def _identifier_forms(identifier: str) -> list[str]:
    """An NHS number is written with or without spaces or hyphens (3, 3, 4 digits)."""
    digits = re.sub(r"[\s-]", "", identifier)
    forms = [identifier, digits]
    if digits.isdigit() and len(digits) == 10:
        forms += [f"{digits[:3]}{sep}{digits[3:6]}{sep}{digits[6:]}" for sep in " -"]
    return forms


def _address_terms(address: str) -> dict[str, str]:
    """The whole address, each part of it with a number, and the street without its number
    (a town alone identifies nobody)."""
    parts = [part.strip() for part in re.split(r"[,\n]", address)]
    numbered = [part for part in parts if any(c.isdigit() for c in part)]
    streets = [
        re.sub(r"^(flat\s+)?\d+[a-z]?\s+", "", part, flags=re.IGNORECASE) for part in numbered
    ]
    return {term: "[address]" for term in [address.strip(), *numbered, *streets] if term}


def _child_terms(child: Child, label: str) -> dict[str, str]:
    terms = {}
    for name in (
        f"{child.first_name} {child.last_name}",
        f"{child.last_name}, {child.first_name}",
        child.first_name,
        child.last_name,
        child.known_as,
    ):
        terms[name] = label
    for identifier in (child.nhs_number, child.unique_pupil_number):
        for form in _identifier_forms(identifier):
            terms[form] = "[identifier]"
    for form in _date_forms(child.date_of_birth):
        terms[form] = "[date of birth]"
    terms.update(_address_terms(child.address))
    return terms


def _carer_terms(carers: Iterable[Carer], label: str) -> dict[str, str]:
    terms = {}
    for carer in carers:
        terms[carer.name] = label
        for part in carer.name.split():
            # A title is not a name: scrubbing "Mrs" everywhere would hide nobody.
            if part.rstrip(".") not in _TITLES:
                terms[part] = label
        terms.update(_address_terms(carer.address))
    return terms


def known_names(share: Share) -> dict[str, str]:
    """Every name and identifier the setting holds that could point at someone, with the
    placeholder that replaces it."""
    child = share.case.child
    organisation_id = share.case.organisation_id
    terms: dict[str, str] = {}
    others = Child.objects.filter(cases__organisation_id=organisation_id).exclude(pk=child.pk)
    for other in others.distinct():
        terms.update(_child_terms(other, "[another child]"))
    terms.update(
        _carer_terms(
            Carer.objects.filter(child__cases__organisation_id=organisation_id)
            .exclude(child=child)
            .distinct(),
            "[another carer]",
        )
    )
    # A case reference is all break glass asks for: it points at a child as a name does.
    for reference in Case.objects.filter(organisation_id=organisation_id).values_list(
        "reference", flat=True
    ):
        terms[reference] = "[case reference]"
    terms.update(_carer_terms(child.carers.all(), "[carer]"))
    terms.update(_child_terms(child, "[the child]"))
    for name in (
        share.recipient.person_name if share.recipient else "",
        share.requested_by,
        share.family_informed_by,
    ):
        terms[name] = "[person]"
    # Anything shorter than two letters would scrub ordinary words.
    return {term: label for term, label in terms.items() if len(term.strip()) >= 2}


def scrub(text: str, terms: dict[str, str]) -> str:
    """Replace every known term (whole words, any case), then every identifier pattern.

    The terms go in one pass, longest first at each place, so "Sam Thompson" is one carer
    rather than a carer's first name and the child's surname, and no placeholder already
    written is scrubbed again.
    """
    pattern, label = _EMAIL
    text = pattern.sub(label, text)
    if terms:
        labels = {term.lower(): label for term, label in terms.items()}
        alternatives = "|".join(map(re.escape, sorted(terms, key=len, reverse=True)))
        names = re.compile(rf"(?<!\w)({alternatives})(?!\w)", re.IGNORECASE)
        text = names.sub(lambda found: labels.get(found.group(0).lower(), "[person]"), text)
    for pattern, label in _PATTERNS:
        text = pattern.sub(label, text)
    return text


def deidentified_question(share: Share, question: str) -> str:
    """The question as the adviser reads it: a name written by habit is taken out too."""
    return scrub(question, known_names(share))


def deidentified_text(share: Share) -> str:
    """The share as an adviser sees it: the concern, the law relied on, the items; no identity."""
    terms = known_names(share)
    recipient = (
        f"{share.recipient.role or 'someone'} at {share.recipient.agency_name}"
        if share.recipient
        else "not chosen yet"
    )
    lines = [
        f"Purpose: {share.purpose or 'not written yet'}",
        f"To: {recipient}",
        f"Urgency: {share.get_urgency_display()}",
        f"Lawful basis: {share.get_lawful_basis_display() or 'not chosen yet'}",
        f"Consent: {share.get_consent_status_display() or 'not recorded yet'}",
        f"Risk if we share: {share.risk_if_shared or 'not written yet'}",
        f"Risk if we do not share: {share.risk_if_not_shared or 'not written yet'}",
        "",
        "Items:",
    ]
    for number, item in enumerate(share.items.order_by("position", "pk"), start=1):
        lines.append(f"{number}. {item.get_category_display()}: {item.content}")
        if item.necessity:
            lines.append(f"   Why it is needed: {item.necessity}")
    return scrub("\n".join(lines), terms)
