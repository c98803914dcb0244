"""The setting the de-identification corpus is written about: every person, date, address
and identifier it knows, as a setting would hold them.

The corpus (``deidentify_corpus.txt``) is case notes and referral wording about Jayden
Smith, a pupil of this setting. The other children include some whose names are ordinary
English words (May, Will, Hope, Grace, Summer), so the corpus can show that those words are
replaced where they are names and left alone where they are not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from cases.deidentify import KnownIdentity, known_identity, scrub, scrub_spans
from cases.models import Carer, Child


@dataclass(frozen=True)
class KnownChild:
    first_name: str
    last_name: str
    date_of_birth: date
    known_as: str = ""
    address: str = ""
    nhs_number: str = ""
    unique_pupil_number: str = ""
    reference: str = ""
    carers: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (name, address)


THE_CHILD = KnownChild(
    first_name="Jayden",
    last_name="Smith",
    known_as="Jay",
    date_of_birth=date(2019, 5, 3),
    address="14 Larch Close, Northtown, NT4 7QP",
    nhs_number="485 777 3456",
    unique_pupil_number="A123456789012",
    reference="NT-2024-017",
    carers=(
        ("Kelly Smith", "14 Larch Close, Northtown, NT4 7QP"),
        ("Darren Wolstenholme", "7 Alder Way, Northtown, NT2 3BB"),
    ),
)

OTHER_CHILDREN = (
    KnownChild(
        "May",
        "Patel",
        date(2020, 1, 12),
        reference="NT-2024-021",
        carers=(("Priti Patel", "3 Birch Road, Northtown"),),
    ),
    KnownChild(
        "Will",
        "Okonkwo",
        date(2018, 9, 30),
        reference="NT-2023-102",
        carers=(("Chidi Okonkwo", "22 Rowan Avenue, Northtown"),),
    ),
    KnownChild(
        "Hope",
        "Daniels",
        date(2019, 11, 2),
        reference="NT-2024-033",
        carers=(("Tanya Daniels", ""),),
    ),
    KnownChild(
        "Grace",
        "Brown",
        date(2020, 2, 29),
        reference="NT-2024-040",
        carers=(("Michael Brown", "9 Elm Terrace, Northtown"),),
    ),
    KnownChild(
        "Summer",
        "Kowalczyk",
        date(2019, 7, 21),
        reference="NT-2024-041",
        carers=(("Agnieszka Kowalczyk", "Flat 2, 40 Mill Lane, Northtown"),),
    ),
    KnownChild(
        "Oliver",
        "Fitzgerald",
        date(2018, 12, 25),
        reference="NT-2023-090",
        carers=(("Siobhan Fitzgerald", ""),),
    ),
    KnownChild(
        "Leah",
        "Ng",
        date(2019, 4, 8),
        reference="NT-2024-055",
        carers=(("Wei Ng", ""),),
    ),
    KnownChild(
        "Mohammed",
        "Al-Rashid",
        date(2018, 6, 14),
        reference="NT-2023-077",
        carers=(("Fatima Al-Rashid", "5 Cedar Court, Northtown"),),
    ),
)

# People the share itself names: the recipient, who asked, who told the family.
NAMED_ON_THE_SHARE = ("Rachel Ogunleye", "Paul Hargreaves", "Sarah Lindqvist")


# --- The corpus: sentences with their identifiers marked -------------------------------------

CORPUS = Path(__file__).with_name("deidentify_corpus.txt")
_MARK = re.compile(r"\{([^{}|]+)\|([^{}|]+)\}")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Sentence:
    """One line of the corpus: the text as written, where its identifiers are, and the text
    as the adviser should read it."""

    number: int
    text: str
    identifiers: tuple[tuple[int, int, str], ...]
    expected: str


def sentences(path: Path = CORPUS) -> list[Sentence]:
    """Each line's ``{as written|label}`` marks an identifier; the rest must stay as written."""
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        text, expected, identifiers, position = "", "", [], 0
        for mark in _MARK.finditer(line):
            text += line[position : mark.start()]
            expected += line[position : mark.start()]
            identifiers.append((len(text), len(text) + len(mark.group(1)), mark.group(2)))
            text += mark.group(1)
            expected += f"[{mark.group(2)}]"
            position = mark.end()
        text += line[position:]
        expected += line[position:]
        found.append(Sentence(number, text, tuple(identifiers), expected))
    return found


def identity() -> KnownIdentity:
    """The setting above as the scrubber sees it (unsaved records: no database needed)."""
    return identity_with_third_parties([])


def identity_with_third_parties(third_parties: list[str]) -> KnownIdentity:
    """The same, for a share one of whose items is flagged as identifying these people."""

    def child(known: KnownChild) -> Child:
        return Child(
            first_name=known.first_name,
            last_name=known.last_name,
            known_as=known.known_as,
            date_of_birth=known.date_of_birth,
            address=known.address,
            nhs_number=known.nhs_number,
            unique_pupil_number=known.unique_pupil_number,
        )

    def carers(known: KnownChild) -> list[Carer]:
        return [Carer(name=name, address=address) for name, address in known.carers]

    return known_identity(
        child=child(THE_CHILD),
        carers=carers(THE_CHILD),
        other_children=[child(other) for other in OTHER_CHILDREN],
        other_carers=[carer for other in OTHER_CHILDREN for carer in carers(other)],
        references=[THE_CHILD.reference, *(other.reference for other in OTHER_CHILDREN)],
        named_on_share=NAMED_ON_THE_SHARE,
        third_parties=third_parties,
    )


@dataclass
class Measured:
    sentences: int = 0
    identifiers: int = 0
    missed: list[tuple[int, str]] = field(default_factory=list)
    ordinary_words: int = 0
    over_scrubbed: list[tuple[int, str]] = field(default_factory=list)
    exact: int = 0
    different: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def over_scrubbed_share(self) -> float:
        return len(self.over_scrubbed) / self.ordinary_words if self.ordinary_words else 0.0


def measure(corpus: list[Sentence], known: KnownIdentity) -> Measured:
    """Identifiers missed (any word of one left in the text) and ordinary words wrongly
    scrubbed (any word outside the identifiers that a placeholder replaced)."""
    result = Measured()
    for sentence in corpus:
        result.sentences += 1
        spans = scrub_spans(sentence.text, known)

        def covered(start: int, end: int, spans: list[tuple[int, int, str]] = spans) -> bool:
            return any(a < end and start < b for a, b, _ in spans)

        for start, end, _ in sentence.identifiers:
            result.identifiers += 1
            words = list(_WORD.finditer(sentence.text, start, end))
            if not all(covered(word.start(), word.end()) for word in words):
                result.missed.append((sentence.number, sentence.text[start:end]))
        for word in _WORD.finditer(sentence.text):
            if any(a <= word.start() < b for a, b, _ in sentence.identifiers):
                continue
            result.ordinary_words += 1
            if covered(word.start(), word.end()):
                result.over_scrubbed.append((sentence.number, word.group(0)))
        scrubbed = scrub(sentence.text, known)
        if scrubbed == sentence.expected:
            result.exact += 1
        else:
            result.different.append((sentence.number, sentence.expected, scrubbed))
    return result
