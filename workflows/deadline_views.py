"""The lead's page for the setting's deadlines: how soon each urgency must be decided."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from cases.choices import Urgency
from cases.deadlines import policy_for
from cases.models import DeadlineRule
from cases.services import deadline_policies_set, deadline_policy_version

from .setting_admin import setting_to_run


class DeadlinePolicyForm(forms.Form):
    # The policy as it was when the page was opened (see deadline_policies_set).
    policy_version = forms.CharField(widget=forms.HiddenInput, required=False, max_length=200)

    def __init__(self, *args: Any, organisation: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["policy_version"].initial = deadline_policy_version(organisation)
        for urgency, label in Urgency.choices:
            rule, amount = policy_for(organisation, urgency)
            self.fields[f"{urgency}-rule"] = forms.ChoiceField(
                label=f"{label}: how the deadline is counted",
                choices=DeadlineRule.choices,
                initial=rule,
            )
            self.fields[f"{urgency}-amount"] = forms.IntegerField(
                label=f"{label}: hours or working days",
                initial=amount,
                min_value=0,
                max_value=72,
                help_text="Not used for the end of the working day.",
            )


class DeadlinePolicyView(View):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # A lead of several settings chooses one (?setting=), as on the setting's other pages.
        organisation, settings_led = setting_to_run(request)
        form = DeadlinePolicyForm(
            request.POST if request.method == "POST" else None, organisation=organisation
        )
        if request.method == "POST" and form.is_valid():
            try:
                deadline_policies_set(
                    organisation=organisation,
                    user=request.user,
                    rules={
                        urgency: (
                            form.cleaned_data[f"{urgency}-rule"],
                            form.cleaned_data[f"{urgency}-amount"],
                        )
                        for urgency in Urgency.values
                    },
                    based_on=form.cleaned_data["policy_version"] or None,
                )
            except ValidationError as error:
                for field, problems in error.message_dict.items():
                    for problem in problems:
                        form.add_error(
                            field if field in form.fields and field != "policy_version" else None,
                            problem,
                        )
                if "policy_version" in error.message_dict:
                    # Saving again from here keeps these choices, knowingly.
                    data = request.POST.copy()
                    data["policy_version"] = deadline_policy_version(organisation)
                    form.data = data
            else:
                messages.success(
                    request, "Deadlines saved. They apply to shares submitted from now."
                )
                return redirect(f"{reverse('safeguarding:deadlines')}?setting={organisation.pk}")
        return render(
            request,
            "workflows/deadlines.html",
            {
                "form": form,
                "organisation": organisation,
                "settings_led": settings_led,
                "chooser_page": "safeguarding:deadlines",
            },
            status=400 if request.method == "POST" else 200,
        )
