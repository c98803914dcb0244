"""The Reports page and its CSV export: timing figures only, never a child or case content.

Who may read reports, and of which settings, is answered by ``permissions.selectors``; these
views only ask. The figures come from ``workflows.reports``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import date, datetime
from itertools import islice
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.views import View

from cases.choices import Outcome, ShareStatus
from cases.date_inputs import IsoMonthInput
from cases.models import Organisation
from permissions.selectors import report_settings_for

from . import reports

SHARES_PER_PAGE = 50
_MONTH = re.compile(r"(\d{4})-(\d{2})")


class MonthField(forms.CharField):
    """A calendar month typed as YYYY-MM (browsers with a month picker fill it in so)."""

    # The placeholder guides whoever's browser shows a text box instead of a month picker.
    widget = IsoMonthInput(attrs={"placeholder": "YYYY-MM"})
    default_error_messages = {
        "invalid": "Enter a month as YYYY-MM, for example 2026-03.",
        "out_of_range": "Enter a month between 2000-01 and 2099-12.",
    }

    def to_python(self, value: Any) -> date | None:  # type: ignore[override]
        # A month, not the text it was typed as: the form's cleaned data holds a date.
        text = (super().to_python(value) or "").strip()
        if not text:
            return None
        match = _MONTH.fullmatch(text)
        if match is None or not 1 <= int(match[2]) <= 12:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        year, month = int(match[1]), int(match[2])
        # Bounded so every month, and the one after it, is a valid date in any timezone.
        if not 2000 <= year <= 2099:
            raise forms.ValidationError(self.error_messages["out_of_range"], code="out_of_range")
        return date(year, month, 1)


class ReportFilterForm(forms.Form):
    """Narrow the report to one of the reader's settings and a range of months."""

    setting = forms.ChoiceField(label="Setting", required=False)
    month_from = MonthField(
        label="From month",
        required=False,
        help_text="Optional. The first month of decisions to count, as YYYY-MM.",
    )
    month_to = MonthField(
        label="To month",
        required=False,
        help_text="Optional. The last month of decisions to count, as YYYY-MM.",
    )

    def __init__(self, data: Any, *, settings: list[Organisation]) -> None:
        super().__init__(data)
        self.settings = settings
        if len(settings) > 1:
            self.fields["setting"].choices = [  # type: ignore[attr-defined]
                ("", "All your settings"),
                *((str(s.pk), s.name) for s in settings),
            ]
            self.fields["setting"].error_messages["invalid_choice"] = (
                "Choose one of the settings in the list."
            )
        else:
            # Nothing to choose: the only setting is the report's.
            del self.fields["setting"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("month_from"), data.get("month_to")
        if first and last and last < first:
            self.add_error("month_to", "The last month cannot be before the first.")
        return data

    def scope(self) -> reports.ReportScope:
        """The records the report covers; only valid once ``is_valid()`` is true."""
        chosen = self.cleaned_data.get("setting")
        settings = [int(chosen)] if chosen else [s.pk for s in self.settings]
        first, last = self.cleaned_data.get("month_from"), self.cleaned_data.get("month_to")
        return reports.ReportScope(
            settings=settings,
            since=_month_start(first) if first else None,
            until=_month_start(_next_month(last)) if last else None,
        )


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _month_start(month: date) -> datetime:
    # Months are counted in the site's timezone, as the "by month" figures are.
    return timezone.make_aware(datetime(month.year, month.month, 1))


def _reportable_settings(request: HttpRequest) -> list[Organisation]:
    """The settings whose reports the person may read; refuses anyone with none."""
    settings = list(report_settings_for(request.user))
    if not settings:
        raise PermissionDenied
    return settings


class ReportsView(View):
    template_name = "workflows/reports.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        settings = _reportable_settings(request)
        form = ReportFilterForm(request.GET, settings=settings)
        context: dict[str, Any] = {"form": form, "several_settings": len(settings) > 1}
        if not form.is_valid():
            return render(request, self.template_name, context, status=400)
        scope = form.scope()
        names = [reports.ALL, "urgency", "outcome", "decider", "month"]
        if len(scope.settings) > 1:
            names.append("setting")
        # Every grouping's figures at once: one query on PostgreSQL.
        figures = reports.decision_figures(scope, names)
        sections = [(reports.GROUPINGS[name], figures[name]) for name in names[1:]]
        by = {grouping.name: rows for grouping, rows in sections}
        overall = figures[reports.ALL]
        charts = [
            reports.hours_chart(
                "Median and 90th percentile hours to decision, by urgency", by["urgency"]
            ),
            reports.hours_chart(
                "Median and 90th percentile hours to decision, by month", by["month"]
            ),
        ]
        # "Late now" is about this moment: the months chosen do not narrow it, the setting does.
        late = reports.late_reviews(s for s in settings if s.pk in scope.settings)
        # Count and page share numbers alone; only the page's shares have timelines read.
        page = Paginator(
            reports.shares_in(scope).order_by("pk").values_list("pk", flat=True), SHARES_PER_PAGE
        ).get_page(request.GET.get("page"))
        on_page = list(page.object_list)
        timelines = reports.share_timelines(scope, only=on_page) if on_page else []
        query = request.GET.copy()
        query.pop("page", None)
        context.update(
            overall=overall[0] if overall else None,
            late=late,
            any_late=any(setting.count for setting in late),
            releases=reports.release_figures(scope),
            sections=sections,
            charts=[chart for chart in charts if chart is not None],
            page_obj=page,
            timelines=[_timeline_for_page(row) for row in timelines],
            filter_query=query.urlencode(),
            months_chosen=scope.since is not None or scope.until is not None,
        )
        return render(request, self.template_name, context)


def _timeline_for_page(row: dict[str, Any]) -> dict[str, Any]:
    """One share's steps as the page shows them (in the reader's timezone, durations in words)."""
    return {
        "pk": row["pk"],
        "reference": row["case_reference"],
        "urgency": reports.URGENCY_LABELS.get(row["urgency"], row["urgency"]),
        "status": _status(row),
        "decided_by": row["decided_by"] or "",
        "created_at": row["created_at"],
        "submitted_at": row["submitted_at"],
        "picked_up_at": row["picked_up_at"],
        "decided_at": row["decided_at"],
        "released_at": row["released_at"],
        "deadline": row["review_due_at"],
        "to_pick_up": reports.format_duration(reports.whole_seconds(row["to_pick_up"])),
        "to_decision": reports.format_duration(reports.whole_seconds(row["to_decision"])),
        "to_release": _to_release(row),
        "late_by": reports.format_duration(reports.whole_seconds(row["late_by"])),
        "decided": row["decided_at"] is not None,
    }


def _to_release(row: dict[str, Any]) -> str:
    # An emergency release came before any decision: its time counts from the proposal.
    if row["released_in_emergency"]:
        total = reports.format_duration(reports.whole_seconds(row["total_time"]))
        return f"{total} from proposal (emergency)" if total else ""
    return reports.format_duration(reports.whole_seconds(row["to_release"]))


def _status(row: dict[str, Any]) -> str:
    # A returned share is back in draft; say why, as its status alone would not.
    if row["status"] == ShareStatus.DRAFT and row["outcome"] == Outcome.RETURN:
        return "Returned for more information"
    return reports.STATUS_LABELS.get(row["status"], row["status"])


class _Echo:
    """A file-like object whose write() hands the line back, for csv.writer to stream."""

    def write(self, value: str) -> str:
        return value


class ReportExportView(View):
    """Every share of the reader's settings (or the filtered ones) as CSV, streamed."""

    def get(self, request: HttpRequest) -> HttpResponseBase:
        settings = _reportable_settings(request)
        form = ReportFilterForm(request.GET, settings=settings)
        if not form.is_valid():
            problems = "; ".join(
                f"{form.fields[name].label if name in form.fields else 'Filter'}: {message}"
                for name, messages in form.errors.items()
                for message in messages
            )
            return HttpResponse(
                f"The report filter is not valid. {problems}\n",
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        timelines = reports.csv_timelines(form.scope())
        response = StreamingHttpResponse(_csv_lines(timelines), content_type="text/csv")
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="share-timings-{stamp}.csv"'
        # Figures about children's cases: not for shared caches or the browser's disk.
        response["Cache-Control"] = "no-store"
        return response


# Lines sent together after the first: fewer, larger writes to the client.
LINES_PER_WRITE = 200


def _csv_lines(timelines: Any) -> Iterator[str]:
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    yield writer.writerow(reports.TIMELINE_COLUMNS)
    rows = reports.timeline_rows(timelines)
    # The first share goes out on its own, as soon as it is read; the rest in batches.
    for row in islice(rows, 1):
        yield writer.writerow(row)
    lines: list[str] = []
    for row in rows:
        lines.append(writer.writerow(row))
        if len(lines) == LINES_PER_WRITE:
            yield "".join(lines)
            lines.clear()
    if lines:
        yield "".join(lines)
