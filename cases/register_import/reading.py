"""Reading a school MIS's CSV export: its bytes into text, its header into our fields, each
row into cells keyed by field with the row number a spreadsheet shows (the header is row 1).

Whatever is wrong with the file as a whole (not text, not CSV, empty, a required column
missing) is one ``ImportFileError`` saying what to do; whatever is wrong with one row is that
row's to report, so one bad cell never hides the other rows.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import tablib
from tablib.exceptions import InvalidDimensions

# A roll of a few thousand children with two contacts each is well under a megabyte.
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000


class ImportFileError(Exception):
    """The file cannot be read as an export at all; the message says why, for the page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Column:
    """One field an export may carry: its name on our page, then the spellings MIS exports
    use, best first (when a file has two of them, the first listed is the one read)."""

    field: str
    label: str
    spellings: tuple[str, ...]
    required: bool = False


@dataclass(frozen=True)
class SheetRow:
    number: int
    cells: dict[str, str]


@dataclass
class Sheet:
    rows: list[SheetRow]
    # The file's own header for each field read, so a reason names the column it came from.
    headers: dict[str, str]
    unused_headers: list[str] = field(default_factory=list)


def header_key(text: str) -> str:
    """ "Legal Forename", "legal_forename" and "LEGAL FORENAME." are the same column."""
    return re.sub(r"[^0-9a-z]", "", text.casefold())


# What the first bytes of a file say it is, when it is not text at all.
_NOT_CSV = (
    (b"PK\x03\x04", "an Excel workbook (.xlsx) or another zipped file"),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls)"),
    (b"%PDF", "a PDF"),
    (codecs.BOM_UTF16_LE, "text saved as UTF-16 (Excel's \u201cUnicode text\u201d)"),
    (codecs.BOM_UTF16_BE, "text saved as UTF-16 (Excel's \u201cUnicode text\u201d)"),
)
_SAVE_AS_CSV = "Save it from the MIS or spreadsheet as \u201cCSV UTF-8 (comma delimited)\u201d."


def decode(data: bytes) -> str:
    """The file's text: UTF-8 (with or without Excel's byte-order mark), else Windows-1252,
    the two encodings UK MIS exports and Excel on Windows write."""
    if not data.strip():
        raise ImportFileError("The file is empty. " + _SAVE_AS_CSV)
    if len(data) > MAX_BYTES:
        raise ImportFileError(
            f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB: export only the "
            "columns listed below."
        )
    for signature, what in _NOT_CSV:
        if data.startswith(signature):
            raise ImportFileError(f"This file is {what}, not CSV. " + _SAVE_AS_CSV)
    if b"\x00" in data:
        raise ImportFileError("This file is not text (it holds binary data). " + _SAVE_AS_CSV)
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8")
        except UnicodeDecodeError:
            raise ImportFileError(
                "The file says it is UTF-8 but is not: it may have been damaged. " + _SAVE_AS_CSV
            ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise ImportFileError(
            "The file's text is neither UTF-8 nor Windows-1252, so its names cannot be read "
            "safely. " + _SAVE_AS_CSV
        ) from None


# Excel writes "sep=;" (the separator it used) as the first line of some CSV exports, and
# hides that line when it opens the file, so the column names are still row 1.
_SEPARATOR_HINT = re.compile(r'^"?sep=(\t|[^\s"])"?\s*$', re.IGNORECASE)


def _separator_hint(text: str) -> tuple[str | None, str]:
    """The delimiter a first "sep=" line names, and the text after it; else None and the
    text unchanged."""
    first_line, _, rest = text.partition("\n")
    match = _SEPARATOR_HINT.match(first_line)
    if match is None:
        return None, text
    return match[1], rest


def _delimiter(first_line: str) -> str:
    # Excel in some locales separates with semicolons, and some MIS exports with tabs.
    counts = {mark: first_line.count(mark) for mark in (",", ";", "\t")}
    best = max(counts, key=lambda mark: counts[mark])
    return best if counts[best] else ","


def _row_numbers(text: str, delimiter: str) -> list[int]:
    """The spreadsheet row number of each record tablib keeps: it drops blank lines, which a
    spreadsheet still counts, and a quoted cell may run over several lines of the file."""
    try:
        return [
            number
            for number, record in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), 1)
            if record
        ]
    except csv.Error as error:
        raise ImportFileError(f"The file is not CSV that can be read ({error}).") from None


