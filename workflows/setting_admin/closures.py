"""The lead's Term dates page: the periods the setting is closed to children (half-terms,
holidays). A child protection file sent to the setting is answered within five school days,
and these are the days that are not school days besides weekends and bank holidays.

Lead only, like Setting details (see setting.py for why deputies are refused): the dates
move every file's deadline, so they are set by the person who answers for the setting.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from cases.date_inputs import IsoDateInput
from cases.deadlines import today_in
from cases.models import Organisation, SettingClosure
from cases.services import closure_add, closure_remove
from cases.services.closures import NAME_LENGTH
from permissions.lookups import get_closure_for_lead

from . import setting_to_run, show_service_errors

# How far back the page lists closures that have ended: enough to check last year's dates
# when entering this year's.
RECENT_DAYS = 365


class ClosureForm(forms.Form):
    # Only collected here; closure_add checks each (order, length, overlap, how far off) and
    # says what is wrong beside the field.
    name = forms.CharField(
        label="Name",
        max_length=NAME_LENGTH,
        required=False,
        help_text="Such as Autumn half-term or Christmas holiday.",
    )
    first_day = forms.DateField(label="First day closed", required=False, widget=IsoDateInput())
    last_day = forms.DateField(
        label="Last day closed",
        required=False,
        widget=IsoDateInput(),
        help_text="The last day the setting is closed, not the day it opens again.",
    )


def term_dates_page(organisation: Organisation) -> str:
    return reverse("safeguarding:setting_closures") + f"?setting={organisation.pk}"


class TermDatesView(View):
    """Lead only: the closures ahead and recent, and adding one."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.organisation, self.settings_led = setting_to_run(request)
        return super().dispatch(request, *args, **kwargs)

    def render_page(
        self, request: HttpRequest, form: ClosureForm, status: int = 200
    ) -> HttpResponse:
        today = today_in(self.organisation)
        closures = SettingClosure.objects.filter(
            organisation=self.organisation, last_day__gte=today - timedelta(days=RECENT_DAYS)
        ).select_related("added_by")
        return render(
            request,
            "workflows/setting_admin/closures.html",
            {
                "organisation": self.organisation,
                "settings_led": self.settings_led,
                "chooser_page": "safeguarding:setting_closures",
                "form": form,
                "ahead": [c for c in closures if c.last_day >= today],
                "recent": [c for c in reversed(closures) if c.last_day < today],
                "today": today,
            },
            status=status,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_page(request, ClosureForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ClosureForm(request.POST)
        if not form.is_valid():
            return self.render_page(request, form, status=400)
        try:
            closure = closure_add(
                organisation=self.organisation, by=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            show_service_errors(error, form)
            return self.render_page(request, form, status=400)
        messages.success(request, f"{closure} added to the term dates of {self.organisation}.")
        return redirect(term_dates_page(self.organisation))


class RemoveClosureView(View):
    """A button on the Term dates page: POST only. A closure of a setting the person does not
    lead is not found; someone who leads no setting is refused, as on the page itself."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, closure_pk: int) -> HttpResponse:
        closure = get_closure_for_lead(request.user, closure_pk)
        organisation = closure.organisation
        try:
            closure_remove(closure=closure, by=request.user)
        except ValidationError as refused:
            for message in refused.messages:
                messages.error(request, message)
        else:
            messages.success(request, f"{closure} removed from the term dates of {organisation}.")
        return redirect(term_dates_page(organisation))
