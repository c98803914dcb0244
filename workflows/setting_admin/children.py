"""The setting's roll: its children, their carers, and opening a case with its team.

Kept by the setting's lead or a deputy (``permissions.rules.may_keep_register``). The rules
are the ``cases`` services' (``child_add``, ``child_update``, ``case_open``): these forms only
collect what was typed, and each refusal is shown beside the field it concerns.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View
from django.views.generic import ListView

from cases.choices import Role
from cases.date_inputs import IsoDateInput
from cases.models import Carer, Case, Child, Organisation
from cases.people import display_name, signed_in
from cases.services import case_open, child_add, child_update
from cases.services.children import ADDRESS_MAX_LENGTH, MAX_CARERS, next_case_reference
from permissions.lookups import get_child_for_register, note_child_viewed
from permissions.rules import can_send_file
from permissions.selectors import children_register_for, people_to_alert, register_settings_for

from . import chosen_setting, field_length, show_service_errors, with_setting

CHILDREN_PER_PAGE = 50
# Room for spaces and hyphens as people type identifiers; the service normalises and checks.
_IDENTIFIER_AS_TYPED = 20


def register_setting(request: HttpRequest) -> tuple[Organisation, list[Organisation]]:
    """A page of the registers the person keeps (children, cases, the address book)."""
    return chosen_setting(request, register_settings_for(request.user))


# --- Forms -----------------------------------------------------------------------------------


class ChildForm(forms.Form):
    """A child's details. Nothing is required here: the service says what is missing."""

    first_name = forms.CharField(
        label="Legal first name", max_length=field_length(Child, "first_name"), required=False
    )
    last_name = forms.CharField(
        label="Legal last name", max_length=field_length(Child, "last_name"), required=False
    )
    known_as = forms.CharField(
        label="Preferred name",
        max_length=field_length(Child, "known_as"),
        required=False,
        help_text="What the child is called day to day, if not their legal first name.",
    )
    date_of_birth = forms.DateField(label="Date of birth", required=False, widget=IsoDateInput)
    year_group = forms.CharField(
        label="Year or room", max_length=field_length(Child, "year_group"), required=False
    )
    address = forms.CharField(
        label="Home address",
        max_length=ADDRESS_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    nhs_number = forms.CharField(
        label="NHS number", max_length=_IDENTIFIER_AS_TYPED, required=False
    )
    unique_pupil_number = forms.CharField(
        label="UPN (unique pupil number)",
        max_length=_IDENTIFIER_AS_TYPED,
        required=False,
        help_text="13 characters: a check letter, then 12 digits (the last may be a letter).",
    )
    privacy_notice_given_on = forms.DateField(
        label="Privacy notice given on",
        required=False,
        widget=IsoDateInput,
        help_text="When the family was told how the setting may share information about them.",
    )
    privacy_notice_version = forms.CharField(
        label="Privacy notice version",
        max_length=field_length(Child, "privacy_notice_version"),
        required=False,
    )

    def service_fields(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


def child_initial(child: Child) -> dict[str, Any]:
    return {name: getattr(child, name) for name in ChildForm.base_fields}


class CarerForm(forms.Form):
    id = forms.IntegerField(widget=forms.HiddenInput, required=False)
    name = forms.CharField(max_length=field_length(Carer, "name"), required=False)
    relationship = forms.CharField(
        label="Relationship to the child",
        max_length=field_length(Carer, "relationship"),
        required=False,
        help_text="Mother, Grandfather, Foster carer…",
    )
    phone = forms.CharField(max_length=field_length(Carer, "phone"), required=False)
    # Not an EmailField: the service's own message is the one shown.
    email = forms.CharField(max_length=254, required=False)
    address = forms.CharField(
        max_length=ADDRESS_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Leave empty if it is the child's.",
    )
    has_parental_responsibility = forms.BooleanField(
        label="Has parental responsibility", required=False
    )


class BaseCarerFormSet(forms.BaseFormSet):
    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = "Remove this carer"

    def kept_forms(self) -> list[forms.Form]:
        """The carers the child keeps: those already recorded and rows newly filled in (an
        empty spare row is not a carer)."""
        return [
            form
            for form in self.forms
            if form.cleaned_data
            and (form.cleaned_data.get("id") or form.has_changed())
            and not form.cleaned_data.get("DELETE")
        ]

    def service_carers(self) -> list[dict[str, Any]]:
        carers = []
        for form in self.kept_forms():
            given = {key: value for key, value in form.cleaned_data.items() if key != "DELETE"}
            # The service matches a posted id only among this child's own carers.
            given["pk"] = given.pop("id", None)
            carers.append(given)
        return carers


# formset_factory makes a subclass of BaseCarerFormSet; its stubs only promise a BaseFormSet.
CarerFormSet = cast(
    type[BaseCarerFormSet],
    forms.formset_factory(
        CarerForm,
        formset=BaseCarerFormSet,
        extra=2,
        can_delete=True,
        # The service's cap, here too: it bounds a forged post's number of forms.
        max_num=MAX_CARERS,
        absolute_max=MAX_CARERS,
        validate_max=True,
    ),
)


def carer_initial(child: Child) -> list[dict[str, Any]]:
    return [
        {
            "id": carer.pk,
            "name": carer.name,
            "relationship": carer.relationship,
            "phone": carer.phone,
            "email": carer.email,
            "address": carer.address,
            "has_parental_responsibility": carer.has_parental_responsibility,
        }
        for carer in child.carers.order_by("pk")
    ]


class PractitionerChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return display_name(obj)


class OpenCaseForm(forms.Form):
    # Longer than a reference may be, so the service's own message explains the limit.
    reference = forms.CharField(label="Case reference", max_length=100, required=False)
    team = PractitionerChoiceField(
        label="Case team",
        queryset=None,  # the setting's practitioners, given in __init__
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The practitioners who work with the child. Only they, the lead and the "
        "deputies see the case; change the team later on the case's page.",
    )

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        reference = self.fields["reference"]
        reference.help_text = (
            f"Leave empty for the next number, {next_case_reference(organisation)}."
        )
        team = self.fields["team"]
        assert isinstance(team, forms.ModelMultipleChoiceField)
        team.queryset = people_to_alert(organisation, {Role.PRACTITIONER}).order_by(
            "first_name", "last_name", "username"
        )


# --- Pages -----------------------------------------------------------------------------------


class ChildListView(ListView):
    """The setting's roll, a page at a time, each child's open case (if any) beside them."""

    template_name = "workflows/setting_admin/children.html"
    context_object_name = "children"
    paginate_by = CHILDREN_PER_PAGE

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.organisation, self.kept = register_setting(request)
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Child]:
        # The open case read in the same query as the page (a child has one at a time).
        open_case = Case.objects.filter(child=OuterRef("pk"), closed_at__isnull=True)
        return (
            children_register_for(self.request.user)
            .filter(organisation=self.organisation)
            .annotate(
                open_case_pk=Subquery(open_case.values("pk")[:1]),
                open_case_reference=Subquery(open_case.values("reference")[:1]),
            )
            .order_by("last_name", "first_name", "pk")
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["organisation"] = self.organisation
        context["kept"] = self.kept
        context["add_url"] = with_setting(
            reverse("safeguarding:child_add"), self.organisation, self.kept
        )
        return context


def _render_child_form(
    request: HttpRequest,
    *,
    organisation: Organisation,
    kept: list[Organisation],
    form: ChildForm,
    formset: BaseCarerFormSet,
    child: Child | None = None,
    status: int = 200,
) -> HttpResponse:
    context: dict[str, Any] = {
        "organisation": organisation,
        "kept": kept if child is None else [],
        "form": form,
        "formset": formset,
        "child": child,
    }
    if child is not None:
        cases = list(child.cases.order_by("-opened_at", "-pk"))
        # Opening a child's record is an access like any other, case or no case.
        note_child_viewed(request.user, child)
        context["cases"] = cases
        context["open_case"] = next((case for case in cases if case.is_open), None)
        context["may_send_file"] = can_send_file(request.user, organisation)
    return render(request, "workflows/setting_admin/child_form.html", context, status=status)


def _save_errors(error: ValidationError, form: ChildForm, formset: BaseCarerFormSet) -> None:
    show_service_errors(error, form, dict(enumerate(formset.kept_forms())))


class ChildAddView(View):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        organisation, kept = register_setting(request)
        posted = request.method == "POST"
        form = ChildForm(request.POST if posted else None)
        formset = CarerFormSet(request.POST if posted else None, prefix="carers")
        if posted and form.is_valid() and formset.is_valid():
            try:
                child = child_add(
                    organisation=organisation,
                    by=signed_in(request),
                    fields=form.service_fields(),
                    carers=formset.service_carers(),
                )
            except ValidationError as error:
                _save_errors(error, form, formset)
            else:
                messages.success(request, f"{child} is on the roll of {organisation}.")
                return redirect("safeguarding:child_detail", child_pk=child.pk)
        return _render_child_form(
            request,
            organisation=organisation,
            kept=kept,
            form=form,
            formset=formset,
            status=400 if posted else 200,
        )


class ChildDetailView(View):
    """A child's details and carers, to read and correct, and their cases."""

    def dispatch(self, request: HttpRequest, child_pk: int) -> HttpResponse:
        child = get_child_for_register(request.user, child_pk)
        posted = request.method == "POST"
        if posted:
            form = ChildForm(request.POST)
            formset = CarerFormSet(request.POST, prefix="carers")
        else:
            form = ChildForm(initial=child_initial(child))
            formset = CarerFormSet(initial=carer_initial(child), prefix="carers")
        if posted and form.is_valid() and formset.is_valid():
            try:
                child, changed = child_update(
                    child=child,
                    by=signed_in(request),
                    fields=form.service_fields(),
                    carers=formset.service_carers(),
                )
            except ValidationError as error:
                _save_errors(error, form, formset)
            else:
                if changed:
                    messages.success(request, f"{child}'s details are saved.")
                else:
                    messages.info(request, "Nothing had changed, so nothing was saved.")
                return redirect("safeguarding:child_detail", child_pk=child.pk)
        return _render_child_form(
            request,
            organisation=child.organisation,
            kept=[],
            form=form,
            formset=formset,
            child=child,
            status=400 if posted else 200,
        )


class CaseOpenView(View):
    """Open a case for a child with no open case, choosing its reference and team."""

    def dispatch(self, request: HttpRequest, child_pk: int) -> HttpResponse:
        child = get_child_for_register(request.user, child_pk)
        organisation = child.organisation
        posted = request.method == "POST"
        form = OpenCaseForm(request.POST if posted else None, organisation=organisation)
        if posted and form.is_valid():
            try:
                case = case_open(
                    child=child,
                    by=signed_in(request),
                    reference=form.cleaned_data["reference"],
                    team=list(form.cleaned_data["team"]),
                )
            except ValidationError as error:
                show_service_errors(error, form)
            else:
                messages.success(request, f"Case {case.reference} is open for {child}.")
                return redirect("safeguarding:case_detail", pk=case.pk)
        open_case = child.cases.filter(closed_at__isnull=True).first()
        return render(
            request,
            "workflows/setting_admin/open_case.html",
            {"child": child, "form": form, "open_case": open_case},
            status=400 if posted else 200,
        )
