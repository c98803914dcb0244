"""Read-only pages of the record: cases and shares. Access is decided in ``permissions``."""

from __future__ import annotations

from typing import Any

from django.views.generic import DetailView, ListView

from permissions.lookups import get_case_for, get_share_for
from permissions.rules import can_propose_share, share_actions
from permissions.selectors import case_list_for, share_list_for


class CaseListView(ListView):
    template_name = "cases/case_list.html"
    context_object_name = "cases"
    paginate_by = 50

    def get_queryset(self) -> Any:
        return case_list_for(self.request.user).filter(closed_at__isnull=True)


class CaseDetailView(DetailView):
    template_name = "cases/case_detail.html"
    context_object_name = "case"

    def get_object(self, queryset: Any = None) -> Any:
        return get_case_for(self.request.user, self.kwargs["pk"])

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["shares"] = share_list_for(self.request.user).filter(case=self.object)
        context["can_propose"] = can_propose_share(self.request.user, self.object)
        return context


class MyShareListView(ListView):
    template_name = "cases/share_list.html"
    context_object_name = "shares"
    paginate_by = 50

    def get_queryset(self) -> Any:
        return share_list_for(self.request.user).filter(proposed_by=self.request.user)


class ShareDetailView(DetailView):
    template_name = "cases/share_detail.html"
    context_object_name = "share"

    def get_object(self, queryset: Any = None) -> Any:
        return get_share_for(self.request.user, self.kwargs["pk"])

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        share = self.object
        context["items"] = share.items.all()
        context["decisions"] = share.decisions.select_related("decided_by").prefetch_related(
            "approved_items"
        )
        context["release"] = getattr(share, "release", None)
        context["actions"] = share_actions(self.request.user, share)
        return context