def _choose_columns(
    headers: Sequence[str], columns: Sequence[Column]
) -> tuple[dict[str, int], dict[str, str], list[str]]:
    positions: dict[str, int] = {}
    names: dict[str, str] = {}
    rank: dict[str, int] = {}
    keys = {
        header_key(spelling): (column, n)
        for column in columns
        for n, spelling in enumerate(column.spellings)
    }
    unused = []
    for position, header in enumerate(headers):
        match = keys.get(header_key(header))
        if match is None or (match[0].field in rank and rank[match[0].field] <= match[1]):
            if header.strip():
                unused.append(header.strip())
            continue
        column, n = match
        if column.field in names:
            unused.append(names[column.field])
        positions[column.field], names[column.field], rank[column.field] = position, header, n
    return positions, names, unused


def read_sheet(text: str, columns: Sequence[Column]) -> Sheet:
    """The export's rows, cells trimmed and keyed by field; rows of empty cells left out."""
    text = text.lstrip("\ufeff")
    hinted, text = _separator_hint(text)
    first_line = text.split("\n", 1)[0]
    if not first_line.strip():
        raise ImportFileError(
            "The first row must hold the column names (UPN, Legal Forename\u2026), but it is empty."
        )
    delimiter = hinted or _delimiter(first_line)
    numbers = _row_numbers(text, delimiter)
    try:
        dataset = tablib.Dataset().load(text, format="csv", delimiter=delimiter)
    except InvalidDimensions:
        raise ImportFileError(
            "A row has more cells than the header row has column names, so its cells cannot "
            "be matched to columns. Check that every column has a name in row 1."
        ) from None
    except csv.Error as error:
        raise ImportFileError(f"The file is not CSV that can be read ({error}).") from None
    headers = [str(header or "") for header in dataset.headers or []]
    positions, names, unused = _choose_columns(headers, columns)
    missing = [column.label for column in columns if column.required and column.field not in names]
    if missing:
        found = ", ".join(h.strip() for h in headers if h.strip()) or "none"
        raise ImportFileError(
            f"The file has no {_in_words(missing)} column (columns found: {found}). "
            "Row 1 must name the columns, as listed below."
        )
    if len(numbers) != len(dataset) + 1:
        # Both readers parse the same text the same way; anything else is a file to refuse,
        # not one to number wrongly.
        raise ImportFileError("The file is not CSV that can be read (its rows are uneven).")
    if len(dataset) > MAX_ROWS:
        raise ImportFileError(
            f"The file has {len(dataset)} rows; import at most {MAX_ROWS} at a time."
        )
    rows = []
    for number, values in zip(numbers[1:], dataset, strict=True):
        cells = {name: str(values[at] or "").strip() for name, at in positions.items()}
        if any(cells.values()):
            rows.append(SheetRow(number, cells))
    if not rows:
        raise ImportFileError("The file has column names but no rows of data.")
    return Sheet(rows=rows, headers=names, unused_headers=unused)


def _in_words(labels: list[str]) -> str:
    quoted = [f"\u201c{label}\u201d" for label in labels]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00)?)?$")
_UK = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{2}|\d{4})(?: 00:00(?::00)?)?$")


def parse_date(text: str) -> date:
    """A date as UK exports write it (DD/MM/YYYY) or as ISO (YYYY-MM-DD). A two-digit year
    could be either century, and a month over 12 is most likely a US date: neither is
    guessed, so a child is never matched or recorded with the wrong birthday."""
    text = text.strip()
    if match := _ISO.match(text):
        year, month, day = (int(part) for part in match.groups())
    elif match := _UK.match(text):
        day, month, year_text = int(match[1]), int(match[2]), match[3]
        if len(year_text) == 2:
            raise ValueError(
                f"\u201c{text}\u201d has a two-digit year, which could be either century: "
                "write it as DD/MM/YYYY."
            )
        year = int(year_text)
        if month > 12 and day <= 12:
            raise ValueError(
                f"\u201c{text}\u201d looks like a US date (month first): write it as DD/MM/YYYY."
            )
    else:
        raise ValueError(f"\u201c{text}\u201d is not a date: write it as DD/MM/YYYY.")
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"\u201c{text}\u201d is not a real date.") from None


_YES = frozenset({"yes", "y", "true", "1", "x"})
_NO = frozenset({"no", "n", "false", "0", ""})


def parse_yes_no(text: str) -> bool:
    key = text.strip().casefold()
    if key in _YES:
        return True
    if key in _NO:
        return False
    raise ValueError(f"\u201c{text}\u201d: write Yes or No.")
