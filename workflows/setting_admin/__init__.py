"""The lead's own pages for running a setting: its staff and its details.

A lead of several settings chooses which one with ``?setting=<pk>`` (their first, by name,
when none is given); every page and form of this package keeps that query, and a person's
own page needs none, because their membership names its setting.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from cases.models import Organisation
from permissions.selectors import settings_run_by


def setting_to_run(request: HttpRequest) -> tuple[Organisation, list[Organisation]]:
    """The setting this page is about, and every setting the person leads (for the chooser).

    Someone who leads none is refused (403); a setting they do not lead, or a ``setting``
    that is not a number, is not found (404), as any record outside a person's scope is.
    """
    led = list(settings_run_by(request.user))
    if not led:
        raise PermissionDenied
    asked = request.GET.get("setting", "")
    if not asked:
        return led[0], led
    if not (asked.isascii() and asked.isdigit() and len(asked) <= 18):
        raise Http404("No such setting.")
    for organisation in led:
        if organisation.pk == int(asked):
            return organisation, led
    raise Http404("No such setting.")
