"""Finding the names a setting knows in free text, the way people actually write them.

A name is found written as it is held, in the plural ("the Smiths"), possessive ("Smith's",
"the Smiths'"), hyphenated ("Al-Rashid"), after a title ("Ms Smith": an adult of the
family, not the child), and misspelt: up to two letters different for a name of five
letters or more, one for a four-letter name (a swap of two letters counts as one), never
for shorter names, whose near neighbours are mostly other words.

Many names are also ordinary English words ("May", "Will", "Hope", "Grace", "Brown"). Such
a name is replaced only where it is used as a name: written with its capital, and not where
the words around it show the ordinary word ("May I ask", "in May", "the Summer term",
"Hope this helps"). Which words are ordinary English, and how common, comes from the word
frequencies that pyspellchecker ships; edit distances come from rapidfuzz.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from rapidfuzz import process
from rapidfuzz.distance import OSA

TITLES = ("Mr", "Mrs", "Ms", "Miss", "Mx", "Dr")


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# pyspellchecker counts how often each word occurs in about 1.6 billion words of English. At
# 10,000 and over (six in a million) a word is in everyday use ("grace", "brown"); at 100 and
# over it is a real word, which a misspelt name rarely is ("jaydon" is not one).
_COMMON = 10_000
_KNOWN = 100
# A capitalised word this rare may still be a misspelt name ("Olivier" for "Oliver"); a
# more common one is a word in a heading or a proper name of its own ("Summary", "Panel").
_RARE = 1_000
# Words such as "today", "then", "also": at the start of a sentence, never a first name.
_VERY_COMMON = 100_000
# Safeguarding words that no dictionary holds and that must never be taken for a name.
_JARGON = _word_set(
    "camhs ehcp ehcps senco sendco sencos mash lado marac dsl dsls ofsted nspcc cpoms "
    "barnardo barnardos paediatric paediatrician safeguarding chronology"
)

_MONTHS = _word_set(
    "january february march april may june july august september october november december"
)
_SEASONS = _word_set("spring summer autumn winter")
# "in May", "since May", "last Summer": the month or the season, not a person.
_BEFORE_A_TIME = _word_set(
    "in on of since until till by during from before after through throughout last next "
    "this early late mid end beginning start every each the over"
)
_AFTER_A_SEASON = _word_set("term terms holiday holidays half break fair camp club")
# "after May came home": a person does things; a month does not.
_AFTER_A_NAME = _word_set(
    "said says told tells came comes went goes was is has had did does cried disclosed "
    "reported asked arrived left seemed seems appeared appears looked looks became got gets "
    "felt feels wanted wants would will could can should might must who herself himself "
    "ran hit took gave saw made wore sat kept brought threw shouted screamed"
)
_STREET_WORDS = _word_set(
    "street road avenue lane close drive way court place crescent gardens grove terrace "
    "estate row walk mews square hill park"
)
# "May I ask", "Will you", "Hope this helps", "Will be": a verb at the start of a sentence.
_AFTER_A_VERB = _word_set(
    "i you we they he she it this that these those there the a an your our my his her "
    "their its not all everyone everybody someone anyone so to do be have"
)
_WEEKDAYS = _word_set("monday tuesday wednesday thursday friday saturday sunday")
# "Daisy Room", "Willow Class", "Maize group": a place or a group named after a word.
_PLACE_WORDS = _word_set(
    "room rooms group groups class classes team unit ward centre center nursery school "
    "academy project club house hall base"
)

_TOKEN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*['’]?")


@functools.cache
def _frequencies() -> dict[str, int]:
    """How often each English word is used, for words used at all often (loaded once)."""
    from spellchecker import SpellChecker

    counts = SpellChecker(language="en", distance=1).word_frequency.dictionary
    return {word: count for word, count in counts.items() if count >= _KNOWN}


def frequency(word: str) -> int:
    word = word.lower()
    if word in _JARGON:
        return _COMMON
    return _frequencies().get(word, 0)


@dataclass(frozen=True)
class KnownPerson:
    """One person the setting knows, and how each way of naming them is replaced."""

    label: str  # named by their own name: "[the child]"
    titled_label: str  # a title and the family name, an adult of the family: "[carer]"
    plural_label: str  # the family name in the plural: "[the family]"
    given: Sequence[str]
    family: Sequence[str]
    # Someone of the family the setting does not know by name: "Lily Smith", a sibling.
    relative_label: str = "[person]"


def _parts(names: Iterable[str]) -> Iterator[str]:
    for name in names:
        for part in re.split(r"[\s\-]+", name.replace("’", "'")):
            part = part.strip(".,").lower()
            if len(part) >= 2 and part.rstrip(".").title() not in TITLES:
                yield part


@dataclass
class NameIndex:
    """Every name part the setting knows, each with the people it may belong to, nearest
    first (the share's child, its carers, the people the share names, then the rest)."""

    people: list[KnownPerson]
    words: dict[str, list[tuple[int, str]]] = field(init=False)
    family_words: frozenset[str] = field(init=False)
    fuzzy_words: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.words = {}
        for number, person in enumerate(self.people):
            for kind, names in (("given", person.given), ("family", person.family)):
                for part in _parts(names):
                    places = self.words.setdefault(part, [])
                    if (number, kind) not in places:
                        places.append((number, kind))
        self.family_words = frozenset(_parts(n for p in self.people for n in p.family))
        self.fuzzy_words = [word for word in self.words if len(word) >= 4]

    def near(self, word: str) -> str | None:
        """The known name ``word`` is a plausible misspelling of, if any: a slip of the
        hand keeps the first letter, or swaps it with the second ("Ajyden")."""
        found = process.extract(
            word, self.fuzzy_words, scorer=OSA.distance, score_cutoff=2, limit=None
        )
        allowed = [
            (distance, name)
            for name, distance, _ in found
            if distance <= (2 if len(name) >= 5 else 1)
            and (word[0] == name[0] or word[:2] == name[1::-1])
        ]
        return min(allowed)[1] if allowed else None


@dataclass
class _Name:
    start: int
    end: int  # the name itself; a possessive ending stays in the text after the placeholder
    places: list[tuple[int, str]]
    plural: bool = False


def _previous_word(text: str, start: int) -> str:
    found = re.search(r"([\w']+)[ \t]+$", text[max(0, start - 40) : start])
    return found.group(1).lower() if found else ""


def _next_word(text: str, end: int) -> str:
    found = re.match(r"[ \t]+([\w']+)", text[end : end + 40])
    return found.group(1).lower() if found else ""


def _starts_sentence(text: str, start: int) -> bool:
    before = text[:start].rstrip(" \t\"'“‘([")
    return not before or before[-1] in ".!?:;\n•" or text[len(before) : start].count("\n") > 0


def _split_ending(word: str) -> tuple[str, str]:
    """("Smiths'", "Smith's") -> the name and its possessive ending."""
    for ending in ("'s", "’s", "'", "’"):
        if word.endswith(ending) and len(word) > len(ending) + 1:
            return word[: -len(ending)], word[-len(ending) :]
    return word, ""


def _is_ordinal_or_number(word: str) -> bool:
    return bool(re.fullmatch(r"\d+(st|nd|rd|th)?", word))


def used_as_name(word: str, text: str, start: int, end: int) -> bool:
    """Whether an ordinary word that is also someone's name is, here, that name."""
    if not word[:1].isupper() or (word.isupper() and len(word) > 1):
        return False
    lowered = word.lower()
    before, after = _previous_word(text, start), _next_word(text, end)
    if re.match(r"-[a-z]", text[end : end + 2]):
        return False  # "Summer-born": part of an ordinary compound word
    if (lowered in _MONTHS or lowered in _SEASONS) and after not in _AFTER_A_NAME:
        if before in _BEFORE_A_TIME or after in _AFTER_A_SEASON:
            return False
        if lowered in _MONTHS and (_is_ordinal_or_number(before) or _is_ordinal_or_number(after)):
            return False
    if after in _STREET_WORDS or after in _PLACE_WORDS:
        return False
    return not (_starts_sentence(text, start) and after in _AFTER_A_VERB)


def _ordinary(word: str) -> bool:
    lowered = word.lower()
    return frequency(lowered) >= _COMMON or lowered in _WEEKDAYS or lowered in _MONTHS


def _may_be_misspelt_name(word: str) -> bool:
    """A word not in everyday use may be a misspelt name; one in everyday use never is.
    A rarer real word counts only where it is written as a name is, with a capital."""
    if len(word) < 3 or not word.isalpha() or _ordinary(word):
        return False
    if word.isupper() and len(word) < 4:
        return False  # an acronym ("SEN", "CIN"), not a name in capitals ("MAISEY")
    return frequency(word) < (_RARE if word[0].isupper() else _KNOWN)


def _find(text: str, index: NameIndex, fuzzy: dict[str, str | None]) -> Iterator[_Name]:
    for token in _TOKEN.finditer(text):
        word, ending = _split_ending(token.group(0).replace("’", "'"))
        start, end = token.start(), token.start() + len(word)
        lowered = word.lower()
        if lowered in index.words:
            common = frequency(lowered) >= _COMMON
            if not common or used_as_name(word, text, start, end):
                yield _Name(start, end, index.words[lowered])
            continue
        singular = lowered[:-1] if lowered.endswith("s") else ""
        if word[:1].isupper() and singular in index.words:
            family = [place for place in index.words[singular] if place[1] == "family"]
            yield _Name(start, end, family or index.words[singular], plural=bool(family))
            continue
        if _may_be_misspelt_name(word) and _next_word(text, end) not in _PLACE_WORDS:
            # A misspelt family name in the plural first ("the THOMSONS"), then any name.
            near = _near(index, singular, fuzzy) if word[:1].isupper() else None
            family = [place for place in index.words[near] if place[1] == "family"] if near else []
            if family:
                yield _Name(start, end, family, plural=True)
            elif (near := _near(index, lowered, fuzzy)) is not None:
                yield _Name(start, end, index.words[near])


def _near(index: NameIndex, word: str, fuzzy: dict[str, str | None]) -> str | None:
    """index.near, remembered for the text: a word met twice is looked up once."""
    if not word:
        return None
    if word not in fuzzy:
        fuzzy[word] = index.near(word)
    return fuzzy[word]


def _label(index: NameIndex, names: list[_Name], titled: bool) -> str:
    """Who a run of name words ("Sam Thompson") names: a given name says whose it is; a
    family name alone names the nearest person of that family, or with a title an adult
    of it."""
    # The person the most words of the run belong to ("Sam Carter" is the recipient Sam
    # Carter, not the carer Sam Thompson), then one known by a given name, then the nearest.
    words_of = Counter(number for name in names for number in {n for n, _ in name.places})
    given = {number for name in names for number, kind in name.places if kind == "given"}
    number = min(words_of, key=lambda n: (-words_of[n], n not in given, n))
    if number in given:
        return index.people[number].label
    person = index.people[number]
    if names[-1].plural:
        return person.plural_label
    return person.titled_label if titled else person.label


_TITLE = re.compile(
    r"\b(" + "|".join([*TITLES, *(title.upper() for title in TITLES)]) + r")\.?[ \t]+"
    r"((?:[A-Z]\.[ \t]*)*)"
)
_CAPITALISED = re.compile(r"[A-Z][\w'’-]*")


def _titled(text: str, index: NameIndex, found: dict[int, _Name]) -> Iterator[tuple[int, int, str]]:
    """Whoever is written with a title: "Ms Smith" (the family), "Dr Amir Khan" (anyone)."""
    for title in _TITLE.finditer(text):
        position, names = title.end(), []
        for number in range(2):
            word = _CAPITALISED.match(text, position)
            if word is None:
                break
            name, _ = _split_ending(word.group(0).replace("’", "'"))
            known = found.get(word.start())
            if number and known is None and _ordinary(name):
                break  # "Mrs Patel Thursday": the second word is not part of the name
            names.append((word.start(), word.start() + len(name), known))
            if len(name) < len(word.group(0)):
                break  # a possessive ends the name
            following = re.match(r"[ \t]+", text[word.end() :])
            if following is None:
                break
            position = word.end() + following.end()
        if not names and not title.group(2):
            continue
        end = names[-1][1] if names else title.end()
        known_names = [known for _, _, known in names if known is not None]
        label = _label(index, known_names, titled=True) if known_names else "[person]"
        yield title.start(), end, label


def name_spans(
    text: str, index: NameIndex, free: Callable[[int, int], bool] = lambda start, end: True
) -> list[tuple[int, int, str]]:
    """Where the names in ``text`` are and what replaces each; a name is looked for only
    where ``free`` says nothing else (a date, an address) was found already."""
    names = [name for name in _find(text, index, {}) if free(name.start, name.end)]
    by_start = {name.start: name for name in names}
    spans = list(_titled(text, index, by_start))
    covered = [(start, end) for start, end, _ in spans]
    run: list[_Name] = []
    for name in [*names, None]:
        if name is not None and any(a <= name.start < b for a, b in covered):
            continue
        joined = (
            name is not None
            and run
            and run[-1].end == _token_end(text, run[-1].end)
            and (
                text[run[-1].end : name.start] in (" ", "-")
                or _surname_first(text[run[-1].end : name.start], run, name)
            )
        )
        if run and not joined:
            spans.append(_run_span(text, index, run, free))
            run = []
        if name is not None:
            run.append(name)
    taken = [(start, end) for start, end, _ in spans]
    spans += [
        span
        for span in _initials(text, index)
        if free(span[0], span[1]) and all(span[1] <= a or span[0] >= b for a, b in taken)
    ]
    return spans


def _run_span(
    text: str, index: NameIndex, run: list[_Name], free: Callable[[int, int], bool]
) -> tuple[int, int, str]:
    """The span and label of a run of name words, with the words that belong to it: the
    article of a plural ("the Smiths"), "family" after a family name ("the Smith family"),
    and a first name the setting does not know before a family name it does ("Lily
    Smith": a relative, whose first name would point at the family as surely)."""
    start, end = run[0].start, run[-1].end
    family_only = all(kind == "family" for name in run for _, kind in name.places)
    if run[-1].plural:
        return _the_before(text, start), end, _label(index, run, titled=False)
    if family_only and end == _token_end(text, end):
        person = index.people[min(place for name in run for place in name.places)[0]]
        family = re.match(r"[ \t]+family\b", text[end : end + 10], re.IGNORECASE)
        if family:
            return _the_before(text, start), end + family.end(), person.plural_label
        before = re.search(r"\b([A-Z][a-z]+)[ \t]$", text[max(0, start - 30) : start])
        if before:
            word_start = start - len(before.group(0))
            if _a_first_name(text, word_start, before.group(1)) and free(word_start, start):
                return word_start, end, person.relative_label
    return start, end, _label(index, run, titled=False)


def _a_first_name(text: str, start: int, word: str) -> bool:
    """Whether a capitalised word just before a known family name is a first name. Mid-
    sentence it is ("we saw Rose Okafor"); starting a sentence it is too ("Lily Smith
    said"), unless it is one of the most frequent words ("Today Smith was late")."""
    lowered = word.lower()
    if word in TITLES or lowered in _NOT_FIRST_NAMES:
        return False
    return not _starts_sentence(text, start) or frequency(lowered) < _VERY_COMMON


_NOT_FIRST_NAMES = _PLACE_WORDS | _WEEKDAYS | _MONTHS | _word_set("dear year the and")

# Two capitals that mean something else in a setting's notes: never taken for initials.
_ACRONYMS = _word_set(
    "GP SW HV DV PC TA CP LA EH SC DS DC IT OK TV UK ID AM PM MP PE RE DT EY FS KS YR SN "
    "CD ED AE OT ST SS PS NB PS"
)
_DOTTED = re.compile(r"\b([A-Z])\.[ \t]?([A-Z])\.?(?!\w)")
_BARE = re.compile(r"\b([A-Z])([A-Z])\b")


def _initials(text: str, index: NameIndex) -> Iterator[tuple[int, int, str]]:
    """Initials of a known name: "M.T." for anyone the setting knows, and "MT" for the
    share's own child only (two bare capitals are too often something else)."""
    dotted: dict[str, str] = {}
    for person in index.people:
        for given in person.given:
            for family in person.family:
                if given and family:
                    dotted.setdefault((given[0] + family[0]).upper(), person.label)
    bare: dict[str, str] = {}
    if index.people:
        child = index.people[0]
        bare = {
            (given[0] + family[0]).upper(): child.label
            for given in child.given
            for family in child.family
            if given and family
        }
    for found in _DOTTED.finditer(text):
        label = dotted.get(found.group(1) + found.group(2))
        if label:
            yield found.start(), found.end(), label
    for found in _BARE.finditer(text):
        key = found.group(0)
        if key in bare and key not in _ACRONYMS:
            yield found.start(), found.end(), bare[key]


def _surname_first(between: str, run: list[_Name], name: _Name) -> bool:
    """ "Smith, Jayden" and registers write it: one person."""
    family = {number for number, kind in run[-1].places if kind == "family"}
    return between == ", " and any(
        number in family for number, kind in name.places if kind == "given"
    )


def _token_end(text: str, end: int) -> int:
    """A name followed straight by a possessive ending cannot join the next name."""
    return end if not re.match(r"['’]", text[end : end + 1]) else -1


def _the_before(text: str, start: int) -> int:
    """The plural family name takes its article with it: "the Smiths" -> "[the family]"."""
    found = re.search(r"\b[Tt]he[ \t]+$", text[max(0, start - 10) : start])
    return start - len(found.group(0)) if found else start
