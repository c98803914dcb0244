"""Safeshare's pages as one URLconf, for this site and for any host project.

A host project mounts it wherever it likes, for example
``path("safeguarding-hub/", include("workflows.site"))``. Every link inside is reversed by
name, so the prefix is the host's choice.
"""

from __future__ import annotations

from django.urls import path
from viewflow.urls import Site

from cases import app_settings

from .urls import SafeguardingApp
from .viewsets import ShareFlowViewset

site = Site(
    title=app_settings.get("SAFESHARE_SITE_TITLE"),
    viewsets=[SafeguardingApp(), ShareFlowViewset(icon="assignment", title="Share workflow")],
)

urlpatterns = [path("", site.urls)]
