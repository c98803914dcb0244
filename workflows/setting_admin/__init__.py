"""The lead's own pages for running a setting: its staff and its details.

A lead of several settings chooses which one with ``?setting=<pk>`` (their first, by name,
when none is given); every page and form of this package keeps that query, and a person's
own page needs none, because their membership names its setting.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
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
