"""Read-only pages of the record: cases and shares. Access is decided in ``permissions``."""

from __future__ import annotations

from typing import Any

from django.views.generic import DetailView, ListView

from cases.people import signed_in
from permissions.forms import TeamMemberForm
from permissions.lookups import get_case_for, get_share_for, note_viewed
from permissions.rules import can_oversee, can_propose_share, share_actions
from permissions.selectors import (
    advice_sought_on,
    case_list_for,
    case_viewers_for,
    practitioners_to_add,
    share_list_for,
)

from .share_history import share_history_context
from .share_links import secure_links_context

# The most recent shares, newest first; older ones are reached from "My proposed shares"
# or the workflow pages. A bounded page also keeps its cost flat as a case's record grows.
SHARES_ON_CASE_PAGE = 50


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
        user, case = self.request.user, self.object
        case_shares = share_list_for(user).filter(case=case)
        shares = list(case_shares[:SHARES_ON_CASE_PAGE])
        note_viewed(user, case, case, *shares)
        context["shares"] = shares
        context["more_shares"] = max(case_shares.count() - len(shares), 0)
        context["can_propose"] = can_propose_share(user, case)
        # Child protection files from the child's previous settings, attached when accepted:
        # whoever sees the case sees them (permissions.rules.can_see_file).
        context["files_received"] = list(
            case.transferred_files.select_related("from_setting", "sent_by").order_by("pk")
        )
        if can_oversee(user, case.organisation):
            context["team"] = case.team.order_by("first_name", "username")
            context["team_form"] = TeamMemberForm(candidates=practitioners_to_add(user, case))
            context["viewers"] = case_viewers_for(user, case)[:50]
        return context


class MyShareListView(ListView):
    template_name = "cases/share_list.html"
    context_object_name = "shares"
    paginate_by = 50

    def get_queryset(self) -> Any:
        return share_list_for(self.request.user).filter(proposed_by=signed_in(self.request))


class ShareDetailView(DetailView):
    template_name = "cases/share_detail.html"
    context_object_name = "share"

    def get_object(self, queryset: Any = None) -> Any:
        return get_share_for(self.request.user, self.kwargs["pk"])

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        share = self.object
        decisions = list(
            share.decisions.select_related("decided_by", "reconsiders").prefetch_related(
                "approved_items"
            )
        )
        release = getattr(share, "release", None)
        consultations = list(advice_sought_on(self.request.user, share))
        note_viewed(
            self.request.user,
            share.case,
            share,
            *decisions,
            *([release] if release else []),
            *consultations,
        )
        context["items"] = share.items.all()
        context["decisions"] = decisions
        context["release"] = release
        context["consultations"] = consultations
        context["reconsideration_requests"] = list(
            share.reconsideration_requests.select_related(
                "requested_by", "refusal__reconsideration__decided_by"
            )
        )
        context["actions"] = share_actions(self.request.user, share)
        context.update(secure_links_context(self.request, share, release))
        context.update(share_history_context(self.request.user, share))
        return context
