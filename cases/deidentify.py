"""What an adviser may see of a share: the facts of the concern, never who the child is.

Golden rule 3: advice is sought with the child de-identified. Structured identifiers are
simply left out (names, date of birth, address, NHS number, pupil number, the recipient's
name). Free text is scrubbed in three passes, each finding spans of the original text:

1. what the setting holds, word for word: addresses and streets, NHS and pupil numbers,
   case references, and the child's date of birth in every way people write it;
2. what looks like an identifier whoever it belongs to: dates with a day or a year, email
   addresses, postcodes, phone numbers, NHS and pupil numbers, house numbers and streets;
3. names (``cases/name_matching.py``): every name the setting knows for the child, the
   carers, other children and their carers and the people named on the share, in plural,
   possessive and hyphenated forms, after a title, and misspelt; anyone else written with
   a title. A name that is also an ordinary word ("May", "Will", "Hope") is replaced only
   where it is used as a name.

A span found by an earlier pass wins over a later one, so "3rd May" is a date before "May"
could be a name.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from .models import Carer, Case, Child, Share
from .name_matching import TITLES, KnownPerson, NameIndex, name_spans
from .redaction import flagged_details

Span = tuple[int, int, str]

# Month names and their short forms; "May" only with its capital, since "may" is a verb.
_MONTH = (
    r"(?:May|(?i:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|june?|july?|aug(?:ust)?|"
    r"sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?)(?![\w-])"
)
_ORDINAL_WORDS = str.split(
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
    "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth "
    "twenty-first twenty-second twenty-third twenty-fourth twenty-fifth twenty-sixth "
    "twenty-seventh twenty-eighth twenty-ninth thirtieth thirty-first"
)
_DAY = r"(?:\d{1,2}(?:st|nd|rd|th)?|" + "|".join(_ORDINAL_WORDS[::-1]) + ")"
_YEAR = r"(?:19|20)\d{2}"
_STREET = (
    r"(?:street|st|road|rd|avenue|ave|lane|ln|close|drive|dr|way|court|ct|place|pl|crescent|"
    r"gardens|grove|terrace|estate|row|walk|mews|square|hill|view|rise|park)"
)

_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE)
# Starting only where a run of address characters starts: from inside a long run every start
# would rescan the rest of it for an "@", quadratic in a long word (120,000 letters: minutes).
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")

# Whoever the identifier belongs to. Longest first, so "14 March 2019" is one date.
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (_POSTCODE, "[postcode]"),
    # A day and a month, either way round, with or without a year: "the 3rd of May",
    # "May 3rd, 2019", "12 March 2024".
    (re.compile(rf"(?i:\b{_DAY}\s+(?:of\s+)?){_MONTH}(?:,?\s+{_YEAR})?\b"), "[date]"),
    (
        re.compile(rf"\b{_MONTH}(?i:\s+(?:the\s+)?{_DAY})(?:,?\s+{_YEAR})?(?![\w-])"),
        "[date]",
    ),
    # A month and a year: "March 2022".
    (re.compile(rf"\b{_MONTH},?\s+{_YEAR}\b"), "[date]"),
    (re.compile(r"\b\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}\b"), "[date]"),
    # A day and a month in figures: two digits each ("10/06"), or after a word that says a
    # date follows ("Mon 3/6", "on 3/6"); not a score or a fraction ("7/10", "24/7", "1/2").
    (
        re.compile(
            r"\b(?P<found>(?:0[1-9]|[12]\d|3[01])/(?:0[1-9]|1[0-2]))\b(?![/.]\d)"
            r"|\b(?i:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun|on|from|until|till|since|dated|"
            r"w/c)\.?\s+(?P<after>(?:0?[1-9]|[12]\d|3[01])/(?:0?[1-9]|1[0-2]))\b(?![/.]\d)"
        ),
        "[date]",
    ),
    (re.compile(r"\b[A-Z]\d{11}[A-Z\d]\b", re.IGNORECASE), "[identifier]"),  # pupil number
    (re.compile(r"\b\d{3}[\s-]?\d{3}[\s-]?\d{4}\b"), "[identifier]"),  # NHS number
    # A UK phone number however it is spaced or bracketed: "(01632) 960 001", "0 7700 900
    # 123", "+44 7700 900123", or a mobile without its 0, "7700 900123".
    (
        re.compile(
            r"\+44[\s-]?(?:\(0\)[\s-]?)?\d(?:[\s-]?\d){9}\b"
            r"|\(0\d{2,4}\)[\s-]?\d(?:[\s-]?\d){5,7}\b"
            r"|(?<!\w)0(?:[\s-]?\d){9,10}\b"
            r"|\b7\d{3}[\s-]?\d{3}[\s-]?\d{3}\b"
        ),
        "[phone]",
    ),
    # A house number and a street named in capitals: "12 Station Road", "Flat 2, 40 Mill Lane".
    (
        re.compile(
            r"\b(?:(?i:flat)\s+\d+[a-z]?,?\s+)?\d+[a-z]?,?\s+"
            # Not a court that hears cases: "2 Family Court hearings".
            r"(?!(?:Family|Crown|County|Magistrates'?|Youth|High)\s+Court\b)"
            r"(?:[A-Z][a-z'-]+\s+){1,3}"
            rf"(?i:{_STREET})\b",
        ),
        "[address]",
    ),
]


def _ordinal(number: int) -> str:
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{'th' if 10 <= number % 100 <= 20 else suffix}"


def _date_of_birth_forms(day: date) -> list[str]:
    """A date of birth as people write it, so that the adviser reads "[date of birth]"
    rather than a bare "[date]": numbers, words, with or without the year, month and year."""
    numeric = [
        f"{d}{sep}{m}{sep}{y}"
        for sep in "/.-"
        for d, m in ((day.day, day.month), (f"{day:%d}", f"{day:%m}"))
        for y in (day.year, f"{day:%y}")
    ]
    # Run together: "140322", "14032022" (and "14Mar22", above as "14 Mar 22").
    numeric += [f"{day:%d%m%y}", f"{day:%d%m%Y}"]
    # Day and month alone, in figures: "his birthday (3/5)".
    numeric += [f"{d}/{m}" for d, m in ((day.day, day.month), (f"{day:%d}", f"{day:%m}"))]
    days = (str(day.day), _ordinal(day.day), _ORDINAL_WORDS[day.day - 1])
    words = []
    for month in (f"{day:%B}", f"{day:%b}"):
        for d in days:
            for form in (f"{d} {month}", f"{d} of {month}", f"{month} {d}", f"{month} the {d}"):
                words += [form, f"{form} {day.year}", f"{form}, {day.year}"]
        words += [f"{month} {day.year}", f"{day.day} {month} {day:%y}"]
    return [day.isoformat(), *numeric, *words]


def _identifier_forms(identifier: str) -> list[str]:
    """An NHS number is written with or without spaces or hyphens (3, 3, 4 digits)."""
    digits = re.sub(r"[\s-]", "", identifier)
    forms = [identifier, digits]
    if digits.isdigit() and len(digits) == 10:
        forms += [f"{digits[:3]}{sep}{digits[3:6]}{sep}{digits[6:]}" for sep in " -"]
    return [form for form in forms if form]


def _address_terms(address: str) -> dict[str, str]:
    """The whole address, each part of it with a number, and the street without its number
    (a town alone identifies nobody); a postcode is named as one."""
    parts = [part.strip() for part in re.split(r"[,\n]", address)]
    numbered = [part for part in parts if any(c.isdigit() for c in part)]
    streets = [
        re.sub(r"^(flat\s+)?\d+[a-z]?\s+", "", part, flags=re.IGNORECASE) for part in numbered
    ]
    return {
        term: "[postcode]" if _POSTCODE.fullmatch(term) else "[address]"
        for term in [address.strip(), *numbered, *streets]
        if term
    }


_PIECE = re.compile(r"[^\W\d_]+|\d+")
# Spelt out in full on both sides, so "6 Demo St" finds "6 Demo Street".
_STREET_SHORT = {
    "st": "street", "rd": "road", "ave": "avenue", "av": "avenue", "ln": "lane", "cl": "close",
    "dr": "drive", "ct": "court", "pl": "place", "cres": "crescent", "gdns": "gardens",
    "terr": "terrace", "sq": "square",
}  # fmt: skip


def _normal(piece: str) -> str:
    """A word or number as it is compared: "007" as "7", "St" as "street"."""
    piece = piece.lower()
    if piece.isdigit():
        return piece.lstrip("0") or "0"
    return _STREET_SHORT.get(piece, piece)


def _words(text: str) -> tuple[str, ...]:
    return tuple(_normal(piece) for piece in _PIECE.findall(text))


# Between two pieces of one term: nothing ("OAK001"), a space, or a little punctuation.
_PHRASE_GAP = re.compile(r"[\s,/.\-'()]{0,3}")


def _whole(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] begins and ends where words do ("3 5" is not in "NT3 5LD")."""
    return (start == 0 or not text[start - 1].isalnum()) and (
        end == len(text) or not text[end].isalnum()
    )


