"""The chronology page of a case: everything about the child in that setting, in date order."""

from __future__ import annotations

from typing import Any

from django.views.generic import TemplateView

from permissions.lookups import get_case_for, note_viewed

from .chronology import chronology_of


class ChronologyView(TemplateView):
    template_name = "workflows/chronology.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        case = get_case_for(self.request.user, kwargs["pk"])
        chronology = chronology_of(case)
        note_viewed(self.request.user, case, case, *chronology.shown)
        return super().get_context_data(case=case, rows=chronology.rows, **kwargs)
