"""Golden rule 2 after submission: the families still to be told, and recording that they were."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views import View
from django.views.generic import ListView

from cases.people import signed_in
from cases.services import family_told_record
from permissions.lookups import get_share_to_act_on, note_viewed
from permissions.rules import can_record_family_told
from permissions.selectors import family_follow_ups_for

from .forms import FamilyToldForm, apply_service_errors
from .views import share_url


class FamilyFollowUpListView(ListView):
    """Open promises to tell a family that the person may keep, soonest due first."""

    template_name = "workflows/family_follow_ups.html"
    context_object_name = "follow_ups"
    paginate_by = 50

    def get_queryset(self) -> Any:
        return family_follow_ups_for(self.request.user)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(now=timezone.now(), **kwargs)


class FamilyToldView(View):
    """Record the day the family was told and who told them; the follow-up then closes."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        share = get_share_to_act_on(request.user, kwargs["pk"], can_record_family_told)
        note_viewed(request.user, share.case, share)
        follow_up = share.family_follow_ups.filter(recorded_at__isnull=True).first()
        if follow_up is None:
            messages.info(request, "No promise to tell this share's family is open.")
            return redirect(share_url(share))
        form = FamilyToldForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                family_told_record(
                    follow_up=follow_up,
                    user=signed_in(request),
                    informed_on=form.cleaned_data["informed_on"],
                    informed_by=form.cleaned_data["informed_by"],
                )
            except ValidationError as error:
                apply_service_errors(error, form)
            else:
                messages.success(request, "Recorded: the family has been told.")
                return redirect(share_url(share))
        return render(
            request,
            "workflows/family_told.html",
            {"share": share, "follow_up": follow_up, "form": form, "now": timezone.now()},
            status=400 if request.method == "POST" else 200,
        )
