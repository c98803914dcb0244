"""Every date and time input shows its value as its HTML input type requires (issue 10, item 6).

A browser drops a value its input type cannot read: ``input.value`` is then "" and the box
looks empty. Dates written in the locale's format (en-GB: ``02/03/2026``) vanished when a
draft was reopened, and the next save erased them. The test client cannot see that, because
Django reads ``02/03/2026`` back without complaint, so these tests check the exact text of
each value. ``tests/e2e/test_dates_round_trip.py`` walks the same journey in Chromium.
"""

from __future__ import annotations

import html
import importlib
import pkgutil
import re
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from django import forms
from django.forms.widgets import DateTimeBaseInput
from django.utils import timezone, translation

from cases import choices
from cases.models import Case, Recipient, Share
from workflows import steps
from workflows.forms import ReleaseForm

from .factories import complete_fields, item
from .http_helpers import error_text, form_data, page_text, url

PRODUCT_APPS = ("cases", "permissions", "workflows")
# The value each input type accepts (HTML standard), and a value to show in it.
ACCEPTED_VALUE: dict[str, tuple[str, Any]] = {
    "date": (r"\d{4}-\d{2}-\d{2}", date(2026, 3, 2)),
    "month": (r"\d{4}-\d{2}", date(2026, 3, 1)),
    # 08:05 UTC is 09:05 in London (summer time): shown and read back in the same zone.
    "datetime-local": (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", datetime(2025, 6, 2, 8, 5, tzinfo=UTC)),
    "time": (r"\d{2}:\d{2}", time(9, 5)),
}
# The date and time inputs the product has today; the search below must find at least these.
KNOWN_INPUTS = {
    ("ShareForm", "requested_on"),
    ("ShareForm", "family_informed_on"),
    ("FamilyToldForm", "informed_on"),
    ("ReleaseForm", "sent_at"),
    ("EmergencyReleaseForm", "sent_at"),
    ("ReportFilterForm", "month_from"),
    ("ReportFilterForm", "month_to"),
    ("SettingForm", "working_day_starts"),
    ("SettingForm", "working_day_ends"),
}

MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ASKED_ON = date(2026, 2, 26)
TOLD_ON = date(2026, 2, 27)
TOLD = {
    "family_informed": choices.FamilyInformed.TOLD,
    "family_informed_on": TOLD_ON,
    "family_informed_by": "Priya, at collection",
    "family_not_told_reason": "",
}
INBOUND = {
    "direction": choices.Direction.INBOUND,
    "requested_by": "Sam Carter, duty social worker",
    "requested_on": ASKED_ON,
}


def _product_forms() -> list[type[forms.BaseForm]]:
    """Every form class the three apps define, found by importing every module of theirs."""
    for app in PRODUCT_APPS:
        package = importlib.import_module(app)
        for module in pkgutil.walk_packages(package.__path__, f"{app}."):
            if ".migrations" not in module.name:
                importlib.import_module(module.name)
    found, pending = [], [forms.BaseForm]
    while pending:
        for subclass in pending.pop().__subclasses__():
            pending.append(subclass)
            if subclass.__module__.split(".")[0] in PRODUCT_APPS:
                found.append(subclass)
    return found


def _input_type(widget: forms.Widget) -> str:
    # A type given in attrs wins over the widget's own, as it does when Django renders it.
    return str(widget.attrs.get("type") or getattr(widget, "input_type", ""))


def _is_date_or_time(field: forms.Field) -> bool:
    return (
        isinstance(field, (forms.DateField, forms.DateTimeField, forms.TimeField))
        or isinstance(field.widget, DateTimeBaseInput)
        or _input_type(field.widget) in {*ACCEPTED_VALUE, "week"}
    )


def _attribute(tag: str, name: str) -> str | None:
    found = re.search(rf'\b{name}="([^"]*)"', tag)
    return html.unescape(found[1]) if found else None


def input_value(response: Any, name: str) -> str | None:
    """The ``value`` attribute of the page's ``<input name=...>``, exactly as written."""
    tag = re.search(rf'<input\b[^>]*\bname="{re.escape(name)}"[^>]*>', response.content.decode())
    assert tag, f"no input named {name}"
    return _attribute(tag[0], "value")


# --- Every date and time input in the product --------------------------------------------------


# A host project may run in any language: each writes dates its own way (en-US: 03/02/2026).
@pytest.mark.parametrize("language", ["en-gb", "en-us", "de"])
def test_every_date_and_time_input_shows_its_value_as_its_input_type_requires(
    language: str,
) -> None:
    # Only fields declared on the class are seen; the fields forms add in __init__ today
    # (release handling, deadline rules) hold no date or time.
    seen = set()
    with translation.override(language), timezone.override("Europe/London"):
        for form in _product_forms():
            # Forms and model forms list their fields here (their metaclass collects them).
            declared: dict[str, forms.Field] = getattr(form, "base_fields", {})
            for name, field in declared.items():
                if not _is_date_or_time(field):
                    continue
                seen.add((form.__name__, name))
                kind = _input_type(field.widget)
                assert kind in ACCEPTED_VALUE, (
                    f"{form.__name__}.{name} renders as type={kind!r}: use a widget from "
                    "cases.date_inputs"
                )
                syntax, value = ACCEPTED_VALUE[kind]
                tag = field.widget.render(name, field.prepare_value(value))
                shown = _attribute(tag, "value")
                assert shown is not None and re.fullmatch(syntax, shown), (
                    f"{form.__name__}.{name}: {kind} input shows {shown!r}, which a browser drops"
                )
                # What the browser sends back is the value shown; it must read as the same.
                assert field.clean(shown) == value, f"{form.__name__}.{name} changed its value"
    assert seen >= KNOWN_INPUTS, KNOWN_INPUTS - seen


# --- A draft's dates, through edit, return and resubmit --------------------------------------


@pytest.fixture(autouse=True)
def clock(time_machine: Any) -> Any:
    time_machine.move_to(MONDAY, tick=False)
    return time_machine


@pytest.fixture
def dated_draft(case: Case, practitioner: Any, recipient: Recipient) -> Share:
    """An answer to another agency's request, the family told: both dates given."""
    return steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(recipient, **INBOUND, **TOLD),
        items=[item()],
    )


