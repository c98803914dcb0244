"""What an adviser may see of a share: the facts of the concern, never who the child is.

Golden rule 3: advice is sought with the child de-identified. Structured identifiers are
simply left out (names, date of birth, address, NHS number, pupil number, the recipient's
name). Free text is scrubbed of every name the setting knows for the child, the carers,
other children and their carers and the people named on the share, then of anything that
looks like a date, postcode, phone number, email address or identifier.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from .models import Carer, Child, Share

# Longest first, so "14 March 2019" is replaced whole before a bare "2019" could be.
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "[email]"),
    (re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE), "[postcode]"),
    (
        re.compile(
            r"\b\d{1,2}(st|nd|rd|th)?\s+(of\s+)?(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|"
            r"nov|dec)[a-z]*\.?,?\s+\d{4}\b",
            re.IGNORECASE,
        ),
        "[date]",
    ),
    (re.compile(r"\b\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}\b"), "[date]"),
    (re.compile(r"\b[A-Z]\d{11}[A-Z\d]\b", re.IGNORECASE), "[identifier]"),  # pupil number
    (re.compile(r"\b\d{3}\s?\d{3}\s?\d{4}\b"), "[identifier]"),  # NHS number
    (re.compile(r"(\+44\s?|\b0)\d{2,4}[\s-]?\d{3,4}[\s-]?\d{3,4}\b"), "[phone]"),
    (
        re.compile(
            r"\b\d+[a-z]?\s+([A-Z][a-z]+\s+){1,3}(street|st|road|rd|avenue|ave|lane|close|"
            r"drive|way|court|place|crescent|gardens|terrace|estate)\b",
            re.IGNORECASE,
        ),
        "[address]",
    ),
    # Whoever is named with a title is someone the adviser need not know.
    (
        re.compile(r"\b(Mr|Mrs|Ms|Miss|Mx|Dr)\.?\s+([A-Z]\.\s*)*[A-Z][\w'-]+"),
        "[person]",
    ),
]


def _date_forms(day: date) -> list[str]:
    return [
        day.isoformat(),
        f"{day:%d/%m/%Y}",
        f"{day.day}/{day.month}/{day.year}",
        f"{day.day} {day:%B %Y}",
        f"{day:%d %B %Y}",
        f"{day.day} {day:%b %Y}",
    ]


def _address_terms(address: str) -> dict[str, str]:
    """The whole address and each part of it with a number (a town alone identifies nobody)."""
    parts = [address, *re.split(r"[,\n]", address)]
    return {
        part.strip(): "[address]"
        for part in parts
        if part.strip() and (part is address or any(c.isdigit() for c in part))
    }


def _child_terms(child: Child, label: str) -> dict[str, str]:
    terms = {}
    for name in (
        f"{child.first_name} {child.last_name}",
        child.first_name,
        child.last_name,
        child.known_as,
    ):
        terms[name] = label
    for identifier in (child.nhs_number, child.unique_pupil_number):
        terms[identifier] = "[identifier]"
    for form in _date_forms(child.date_of_birth):
        terms[form] = "[date of birth]"
    terms.update(_address_terms(child.address))
    return terms


def _carer_terms(carers: Iterable[Carer], label: str) -> dict[str, str]:
    terms = {}
    for carer in carers:
        terms[carer.name] = label
        for part in carer.name.split():
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
    """Replace every known term (whole words, any case), then every identifier pattern."""
    for term in sorted(terms, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(term)}(?!\w)", terms[term], text, flags=re.IGNORECASE)
    for pattern, label in _PATTERNS:
        text = pattern.sub(label, text)
    return text


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
