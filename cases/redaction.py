"""Did a redaction take out what identifies someone else, and only take out (golden rule 6)?

The proposer says, item by item, what identifies the referrer, a witness or another child
(``ShareItem.third_party_details``): names, addresses, phone numbers, separated by commas,
semicolons or new lines. A redacted text is refused while it still carries any of them, in
the plural or possessive too ("the Bakers", "Baker's").

A redaction only removes: every word outside square brackets must be the approved text's,
in its order. What replaces a removed part goes in brackets ("[a neighbour]"), short enough
to be only a label, so nothing the lead did not approve can leave as "redacted".

Deliberately simple and predictable, so a practitioner can see why a text was refused:

- words are runs of letters and digits, compared whole and ignoring case ("Rowe" is caught
  in "Mrs rowe's", not in "Rowena");
- a detail is still there if it appears whole ("J Rowe", "Flat 4"), or if any of its
  significant words does: three characters or more and not in ``COMMON_WORDS`` below. So
  "Ms J. Rowe" is caught by "Rowe" alone, and "07700 900123" by either half;
- common words are left out because a good redaction keeps them: "a neighbour on the same
  road" must pass when the detail was "Jo Rowe, the neighbour at 4 Elm Road", while "Elm"
  and "Rowe" must not remain.

It cannot know a name the proposer did not list, nor a misspelling: the person releasing
still reads what they send.
"""

from __future__ import annotations

import re

# Words that identify nobody on their own: function words, titles, family and other
# relationships, and the generic parts of an address.
_FUNCTION_WORDS = {"the", "and", "for", "with", "from", "who", "was", "are", "its", "our"}
_PRONOUNS_AND_TITLES = {"her", "his", "him", "she", "they", "them", "their", "mrs", "miss", "sir"}
_FAMILY = {
    "mother", "father", "mum", "mom", "dad", "parent", "parents", "carer", "nan", "gran",
    "grandma", "grandad", "grandmother", "grandfather", "grandparent", "sister", "brother",
    "sibling", "aunt", "uncle", "cousin", "son", "daughter", "partner", "husband", "wife",
    "boyfriend", "girlfriend",
}  # fmt: skip
_OTHER_PEOPLE = {
    "friend", "neighbour", "neighbours", "neighbor", "child", "children", "boy", "girl",
    "baby", "pupil", "teacher", "witness", "referrer", "another", "other",
}  # fmt: skip
_ADDRESS_PARTS = {
    "road", "street", "lane", "avenue", "close", "drive", "way", "place", "court", "crescent",
    "gardens", "terrace", "house", "flat", "flats", "number", "estate", "block", "floor",
    "com", "org", "net", "www", "gov", "nhs",
}  # fmt: skip
COMMON_WORDS = frozenset(
    _FUNCTION_WORDS | _PRONOUNS_AND_TITLES | _FAMILY | _OTHER_PEOPLE | _ADDRESS_PARTS
)

_WORD = re.compile(r"\w+")
_SEPARATOR = re.compile(r"[,;\n]+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _folded(words: list[str]) -> list[str]:
    return [word.casefold() for word in words]


def flagged_details(third_party_details: str) -> list[str]:
    """The proposer's list of what identifies someone else, one detail at a time."""
    return [part.strip() for part in _SEPARATOR.split(third_party_details) if part.strip()]


def same_text(first: str, second: str) -> bool:
    """The same words in the same order, whatever the spacing or case."""
    return " ".join(first.split()).casefold() == " ".join(second.split()).casefold()


def _contains_run(words: list[str], run: list[str]) -> bool:
    width = len(run)
    return any(words[start : start + width] == run for start in range(len(words) - width + 1))


_BRACKETED = re.compile(r"\[[^\[\]]*\]")


def words_added(redacted: str, original: str) -> list[str]:
    """Words of ``redacted`` that are not the original's, kept in order: a redaction only
    takes out. What replaces a removed part goes in square brackets ("[a neighbour]") and is
    not counted; anything else new was never approved and is not a redaction."""
    original_words = _folded(_words(original))
    added: list[str] = []
    position = 0
    for word in _words(_BRACKETED.sub(" ", redacted)):
        try:
            position = original_words.index(word.casefold(), position) + 1
        except ValueError:
            added.append(word)
    return list(dict.fromkeys(added))


# A replacement names what was taken out ("[a neighbour]", "[name removed]"); it is not a
# place to write something new.
REPLACEMENT_LIMIT = 40


def long_replacements(redacted: str) -> list[str]:
    """Bracketed replacements too long to be only a label for what was taken out."""
    return [found for found in _BRACKETED.findall(redacted) if len(found) > REPLACEMENT_LIMIT + 2]


def details_left_in(text: str, third_party_details: str) -> list[str]:
    """Each flagged detail, or the word of it, that ``text`` still contains."""
    words = _folded(_words(text))
    # A name in the plural is still the name: "the Bakers", "the Joneses".
    present = set(words) | {word[:-1] for word in words if word.endswith("s")}
    present |= {word[:-2] for word in words if word.endswith("es")}
    left: list[str] = []
    for detail in flagged_details(third_party_details):
        detail_words = _words(detail)
        if not detail_words:
            continue
        if _contains_run(words, _folded(detail_words)):
            left.append(detail)
            continue
        left.extend(
            word
            for word in detail_words
            if len(word) >= 3 and word.casefold() not in COMMON_WORDS and word.casefold() in present
        )
    return list(dict.fromkeys(left))
