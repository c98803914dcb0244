"""Pages about access itself: break glass, its review, the audit log, and case teams."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.generic import ListView

from cases.people import signed_in
from cases.services import case_close, case_team_add, case_team_remove

from .break_glass import break_glass_review, break_glass_take
from .forms import BreakGlassForm, TeamMemberForm
from .lookups import find_case_for_break_glass, get_case_for
from .models import SIGN_IN_ACTIONS
from .rules import can_oversee
from .selectors import (
    audit_log_for,
    break_glass_grants_to_review,
    practitioners_to_add,
    settings_where,
)


def posted_id(request: HttpRequest, name: str) -> int | None:
    """A record's id as posted, or None for anything but a number (text, a NUL byte)."""
    value = request.POST.get(name) or ""
    if not (value.isascii() and value.isdigit() and len(value) <= 18):
        return None
    return int(value)


def _not_an_id(name: str) -> HttpResponse:
    return HttpResponseBadRequest(
        f"Bad request: “{name}” must be the number of a record.\n",
        content_type="text/plain; charset=utf-8",
    )


def _show_errors(error: ValidationError, form: Any) -> None:
    for field, problems in error.message_dict.items():
        for problem in problems:
            form.add_error(field if field in form.fields else None, problem)


class BreakGlassView(View):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings_where(request.user, "cases.break_glass").exists():
            raise PermissionDenied
        form = BreakGlassForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            case = find_case_for_break_glass(request.user, form.cleaned_data["reference"])
            if case is None:
                form.add_error("reference", "No open case of your setting has this reference.")
            else:
                try:
                    break_glass_take(
                        user=signed_in(request),
                        case=case,
                        reason=form.cleaned_data["reason"],
                        hours=form.cleaned_data["hours"],
                    )
                except ValidationError as error:
                    _show_errors(error, form)
                else:
                    messages.warning(
                        request,
                        "Break-glass access granted. Your lead has been told, and this visit "
                        "is recorded.",
                    )
                    return redirect("safeguarding:case_detail", pk=case.pk)
        return render(
            request,
            "permissions/break_glass.html",
            {"form": form},
            status=400 if request.method == "POST" else 200,
        )


class BreakGlassReviewView(ListView):
    template_name = "permissions/break_glass_review.html"
    context_object_name = "grants"
    paginate_by = 50

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not settings_where(request.user, "cases.oversee_cases").exists():
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        return break_glass_grants_to_review(self.request.user)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        grant_pk = posted_id(request, "grant")
        if grant_pk is None:
            return _not_an_id("grant")
        grant = get_object_or_404(self.get_queryset(), pk=grant_pk)
        break_glass_review(grant=grant, lead=request.user, end_now=request.POST.get("end") == "1")
        messages.success(request, "Break-glass access reviewed.")
        return redirect("safeguarding:break_glass_review")


class AuditLogView(ListView):
    template_name = "permissions/audit_log.html"
    context_object_name = "entries"
    paginate_by = 100

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not settings_where(request.user, "cases.view_audit_log").exists():
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        entries = audit_log_for(self.request.user).order_by("-at", "-pk")
        if self.request.GET.get("kind") == "sign_in":
            entries = entries.filter(action__in=SIGN_IN_ACTIONS)
        return entries

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["sign_in_only"] = self.request.GET.get("kind") == "sign_in"
        context["sign_in_actions"] = SIGN_IN_ACTIONS
        return context


class CaseTeamView(View):
    """A lead adds or removes case team members, or closes the case; access follows at once."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        case = get_case_for(request.user, pk)
        if not can_oversee(request.user, case.organisation):
            raise PermissionDenied
        action = request.POST.get("action")
        if action == "close":
            case_close(case=case, by=request.user)
            messages.success(request, f"Case {case.reference} is closed; its team's access ended.")
            return redirect("safeguarding:case_list")
        if action == "remove":
            member_pk = posted_id(request, "user")
            if member_pk is None:
                return _not_an_id("user")
            member = get_object_or_404(case.team.all(), pk=member_pk)
            case_team_remove(case=case, user=member, by=request.user)
            messages.success(request, "Removed from the case team; their access has ended.")
            return redirect("safeguarding:case_detail", pk=case.pk)
        form = TeamMemberForm(request.POST, candidates=practitioners_to_add(request.user, case))
        if form.is_valid():
            try:
                case_team_add(case=case, user=form.cleaned_data["user"], by=request.user)
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                messages.success(request, "Added to the case team.")
        else:
            messages.error(request, "Choose a practitioner of this setting to add.")
        return redirect("safeguarding:case_detail", pk=case.pk)