class _Phrases:
    """Terms found word for word, case and punctuation aside, in one scan of the text's words
    (a dictionary look-up per word and length, however many terms the setting holds)."""

    def __init__(self, terms: dict[str, str]) -> None:
        self.labels: dict[tuple[str, ...], str] = {}
        for term, label in terms.items():
            words = _words(term)
            if words and len("".join(words)) >= 2:
                self.labels.setdefault(words, label)
        self.longest: dict[str, int] = {}
        for words in self.labels:
            self.longest[words[0]] = max(self.longest.get(words[0], 0), len(words))

    def spans(self, text: str) -> list[Span]:
        found: list[Span] = []
        tokens = list(_PIECE.finditer(text))
        pieces = [_normal(token.group(0)) for token in tokens]
        index = 0
        while index < len(tokens):
            longest = self.longest.get(pieces[index], 0)
            for length in range(min(longest, len(tokens) - index), 0, -1):
                run = tokens[index : index + length]
                if not _whole(text, run[0].start(), run[-1].end()) or any(
                    not _PHRASE_GAP.fullmatch(text[a.end() : b.start()])
                    for a, b in zip(run, run[1:], strict=False)
                ):
                    continue
                label = self.labels.get(tuple(pieces[index : index + length]))
                if label:
                    found.append((run[0].start(), run[-1].end(), label))
                    index += length
                    break
            else:
                index += 1
        return found


