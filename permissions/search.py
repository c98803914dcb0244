"""Finding a child or case by what people type: a legal or preferred name, a full name in
either order, a UPN (or NHS number) however it is spaced, or a case reference.

Access is decided here and nowhere else: the cases come from ``case_list_for`` (a
practitioner's case teams and live break-glass grants, a lead's or deputy's whole setting)
and the children with no case from ``children_register_for`` (only the rolls a lead or
deputy keeps), so a search can never name a child the person could not already open.

Matching ignores case, whether an apostrophe is straight or curly ("O'Brien" finds the
O’Brien Excel wrote), and the spaces and hyphens of a case reference ("OAK 001" finds
OAK-001). It does not ignore accents: folding them on both SQLite and PostgreSQL would
need the ``unaccent`` extension (PostgreSQL only) or a function over every row, and a name
typed without its accent is still found by its other name or the case reference. SQLite
folds the case of ASCII letters only; PostgreSQL folds every letter.

Every search is written to the audit log, once per setting searched, with the text and how
many of that setting's records it found. The results themselves are not logged as views,
as the case list (which also names each child) does not log them: opening a case does.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from django.db.models import F, Func, Q, Value
from django.db.models.functions import Replace, Upper
from django.db.models.lookups import Contains

from cases.identifiers import normalise
from cases.models import Case, Child

from .audit import record_search
from .roles import UserLike, current_memberships
from .selectors import case_list_for, children_register_for

MIN_SEARCH_LENGTH = 2
# Longer than any name, UPN or reference; the rest of a pasted paragraph is dropped.
MAX_SEARCH_LENGTH = 100
MAX_RESULTS = 50
# A name has a handful of words; more only multiplies the conditions of the query.
_MAX_WORDS = 6
_NAME_FIELDS = ("first_name", "last_name", "known_as")
# The apostrophes a name is typed or pasted with: the keyboard's straight one, and the
# curly one Word and Excel put in its place (U+2019). A name stored with either is found by
# a search typed with either.
_APOSTROPHES = ("'", "\u2019")
# Where a word of a name may begin inside a field: "Smith-Jones" is found by "jones", and
# "Mary Ann" by "ann", but "ai" does not find "Maisie".
_WORD_STARTS = (" ", "-", *_APOSTROPHES)
# What a case reference is written with only for reading: "OAK 001", "oak001" and "OAK-001"
# are the same reference.
_REFERENCE_SEPARATORS = (" ", "-")


@dataclass(frozen=True)
class SearchResult:
    """What a search found, already within what the person may see."""

    text: str
    cases: list[Case] = field(default_factory=list)
    # Children of the rolls the person keeps who match but have no case they can see.
    children_without_case: list[Child] = field(default_factory=list)
    too_short: bool = False
    # More matched than MAX_RESULTS: the person should narrow their search.
    more_than_shown: bool = False

    @property
    def searched(self) -> bool:
        return bool(self.text) and not self.too_short

    @property
    def count(self) -> int:
        return len(self.cases) + len(self.children_without_case)


def cleaned_search_text(text: str) -> str:
    """The text as searched: control and other invisible characters (a NUL byte, which
    PostgreSQL refuses in a query) read as spaces, runs of spaces as one, at most
    MAX_SEARCH_LENGTH characters."""
    visible = "".join(" " if unicodedata.category(c).startswith("C") else c for c in text)
    return " ".join(visible.split())[:MAX_SEARCH_LENGTH].strip()


def _words(text: str) -> list[str]:
    # "Thompson, Maisie" as a register prints it is the same two words as "Maisie Thompson".
    return [word for word in re.split(r"[\s,]+", text) if word][:_MAX_WORDS]


def _spellings(word: str) -> list[str]:
    """The word with each kind of apostrophe, so "O'Brien" also finds "O\u2019Brien"."""
    if not any(mark in word for mark in _APOSTROPHES):
        return [word]
    return ["".join(mark if c in _APOSTROPHES else c for c in word) for mark in _APOSTROPHES]


def _name_matches(words: list[str], to_child: str) -> Q:
    """Every word starts a word of the child's legal first or last name or preferred name,
    so "Maisie Thompson", "Thompson Maisie" and "Mai Tho" all find Maisie Thompson."""
    if not words:  # only commas: an empty Q would match every child
        return Q(pk__in=[])
    matches = Q()
    for word in words:
        this_word = Q()
        for spelling in _spellings(word):
            for name in _NAME_FIELDS:
                this_word |= Q(**{f"{to_child}{name}__istartswith": spelling})
                for start in _WORD_STARTS:
                    this_word |= Q(**{f"{to_child}{name}__icontains": start + spelling})
        matches &= this_word
    return matches


def _reference_key(expression: F) -> Func:
    """A reference with its spaces and hyphens taken out, in capitals, worked out by the
    database (SQLite and PostgreSQL alike) so the setting's cases need not be read first."""
    key: Func = Upper(expression)
    for separator in _REFERENCE_SEPARATORS:
        key = Replace(key, Value(separator), Value(""))
    return key


