"""Safeshare's own URLconf (config/urls.py) and, under /bare/, the bare approval flow in a
viewflow site of its own, so both answer in one Django process."""

from __future__ import annotations

from django.urls import include, path
from viewflow.urls import Site
from viewflow.workflow.flow import FlowAppViewset

from config.urls import urlpatterns as safeshare

from .bare_approval.flows import ApprovalFlow

bare_site = Site(title="Bare viewflow", viewsets=[FlowAppViewset(ApprovalFlow, icon="check")])

urlpatterns = [path("bare/", bare_site.urls), path("", include(safeshare))]
