"""The national identifiers a setting types or imports, checked as their issuers define them,
so a mistyped number is caught where it is typed rather than matched to the wrong child."""

from __future__ import annotations

import re

# The letters a UPN's check character (and a temporary UPN's last character) may be: the
# alphabet without I, O and S, which read like digits.
_UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"


# ASCII digits only: "²" or "١" pass str.isdigit() but are not a UPN's or NHS number's digits,
# and the same number written in two scripts would slip past "one UPN per child".
_UPN_SHAPE = re.compile(r"[A-Z][0-9]{11}[0-9A-Z]")
_NHS_SHAPE = re.compile(r"[0-9]{10}")


def normalise(text: str) -> str:
    """As written on forms and exports: spaces and hyphens are only for reading."""
    return "".join(text.split()).replace("-", "").upper()


def upn_problem(upn: str) -> str:
    """Why this is not a Unique Pupil Number (DfE), or "" if it is one.

    A UPN is a check letter, 11 digits, and a digit or (in a temporary UPN) a letter; the
    check letter is the weighted sum of the other twelve (weights 2 to 13) modulo 23.
    """
    last = upn[12:13]
    if not _UPN_SHAPE.fullmatch(upn) or not (last.isdigit() or last in _UPN_LETTERS):
        return "A UPN has 13 characters: a letter, then 12 digits (the last may be a letter)."
    body = upn[1:12]
    values = [int(c) for c in body] + [int(last) if last.isdigit() else _UPN_LETTERS.index(last)]
    total = sum(value * weight for value, weight in zip(values, range(2, 14), strict=True))
    if upn[0] != _UPN_LETTERS[total % 23]:
        return "This UPN's check letter does not match its digits: check it for a typing slip."
    return ""


def upn_check_letter(twelve: str) -> str:
    """The check letter for a UPN's other twelve characters (for making valid examples)."""
    values = [int(c) if c.isdigit() else _UPN_LETTERS.index(c) for c in twelve]
    return _UPN_LETTERS[sum(v * w for v, w in zip(values, range(2, 14), strict=True)) % 23]


def nhs_number_problem(number: str) -> str:
    """Why this is not an NHS number, or "" if it is one: 10 digits, the last a modulus 11
    check digit of the first nine (weights 10 down to 2)."""
    if not _NHS_SHAPE.fullmatch(number):
        return "An NHS number has 10 digits."
    remainder = sum(int(d) * w for d, w in zip(number[:9], range(10, 1, -1), strict=True)) % 11
    check = 11 - remainder
    if check == 10 or (check % 11) != int(number[9]):
        return "This NHS number's check digit does not match: check it for a typing slip."
    return ""
