"""Date, month and date-and-time inputs whose value the browser can show again.

An ``<input type="date">`` accepts a value only as ``yyyy-mm-dd`` (``type="month"``:
``yyyy-mm``; ``type="datetime-local"``: ``yyyy-mm-ddThh:mm``). A value in any other form is
dropped without a word: the box looks empty, and the next save of the form erases the date.
Django's date widgets write the value in the active locale's first input format unless told
otherwise (for en-GB, ``02/03/2026``), so a date that was saved vanished when the draft was
reopened. Every date or time input in Safeshare takes its widget from here, so none can
fall back to the locale's format; ``tests/test_date_inputs.py`` finds any form that does.

What the browser sends back is in the same ISO form, which Django's date and time fields
read whatever the locale (``get_format`` always adds the ISO formats to the locale's).
"""

from __future__ import annotations

from typing import Any

from django import forms

# The value formats the HTML standard requires of each input type.
ISO_DATE = "%Y-%m-%d"
ISO_MONTH = "%Y-%m"
ISO_DATETIME_LOCAL = "%Y-%m-%dT%H:%M"
ISO_TIME = "%H:%M"


class IsoDateInput(forms.DateInput):
    """A day, as ``<input type="date">`` shows it."""

    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format=ISO_DATE)


class IsoMonthInput(forms.DateInput):
    """A calendar month, as ``<input type="month">`` shows it (a date stands for its month)."""

    input_type = "month"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format=ISO_MONTH)


class IsoDateTimeInput(forms.DateTimeInput):
    """A wall-clock time to the minute, as ``<input type="datetime-local">`` shows it.

    The input has no timezone: ``forms.DateTimeField`` shows an aware value in the active
    timezone and reads what comes back in that same timezone, so it round-trips unchanged.
    """

    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format=ISO_DATETIME_LOCAL)


class IsoTimeInput(forms.TimeInput):
    """A time of day to the minute, as ``<input type="time">`` shows it (Django's default
    ``%H:%M:%S`` would show seconds the setting's working hours never have)."""

    input_type = "time"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format=ISO_TIME)