@dataclass(frozen=True)
class KnownIdentity:
    """Everything a setting holds that could point at someone, ready to find in text."""

    names: NameIndex
    phrases: _Phrases


def _split_name(full_name: str) -> tuple[list[str], list[str]]:
    """Given names and family name of a name written whole ("Mrs Jo Thompson")."""
    parts = [part for part in full_name.split() if part.rstrip(".") not in TITLES]
    if len(parts) <= 1:
        return parts, []
    return parts[:-1], parts[-1:]


def known_identity(
    *,
    child: Child,
    carers: Iterable[Carer],
    other_children: Iterable[Child],
    other_carers: Iterable[Carer],
    references: Iterable[str],
    named_on_share: Iterable[str],
    third_parties: Iterable[str] = (),
) -> KnownIdentity:
    """Build what the scrubber looks for from the setting's records (saved or not)."""
    people: list[KnownPerson] = []
    terms: dict[str, str] = {}

    def add_child(person: Child, label: str, family_label: str, plural: str) -> None:
        given = [person.first_name, person.known_as]
        relative = "[family member]" if label == "[the child]" else "[another family member]"
        people.append(KnownPerson(label, family_label, plural, given, [person.last_name], relative))
        for identifier in (person.nhs_number, person.unique_pupil_number):
            for form in _identifier_forms(identifier):
                terms.setdefault(form, "[identifier]")
        for term, label in _address_terms(person.address).items():
            terms.setdefault(term, label)

    def add_carer(carer: Carer, label: str, plural: str) -> None:
        given, family = _split_name(carer.name)
        relative = "[family member]" if label == "[carer]" else "[another family member]"
        people.append(KnownPerson(label, label, plural, given, family, relative))
        for term, label in _address_terms(carer.address).items():
            terms.setdefault(term, label)

    # The share's own child first: where two people share a name, the nearer label wins.
    for form in _date_of_birth_forms(child.date_of_birth):
        terms[form] = "[date of birth]"
    add_child(child, "[the child]", "[carer]", "[the family]")
    for carer in carers:
        add_carer(carer, "[carer]", "[the family]")
    for name in named_on_share:
        given, family = _split_name(name)
        people.append(KnownPerson("[person]", "[person]", "[person]", given, family))
    # Whoever the proposer flagged an item as identifying (a referrer, a witness, another
    # child): a name is found as names are; an address or a number word for word.
    for detail in third_parties:
        terms.setdefault(detail, "[person]")
        if not any(character.isdigit() for character in detail):
            given, family = _split_name(detail)
            people.append(KnownPerson("[person]", "[person]", "[person]", given, family))
    for other in other_children:
        add_child(other, "[another child]", "[another carer]", "[another family]")
    for carer in other_carers:
        add_carer(carer, "[another carer]", "[another family]")
    # A case reference is all break glass asks for: it points at a child as a name does.
    for reference in references:
        # Written with or without its separators: "NT-2024-017", "NT2024017".
        for form in (reference, re.sub(r"[\s/.-]", "", reference)):
            terms.setdefault(form, "[case reference]")
    return KnownIdentity(names=NameIndex(people), phrases=_Phrases(terms))


