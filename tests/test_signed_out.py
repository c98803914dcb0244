"""Safeshare's pages refuse a signed-out visitor themselves, whatever the host's middleware.

Without ``LoginRequiredMiddleware`` an anonymous request reached the views and answered 500
(an ``assert`` in ``cases.people``). Every route of ``workflows.site`` is walked, its ids
filled, and asked by GET and by POST with that middleware taken out: each must send the
visitor to the sign-in page, and none may answer an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.urls import URLPattern, URLResolver, get_resolver, resolve

LOGIN_REQUIRED = "django.contrib.auth.middleware.LoginRequiredMiddleware"


def safeshare_paths() -> Iterator[str]:
    def walk(patterns: list[Any], prefix: str) -> Iterator[str]:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                yield "/" + re.sub(r"<(?:int:)?\w+>", "1", route).lstrip("^").rstrip("$")

    for path in walk(get_resolver().url_patterns, ""):
        if not path.startswith("/accounts/") and "<" not in path:
            yield path


def test_the_walk_finds_the_safeshare_pages() -> None:
    paths = list(safeshare_paths())
    assert len(paths) > 40
    assert any("review" in path for path in paths)


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_every_page_sends_a_signed_out_visitor_to_sign_in(
    client: Any, settings: Any, method: str
) -> None:
    settings.MIDDLEWARE = [m for m in django_settings.MIDDLEWARE if m != LOGIN_REQUIRED]
    client.raise_request_exception = False
    wrong = {}
    for path in safeshare_paths():
        resolve(path)  # every filled route still names a page
        response = getattr(client, method)(path)
        login = response.status_code == 302 and response["Location"].startswith(
            django_settings.LOGIN_URL if django_settings.LOGIN_URL.startswith("/") else "/"
        )
        if not login or "login" not in response["Location"]:
            wrong[path] = response.status_code
    assert wrong == {}