def _reference_matches(text: str) -> Q:
    """Part of a case reference, however it is spaced, hyphenated or capitalised."""
    key = text.upper()
    for separator in _REFERENCE_SEPARATORS:
        key = key.replace(separator, "")
    if not key:  # only spaces and hyphens: "contains nothing" would match every case
        return Q(pk__in=[])
    return Q(reference__icontains=text) | Q(Contains(_reference_key(F("reference")), key))


def _identifier_matches(text: str, to_child: str) -> Q:
    """The whole UPN or NHS number, as stored (``normalise``d), however it was typed."""
    identifier = normalise(text)
    if not identifier.isalnum():
        return Q(pk__in=[])
    matches = Q(**{f"{to_child}unique_pupil_number": identifier})
    if identifier.isdigit():
        matches |= Q(**{f"{to_child}nhs_number": identifier})
    return matches


def search_for(user: UserLike, text: str) -> SearchResult:
    """The cases the person may see, and the children of the rolls they keep, that match.

    The query count is the same whatever is found: one for the cases, one for the children,
    one for the person's settings, and the audit log's append.
    """
    text = cleaned_search_text(text)
    if len(text) < MIN_SEARCH_LENGTH:
        return SearchResult(text=text, too_short=True)
    words = _words(text)
    # The selectors narrow first by the person's settings (indexed foreign keys); the
    # name conditions only run over those settings' rows.
    cases = list(
        case_list_for(user)
        .filter(
            _name_matches(words, "child__")
            | _identifier_matches(text, "child__")
            | _reference_matches(text)
        )
        .select_related("child", "organisation")
        .order_by("child__last_name", "child__first_name", "reference", "pk")[: MAX_RESULTS + 1]
    )
    children = list(
        children_register_for(user)
        .filter(_name_matches(words, "") | _identifier_matches(text, ""))
        .exclude(pk__in=case_list_for(user).values("child_id"))
        .select_related("organisation")
        .order_by("last_name", "first_name", "pk")[: MAX_RESULTS + 1]
    )
    more = len(cases) + len(children) > MAX_RESULTS
    cases = cases[:MAX_RESULTS]
    children = children[: MAX_RESULTS - len(cases)]
    _log_search(user, text, cases, children)
    return SearchResult(
        text=text, cases=cases, children_without_case=children, more_than_shown=more
    )


def _log_search(user: UserLike, text: str, cases: list[Case], children: list[Child]) -> None:
    """One entry per setting the person searched (each setting where they are a member),
    with how many of that setting's records were shown, so each setting's leads see their
    own staff's searches and nothing of another setting's results."""
    found: Counter[int] = Counter(
        [case.organisation_id for case in cases] + [child.organisation_id for child in children]
    )
    roles: dict[int, str] = dict(
        current_memberships(user).order_by("organisation_id").values_list("organisation_id", "role")
    )
    record_search(user, text, {pk: (role, found[pk]) for pk, role in roles.items()})