def identity_for(share: Share) -> KnownIdentity:
    """What the share's setting knows: its children, their carers, its case references, and
    the people the share names."""
    child = share.case.child
    organisation_id = share.case.organisation_id
    return known_identity(
        child=child,
        carers=child.carers.all(),
        other_children=Child.objects.filter(cases__organisation_id=organisation_id)
        .exclude(pk=child.pk)
        .distinct(),
        other_carers=Carer.objects.filter(child__cases__organisation_id=organisation_id)
        .exclude(child=child)
        .distinct(),
        references=Case.objects.filter(organisation_id=organisation_id).values_list(
            "reference", flat=True
        ),
        named_on_share=[
            share.recipient.person_name if share.recipient else "",
            share.requested_by,
            share.family_informed_by,
        ],
        third_parties=[
            detail
            for item in share.items.all()
            for detail in flagged_details(item.third_party_details)
        ],
    )


def _found(match: re.Match[str]) -> tuple[int, int]:
    """The identifier a pattern found, without the words around it that told it so."""
    for group in ("found", "after"):
        if match.groupdict().get(group) is not None:
            return match.span(group)
    return match.span()


class _Claimed:
    """Spans already found, kept in order, so each new one is checked against its two
    neighbours rather than against all of them."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.spans: list[Span] = []

    def free(self, start: int, end: int) -> bool:
        place = bisect.bisect_right(self.starts, start)
        before_ok = place == 0 or self.spans[place - 1][1] <= start
        after_ok = place == len(self.spans) or self.spans[place][0] >= end
        return before_ok and after_ok

    def claim(self, found: Iterable[Span]) -> None:
        for span in found:
            if self.free(span[0], span[1]):
                place = bisect.bisect_right(self.starts, span[0])
                self.starts.insert(place, span[0])
                self.spans.insert(place, span)


def scrub_spans(text: str, identity: KnownIdentity) -> list[Span]:
    """Where each identifier is in ``text``, and what replaces it, in order."""
    claimed = _Claimed()
    claimed.claim((m.start(), m.end(), "[email]") for m in _EMAIL.finditer(text))
    claimed.claim(identity.phrases.spans(text))
    for pattern, label in _PATTERNS:
        claimed.claim((*_found(match), label) for match in pattern.finditer(text))
    claimed.claim(name_spans(text, identity.names, claimed.free))
    return claimed.spans


# "[address], [address]": the parts of one address ("Flat 2, 40 Mill Lane") read as one.
_REPEATED = re.compile(r"(\[[a-z' ]+\])(?:[ \t-]+\1)+|(\[address\])(?:,[ \t]*\[address\])+")


def scrub(text: str, identity: KnownIdentity) -> str:
    """The text with every identifier replaced by its placeholder; two of the same side by
    side ("[the child] [the child]") read as one."""
    pieces: list[str] = []
    position = 0
    for start, end, label in scrub_spans(text, identity):
        pieces += [text[position:start], label]
        position = end
    pieces.append(text[position:])
    return _REPEATED.sub(lambda found: found.group(1) or found.group(2), "".join(pieces))


def deidentified_question(share: Share, question: str) -> str:
    """The question as the adviser reads it: a name written by habit is taken out too."""
    return scrub(question, identity_for(share))


def deidentified_text(share: Share) -> str:
    """The share as an adviser sees it: the concern, the law relied on, the items; no identity."""
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
    return scrub("\n".join(lines), identity_for(share))
