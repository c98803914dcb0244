"""Template helpers for accessible forms: errors are announced next to their field."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.forms import BoundField
from django.utils.safestring import SafeString

from cases import deadlines

register = template.Library()


@register.filter
def described_widget(field: BoundField) -> SafeString:
    """The field's widget, tied to its help text and errors for screen readers."""
    ids = []
    if field.errors:
        ids.append(f"{field.auto_id}-error")
    if field.help_text:
        ids.append(f"{field.auto_id}-help")
    attrs: dict[str, str | bool] = {"aria-describedby": " ".join(ids)} if ids else {}
    if field.errors:
        attrs["aria-invalid"] = "true"
    return field.as_widget(attrs=attrs)


@register.inclusion_tag("safeshare/time_left.html")
def time_left(due: datetime | None) -> dict[str, object]:
    """How long is left before a deadline, or how long it is overdue, in words and colour."""
    text, overdue = deadlines.time_left(due)
    return {"text": text, "overdue": overdue}
