"""The lead's Setting details page: its name, kind, calendar and working hours.

Deputies do not see it at all (403), like the Deadlines and Staff sign-in pages: the
product's position is that the lead runs the setting, and a deputy keeps children, cases
and the address book. What a deputy needs of these details reaches them where it matters
(the working-day deadlines on each share), so a read-only copy would only be one more page.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from cases.choices import CalendarRegion, OrganisationKind
from cases.date_inputs import IsoTimeInput
from cases.models import Organisation
from cases.services import setting_update
from cases.services.setting import SETTING_FIELDS

from . import setting_to_run, show_service_errors

# The zones a setting in these isles (or a British school abroad) most often needs; any other
# IANA zone may be typed, and setting_update checks it.
COMMON_TIMEZONES = [
    "Europe/London",
    "Europe/Dublin",
    "Europe/Isle_of_Man",
    "Europe/Jersey",
    "Europe/Guernsey",
    "Atlantic/Stanley",
    "Europe/Gibraltar",
]


class SettingForm(forms.Form):
    # Only collected here; setting_update checks each (a name in use, an unknown zone,
    # hours in the wrong order) and says what is wrong beside the field.
    name = forms.CharField(label="Name", max_length=200, required=False)
    kind = forms.ChoiceField(label="Kind of setting", choices=OrganisationKind.choices)
    is_public_authority = forms.BooleanField(
        label="A public authority",
        required=False,
        help_text="Maintained schools, NHS bodies and councils are public authorities.",
    )
    calendar_region = forms.ChoiceField(label="Bank holidays of", choices=CalendarRegion.choices)
    timezone = forms.CharField(
        label="Time zone",
        max_length=64,
        required=False,
        help_text="Such as Europe/London. Deadlines are counted in it.",
        widget=forms.TextInput(attrs={"list": "common-timezones", "autocomplete": "off"}),
    )
    working_day_starts = forms.TimeField(label="Working day starts", widget=IsoTimeInput())
    working_day_ends = forms.TimeField(
        label="Working day ends",
        widget=IsoTimeInput(),
        help_text="A share due by the end of the working day is due by this time.",
    )


def _current(organisation: Organisation) -> dict[str, Any]:
    return {field: getattr(organisation, field) for field in SETTING_FIELDS}


class SettingDetailsView(View):
    """Lead only (see the module's docstring for why deputies are refused)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.organisation, self.settings_led = setting_to_run(request)
        return super().dispatch(request, *args, **kwargs)

    def render_page(
        self, request: HttpRequest, form: SettingForm, status: int = 200
    ) -> HttpResponse:
        return render(
            request,
            "workflows/setting_admin/setting.html",
            {
                "organisation": self.organisation,
                "settings_led": self.settings_led,
                "chooser_page": "safeguarding:setting_details",
                "form": form,
                "common_timezones": COMMON_TIMEZONES,
            },
            status=status,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_page(request, SettingForm(initial=_current(self.organisation)))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = SettingForm(request.POST)
        if not form.is_valid():
            return self.render_page(request, form, status=400)
        try:
            organisation = setting_update(
                organisation=self.organisation, by=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            show_service_errors(error, form)
            return self.render_page(request, form, status=400)
        messages.success(request, f"{organisation}: details saved.")
        return redirect(reverse("safeguarding:setting_details") + f"?setting={organisation.pk}")
