"""Golden rule 3, seek advice: the proposer asks about a draft, the adviser answers.

The adviser is shown the question and the share as they were de-identified when it was
asked, and who asked and when: never the child, the case or a way to either.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View
from django.views.generic import ListView

from cases.choices import Role
from cases.deidentify import deidentified_text
from cases.people import display_name, signed_in
from cases.services import advice_preview
from permissions.forms import PersonChoiceField
from permissions.lookups import (
    get_consultation_for_adviser,
    get_share_to_act_on,
    note_read_by_adviser,
    note_viewed,
)
from permissions.rules import can_edit_draft
from permissions.selectors import advice_asked_of, advisers_for

from . import steps
from .forms import apply_service_errors
from .views import moved_on, share_url


class AdviserChoiceField(PersonChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{super().label_from_instance(obj)}, {Role(obj.role_here).label}"


class AskAdviceForm(forms.Form):
    # Neither field is required here: the service says what is missing, beside the field.
    adviser = AdviserChoiceField(
        label="Who do you want to ask?",
        queryset=None,
        required=False,
        empty_label="Choose someone",
        help_text="Anyone of your setting: a colleague, the lead or a deputy, or the data "
        "protection officer (the auditor).",
    )
    question = forms.CharField(
        label="Your question",
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        help_text="Do not name the child or the family: any name the setting knows is taken "
        "out before it is sent.",
    )

    def __init__(self, *args: Any, advisers: QuerySet, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["adviser"].queryset = advisers  # type: ignore[attr-defined]


class AdviceForm(forms.Form):
    advice = forms.CharField(
        label="Your advice",
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        help_text="It is kept with the proposed share and cannot be changed once given.",
    )


class AskAdviceView(View):
    """The proposer checks what the adviser will see, then asks."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        share = get_share_to_act_on(request.user, kwargs["pk"], can_edit_draft)
        if not share.is_draft:
            return moved_on(request, share)
        note_viewed(request.user, share.case, share)
        posted = request.method == "POST"
        form = AskAdviceForm(
            request.POST if posted else None, advisers=advisers_for(request.user, share)
        )
        question_preview = ""
        if posted and form.is_valid():
            question = form.cleaned_data["question"]
            if request.POST.get("action") == "preview":
                try:
                    question_preview = advice_preview(share=share, question=question)
                except ValidationError as error:
                    apply_service_errors(error, form)
            else:
                try:
                    consultation = steps.ask_advice(
                        share=share,
                        user=signed_in(request),
                        adviser=form.cleaned_data["adviser"],
                        question=question,
                    )
                except ValidationError as error:
                    apply_service_errors(error, form)
                else:
                    adviser = consultation.adviser
                    messages.success(
                        request,
                        f"Your question was sent to {display_name(adviser)}. "
                        "Their advice will appear under Advice sought.",
                    )
                    return redirect(share_url(share))
        return render(
            request,
            "workflows/advice_ask.html",
            {
                "share": share,
                "form": form,
                "shared_text": deidentified_text(share),
                "question_preview": question_preview,
            },
            status=400 if form.errors else 200,
        )


class AdviceAskedOfMeView(ListView):
    template_name = "workflows/advice_list.html"
    context_object_name = "consultations"
    paginate_by = 50

    def get_queryset(self) -> Any:
        return advice_asked_of(self.request.user)


class AnswerAdviceView(View):
    """One question, answered once; afterwards the advice is shown as given."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        consultation = get_consultation_for_adviser(request.user, kwargs["pk"])
        posted = request.method == "POST"
        form = AdviceForm(request.POST if posted else None)
        if posted and form.is_valid():
            try:
                steps.give_advice(
                    consultation=consultation,
                    user=signed_in(request),
                    advice=form.cleaned_data["advice"],
                )
            except ValidationError as error:
                apply_service_errors(error, form)
                consultation.refresh_from_db()
            else:
                messages.success(request, "Your advice is sent and kept with the share.")
                return redirect("safeguarding:advice_answer", pk=consultation.pk)
        note_read_by_adviser(request.user, consultation)
        return render(
            request,
            "workflows/advice_answer.html",
            {"consultation": consultation, "form": form},
            status=400 if form.errors else 200,
        )
