"""Template helpers for accessible forms: errors are announced next to their field."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.forms import BoundField
from django.utils.html import format_html, format_html_join
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


# Widgets whose choices are each a control of their own, grouped under the field's label.
_CHOICE_GROUPS = frozenset({"radioselect", "checkboxselectmultiple"})


@register.simple_tag(name="field")
def field_group(field: BoundField) -> SafeString:
    """A form field as every form draws it: its label, help text, errors and widget, the
    errors announced and both tied to the widget (or to the group of its choices).

    Built here rather than by including a template for each field: a share's form draws
    dozens of fields, and the template engine's include, context and variable lookups for
    each of them came to a tenth of the calls of its page. Every value is escaped by
    ``format_html`` unless already safe, as the template engine would.
    """
    errors_id, help_id = f"{field.auto_id}-error", f"{field.auto_id}-help"
    help_text = (
        format_html('<p class="ss-help" id="{}">{}</p>', help_id, field.help_text)
        if field.help_text
        else ""
    )
    errors = (
        format_html(
            '<div class="ss-errors" id="{}" role="alert">{}</div>',
            errors_id,
            format_html_join("", "<p>{}</p>", ((error,) for error in field.errors)),
        )
        if field.errors
        else ""
    )
    kind = field.widget_type
    if kind in _CHOICE_GROUPS:
        described = [errors_id] if field.errors else []
        described += [help_id] if field.help_text else []
        choices = format_html_join(
            "",
            '<div class="ss-choice">{} <label for="{}">{}</label></div>',
            ((choice.tag(), choice.id_for_label, choice.choice_label) for choice in field),
        )
        body = format_html(
            '<fieldset class="ss-choices"{}><legend>{}</legend>{}{}{}</fieldset>',
            format_html(' aria-describedby="{}"', " ".join(described)) if described else "",
            field.label,
            help_text,
            errors,
            choices,
        )
    elif kind == "checkbox":
        body = format_html(
            '<div class="ss-check">{} <label for="{}">{}</label></div>{}{}',
            described_widget(field),
            field.id_for_label,
            field.label,
            help_text,
            errors,
        )
    else:
        body = format_html(
            '<label for="{}">{}</label>{}{}{}',
            field.id_for_label,
            field.label,
            help_text,
            errors,
            described_widget(field),
        )
    modifier = " ss-field--error" if field.errors else ""
    return format_html('<div class="ss-field{}">{}</div>', modifier, body)


@register.inclusion_tag("safeshare/time_left.html")
def time_left(due: datetime | None) -> dict[str, object]:
    """How long is left before a deadline, or how long it is overdue, in words and colour."""
    text, overdue = deadlines.time_left(due)
    return {"text": text, "overdue": overdue}
