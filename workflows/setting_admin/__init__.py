"""The lead's own pages for running a setting: its staff and its details.

A lead of several settings chooses which one with ``?setting=<pk>`` (their first, by name,
when none is given); every page and form of this package keeps that query, and a person's
own page needs none, because their membership names its setting.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest

from cases.models import Organisation
from permissions.selectors import settings_run_by


def chosen_setting(
    request: HttpRequest, allowed: QuerySet[Organisation]
) -> tuple[Organisation, list[Organisation]]:
    """The setting this page is about, among those the person may use it for (``allowed``),
    and all of them (for the chooser).

    Someone with none is refused (403); a setting not among them, or a ``setting`` that is
    not a number, is not found (404), as any record outside a person's scope is.
    """
    settings = list(allowed)
    if not settings:
        raise PermissionDenied
    asked = request.GET.get("setting", "")
    if not asked:
        return settings[0], settings
    if asked.isascii() and asked.isdigit() and len(asked) <= 18:
        for organisation in settings:
            if organisation.pk == int(asked):
                return organisation, settings
    raise Http404("No such setting.")


def setting_to_run(request: HttpRequest) -> tuple[Organisation, list[Organisation]]:
    """A page of the settings the person leads (their details and staff)."""
    return chosen_setting(request, settings_run_by(request.user))


def with_setting(url: str, organisation: Organisation, settings: list[Organisation]) -> str:
    """A page's address for this setting: the choice travels only when there is one."""
    return f"{url}?setting={organisation.pk}" if len(settings) > 1 else url


def field_length(model: type[Model], name: str) -> int:
    """A form field holds what its column holds."""
    return int(getattr(model._meta.get_field(name), "max_length", 0) or 0)


def show_service_errors(
    error: ValidationError, form: forms.BaseForm, targets: dict[int, forms.BaseForm] | None = None
) -> None:
    """Each of a service's messages beside its field: ``carer_<n>_<field>`` on the n-th carer
    given (its form in ``targets``); anything else on the main form, or above it."""
    for key, problems in error.message_dict.items():
        target, field = form, key
        if key.startswith("carer_"):
            _, index, name = key.split("_", 2)
            carer_form = (targets or {}).get(int(index)) if index.isdigit() else None
            if carer_form is not None and name in carer_form.fields:
                target, field = carer_form, name
        for problem in problems:
            target.add_error(field if field in target.fields else None, problem)
