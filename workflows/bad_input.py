"""A malformed request answers 400 with a plain message, never 500.

Django already answers 400 for most of these, but only by rendering its error page through
the site's templates and context processors, which read ``request.user`` and, for a body it
could not parse, ``request.POST`` again: an unknown Host header (refused before the
authentication middleware has run) and a form body in a charset other than UTF-8 (Django
refuses it, but raises again on every later read of ``request.POST``) both turned that
error page into a 500. This middleware, first in the list, answers them itself in plain text,
before anything else reads the request.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest


def _bad_request(message: str) -> HttpResponse:
    return HttpResponseBadRequest(
        f"Bad request: {message}\n", content_type="text/plain; charset=utf-8"
    )


class BadInputMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            request.get_host()
        except SuspiciousOperation:  # DisallowedHost
            return _bad_request("this site is not served under that host name.")
        if request.method == "POST":
            try:
                request.POST  # noqa: B018 - parse the body once, here, to refuse it cleanly
            except (BadRequest, SuspiciousOperation, UnicodeDecodeError, ValueError):
                return _bad_request(
                    "the form could not be read. Send it as UTF-8 (application/"
                    "x-www-form-urlencoded or multipart/form-data), as a browser does."
                )
        return self.get_response(request)