def assert_dates_shown(page: Any, asked: str = "2026-02-26", told: str = "2026-02-27") -> None:
    assert input_value(page, "requested_on") == asked
    assert input_value(page, "family_informed_on") == told


def assert_dates_kept(share: Share) -> None:
    share.refresh_from_db()
    assert (share.requested_on, share.family_informed_on) == (ASKED_ON, TOLD_ON)


def test_the_edit_page_shows_a_drafts_dates_as_a_date_input_needs_them(
    client: Any, dated_draft: Share, practitioner: Any
) -> None:
    client.force_login(practitioner)
    page = client.get(url("share_edit", dated_draft.pk))
    content = page.content.decode()
    assert 'type="date" name="requested_on" value="2026-02-26"' in content
    assert 'type="date" name="family_informed_on" value="2026-02-27"' in content


def test_a_drafts_dates_survive_saving_returning_and_resubmitting(
    client: Any, dated_draft: Share, practitioner: Any, lead: Any
) -> None:
    client.force_login(practitioner)
    page = client.get(url("share_edit", dated_draft.pk))
    assert_dates_shown(page)
    saved = client.post(url("share_edit", dated_draft.pk), form_data(page, action="save"))
    assert saved["Location"] == url("share_edit", dated_draft.pk)
    assert_dates_kept(dated_draft)

    page = client.get(url("share_edit", dated_draft.pk))
    assert_dates_shown(page)
    submitted = client.post(url("share_edit", dated_draft.pk), form_data(page, action="submit"))
    assert submitted["Location"] == url("share_detail", dated_draft.pk)
    assert_dates_kept(dated_draft)

    steps.decide(
        share=dated_draft, user=lead, outcome=choices.Outcome.RETURN, reasons="Say what she said."
    )
    page = client.get(url("share_edit", dated_draft.pk))
    assert_dates_shown(page)
    resubmitted = client.post(url("share_edit", dated_draft.pk), form_data(page, action="submit"))
    assert resubmitted["Location"] == url("share_detail", dated_draft.pk)
    assert_dates_kept(dated_draft)

    record = page_text(client.get(url("decision_record", dated_draft.pk)))
    assert "When they asked 26 February 2026" in record
    assert "When they were told 27 February 2026" in record


def test_a_refused_save_gives_back_the_dates_typed(
    client: Any, dated_draft: Share, practitioner: Any
) -> None:
    client.force_login(practitioner)
    page = client.get(url("share_edit", dated_draft.pk))
    typed = form_data(
        page,
        requested_on="2026-02-25",
        family_informed_on="2026-03-01",
        family_informed_by="",
        action="submit",
    )
    response = client.post(url("share_edit", dated_draft.pk), typed)
    assert response.status_code == 400
    assert error_text(response, "id_family_informed_by") == "Say who told the family."
    assert_dates_shown(response, asked="2026-02-25", told="2026-03-01")
    assert_dates_kept(dated_draft)


def test_the_family_told_page_gives_back_the_date_typed_when_refused(
    client: Any, case: Case, practitioner: Any, recipient: Recipient
) -> None:
    not_yet = {"family_not_told_reason": choices.FamilyNotToldReason.NOT_YET_POSSIBLE}
    share = steps.propose(
        case=case, user=practitioner, fields=complete_fields(recipient, **not_yet), items=[item()]
    )
    steps.submit(share=share, user=practitioner)
    client.force_login(practitioner)
    page = client.get(url("family_told", share.pk))
    assert input_value(page, "informed_on") in (None, "")
    response = client.post(
        url("family_told", share.pk), form_data(page, informed_on="2026-03-02", informed_by="")
    )
    assert response.status_code == 400
    assert error_text(response, "id_informed_by") == "Say who told the family."
    assert input_value(response, "informed_on") == "2026-03-02"


def test_the_release_time_is_shown_and_read_in_the_same_timezone() -> None:
    sent = datetime(2025, 6, 2, 8, 5, tzinfo=UTC)  # 09:05 in London, summer time
    with timezone.override("Europe/London"):
        tag = ReleaseForm(initial={"sent_at": sent}, flagged_items=[])["sent_at"].as_widget()
        assert 'type="datetime-local"' in tag and 'value="2025-06-02T09:05"' in tag, tag
        sent_back = ReleaseForm({"sent_at": "2025-06-02T09:05"}, flagged_items=[])
        assert sent_back.is_valid(), sent_back.errors
    assert sent_back.cleaned_data["sent_at"] == sent


def test_the_report_keeps_the_months_chosen(client: Any, lead: Any) -> None:
    client.force_login(lead)
    page = client.get(url("reports") + "?month_from=2026-01&month_to=2026-02")
    assert page.status_code == 200
    assert input_value(page, "month_from") == "2026-01"
    assert input_value(page, "month_to") == "2026-02"
    assert 'type="month"' in page.content.decode()
