"""Safeshare's pages as one URLconf, for this site and for any host project.

A host project mounts it wherever it likes, for example
``path("safeguarding-hub/", include("workflows.site"))``. Every link inside is reversed by
name, so the prefix is the host's choice.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.urls import URLPattern, URLResolver, path
from viewflow.urls import Site

from cases import app_settings
from permissions.accounts.sessions import signed_in_page

from .secure_link import received
from .urls import SafeguardingApp
from .viewsets import ShareFlowViewset


class SafeshareSite(Site):
    def menu_items(self) -> Iterator[Any]:
        # The Safeguarding application is the one place for the work. viewflow's pages for
        # the share flow stay mounted for what a share's page links to (its steps), but they
        # are no application of their own to go to: their lists answer with a redirect.
        for app in super().menu_items():
            if not isinstance(app, ShareFlowViewset):
                yield app


site = SafeshareSite(
    title=app_settings.get("SAFESHARE_SITE_TITLE"),
    viewsets=[SafeguardingApp(), ShareFlowViewset(icon="assignment", title="Share workflow")],
)


def _signed_in_only(patterns: list[Any]) -> list[Any]:
    """Every Safeshare page checks sign-in itself, whatever the host project's middleware
    (``permissions.accounts.sessions.signed_in_page``): a signed-out visitor goes to the
    sign-in page, a session past its time ends, and no page is kept in a cache."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            _signed_in_only(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            pattern.callback = signed_in_page(pattern.callback)
    return patterns


# The secure link's pages, for a recipient outside Safeshare: no sign-in, the link and the
# code it is opened with are the access (``permissions.links``).
received_patterns = [
    path("received/<str:token>/", received.ReceivedView.as_view(), name="secure_link_received"),
    path(
        "received/<str:token>/pdf/",
        received.ReceivedPdfView.as_view(),
        name="secure_link_received_pdf",
    ),
    path(
        "received/<str:token>/acknowledge/",
        received.AcknowledgeView.as_view(),
        name="secure_link_acknowledge",
    ),
]

urlpatterns = received_patterns + _signed_in_only([path("", site.urls)])
