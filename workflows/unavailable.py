"""When the database itself is down: a plain 503 that says to try again, never a 500.

``DatabaseUnavailableMiddleware`` goes first in MIDDLEWARE. A database error
(``django.db.OperationalError`` or ``InterfaceError``, or one caused by either) raised by
a view or while rendering is answered in ``process_exception``; one raised anywhere else
on the request path (loading the session in the sign-in check, saving it afterwards) is
noted on the request through Django's ``got_request_exception`` signal and the 500 that
Django built is replaced on the way out. The page is a static template rendered without
the request: no context processor, no session, nothing that needs the database. Django
closes a connection that failed at the end of the request, so the next request connects
afresh and the site recovers by itself once the database is back.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from cases import app_settings

logger = logging.getLogger(__name__)

_DOWN = "_safeshare_database_unavailable"
RETRY_AFTER_SECONDS = 30


def is_database_unavailable(error: BaseException | None) -> bool:
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OperationalError | InterfaceError):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def unavailable_response() -> HttpResponse:
    page = render_to_string(
        "workflows/database_unavailable.html",
        {"site_title": app_settings.get("SAFESHARE_SITE_TITLE")},
    )
    response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def _note_database_error(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    if request is not None and is_database_unavailable(sys.exc_info()[1]):
        setattr(request, _DOWN, True)


got_request_exception.connect(_note_database_error, dispatch_uid="safeshare-database-unavailable")


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(request, _DOWN, False):
            return unavailable_response()
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_database_unavailable(exception):
            return None
        logger.error("Database unavailable: answered 503", exc_info=exception)
        return unavailable_response()
