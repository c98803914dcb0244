"""Looking again at a refusal: a new decision linked to it, the refusal kept as it was."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from cases.choices import ShareStatus
from cases.people import signed_in
from permissions.lookups import get_share_to_act_on, note_viewed
from permissions.rules import (
    can_ask_reconsideration,
    can_decide,
    can_edit_draft,
    may_decide_this,
)

from . import steps
from .forms import AskReconsiderationForm, ReconsiderationForm, apply_service_errors
from .views import decided_meanwhile, not_theirs_to_decide, share_url


class ReconsiderView(View):
    """A lead or deputy reconsiders a refused share: approve, approve in part, or uphold.

    The share's process ended at "refused" and is left as it ended; an approval here makes
    the release recordable on the share's own page (``steps.record_release``).
    """

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        share = get_share_to_act_on(request.user, kwargs["pk"], can_decide)
        if not may_decide_this(request.user, share):
            return not_theirs_to_decide(request, share)
        decisions = list(share.decisions.select_related("decided_by", "reconsiders"))
        note_viewed(request.user, share.case, share, *decisions)
        if request.method != "POST" and share.status != ShareStatus.REFUSED:
            messages.info(
                request, f"This share is {share.get_status_display().lower()}, not refused."
            )
            return redirect(share_url(share))
        form = ReconsiderationForm(
            request.POST if request.method == "POST" else None,
            share=share,
            decider=signed_in(request),
        )
        if request.method == "POST" and form.is_valid():
            try:
                decision = steps.reconsider(
                    share=share, user=signed_in(request), **form.service_kwargs()
                )
            except ValidationError as error:
                shown = decisions[-1] if decisions else None
                overtaken = decided_meanwhile(request, share, shown, {ShareStatus.REFUSED})
                if overtaken is not None:
                    return overtaken
                apply_service_errors(error, form)
            else:
                messages.success(
                    request, f"Reconsideration recorded: {decision.get_outcome_display()}."
                )
                return redirect(share_url(share))
        return render(
            request,
            "workflows/reconsider.html",
            {
                "share": share,
                "items": share.items.all(),
                "decisions": decisions,
                "form": form,
                "asked": share.reconsideration_requests.unanswered()
                .select_related("requested_by")
                .first(),
            },
            status=400 if request.method == "POST" else 200,
        )


class AskReconsiderationView(View):
    """The proposer of a refused share asks the leads and deputies to look at it again."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        share = get_share_to_act_on(request.user, kwargs["pk"], can_edit_draft)
        if not can_ask_reconsideration(request.user, share):
            # An old tab or link: the share has moved on (reconsidered, or never refused).
            messages.info(
                request,
                f"This share is {share.get_status_display().lower()}: there is no refusal to "
                "ask about.",
            )
            return redirect(share_url(share))
        refusal = share.decisions.select_related("decided_by").order_by("-decided_at", "-pk")[0]
        note_viewed(request.user, share.case, share, refusal)
        form = AskReconsiderationForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                steps.ask_reconsideration(
                    share=share, user=signed_in(request), reason=form.cleaned_data["reason"]
                )
            except ValidationError as error:
                apply_service_errors(error, form)
            else:
                messages.success(
                    request,
                    "Your request was sent to the setting's leads and deputies. "
                    "Their answer will appear on this share.",
                )
                return redirect(share_url(share))
        return render(
            request,
            "workflows/ask_reconsideration.html",
            {"share": share, "refusal": refusal, "form": form},
            status=400 if request.method == "POST" else 200,
        )
