"""Importing children (with their carers) or staff from a school MIS export: the upload page,
then a preview of every row, then Confirm or Discard.

Children are imported by whoever keeps the register (the lead or a deputy); staff by the lead
alone. Someone who may do neither is refused the upload page (403); an upload that is not the
person's own, or of a setting where they may no longer import it, is not found (404).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseBase
from django.shortcuts import redirect, render
from django.views import View

from cases.models import Organisation, RegisterImportKind
from cases.register_import import (
    COLUMNS,
    ImportFileError,
    register_import_apply,
    register_import_discard,
    register_import_preview,
    register_import_start,
)
from cases.register_import.reading import MAX_BYTES
from permissions.lookups import get_import_for
from permissions.rules import may_import
from permissions.selectors import register_settings_for, settings_run_by

from .staff import send_invitation

UPLOAD_PAGE = "safeguarding:register_import"


class UploadForm(forms.Form):
    kind = forms.ChoiceField(
        label="What the file lists", widget=forms.RadioSelect, choices=RegisterImportKind.choices
    )
    organisation = forms.TypedChoiceField(label="Setting", coerce=int, choices=())
    file = forms.FileField(
        label="The CSV file",
        help_text="Exported from the school's MIS or saved from a spreadsheet as CSV.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def __init__(self, *args: Any, settings: list[Organisation], kinds: list[str], **kw: Any):
        super().__init__(*args, **kw)
        kind_field = self.fields["kind"]
        assert isinstance(kind_field, forms.ChoiceField)
        kind_field.choices = [c for c in RegisterImportKind.choices if c[0] in kinds]
        kind_field.initial = RegisterImportKind.CHILDREN
        setting_field = self.fields["organisation"]
        assert isinstance(setting_field, forms.ChoiceField)
        setting_field.choices = [(o.pk, o.name) for o in settings]
        setting_field.initial = settings[0].pk
        if len(settings) == 1:
            # Nothing to choose: the one setting the person keeps.
            setting_field.widget = forms.HiddenInput()


def _columns_for_page() -> list[tuple[str, list[tuple[str, str, bool]]]]:
    """Each kind's columns as the page lists them: name, other spellings, required."""
    return [
        (
            str(label),
            [
                (column.label, ", ".join(column.spellings[1:]), column.required)
                for column in COLUMNS[kind]
            ],
        )
        for kind, label in RegisterImportKind.choices
    ]


class RegisterImportView(View):
    """Choosing the file. Open to whoever keeps a setting's register; staff only to a lead."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.settings = list(register_settings_for(request.user))
        if not self.settings:
            raise PermissionDenied
        self.kinds: list[str] = [RegisterImportKind.CHILDREN]
        if settings_run_by(request.user).exists():
            self.kinds.append(RegisterImportKind.STAFF)
        return super().dispatch(request, *args, **kwargs)

    def render_page(
        self, request: HttpRequest, form: UploadForm, status: int = 200
    ) -> HttpResponse:
        return render(
            request,
            "workflows/setting_admin/import_upload.html",
            {
                "form": form,
                "columns": _columns_for_page(),
                "max_megabytes": MAX_BYTES // (1024 * 1024),
            },
            status=status,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_page(request, UploadForm(settings=self.settings, kinds=self.kinds))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = UploadForm(request.POST, request.FILES, settings=self.settings, kinds=self.kinds)
        if not form.is_valid():
            return self.render_page(request, form, status=400)
        organisation = next(o for o in self.settings if o.pk == form.cleaned_data["organisation"])
        kind = form.cleaned_data["kind"]
        if not may_import(request.user, organisation, kind):
            form.add_error("kind", f"Only the lead of {organisation} can import its staff.")
            return self.render_page(request, form, status=400)
        upload = form.cleaned_data["file"]
        # Read no more than the limit, whatever size the browser claimed.
        data = upload.read(MAX_BYTES + 1)
        try:
            register_import = register_import_start(
                organisation=organisation,
                kind=kind,
                by=request.user,
                file_name=str(upload.name or ""),
                data=data,
            )
        except ImportFileError as error:
            form.add_error("file", error.message)
            return self.render_page(request, form, status=400)
        except ValidationError as error:
            for problems in error.message_dict.values():
                for problem in problems:
                    form.add_error(None, problem)
            return self.render_page(request, form, status=400)
        return redirect("safeguarding:register_import_preview", import_pk=register_import.pk)


class RegisterImportPreviewView(View):
    """Every row of the upload and what confirming would do with it; Confirm or Discard."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.register_import = get_import_for(request.user, kwargs["import_pk"])
        if self.register_import.is_applied:
            messages.info(
                request, self.register_import.outcome or "This file has already been imported."
            )
            return redirect(UPLOAD_PAGE)
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest, import_pk: int) -> HttpResponse:
        try:
            plan = register_import_preview(self.register_import)
        except ImportFileError as error:
            # The file was readable when uploaded; should that change, it is of no more use.
            register_import_discard(register_import=self.register_import, by=request.user)
            messages.error(request, error.message)
            return redirect(UPLOAD_PAGE)
        return render(
            request,
            "workflows/setting_admin/import_preview.html",
            {
                "register_import": self.register_import,
                "plan": plan,
                "counts": plan.counts,
                "to_apply": len(plan.to_apply()),
            },
        )

    def post(self, request: HttpRequest, import_pk: int) -> HttpResponse:
        action = request.POST.get("action", "")
        if action == "discard":
            register_import_discard(register_import=self.register_import, by=request.user)
            messages.success(request, "The file was discarded: nothing was imported.")
            return redirect(UPLOAD_PAGE)
        if action != "confirm":
            return HttpResponseBadRequest("Choose Confirm or Discard.")
        try:
            outcome = register_import_apply(register_import=self.register_import, by=request.user)
        except (ValidationError, ImportFileError) as error:
            text = error.message if isinstance(error, ImportFileError) else " ".join(error.messages)
            messages.error(request, text)
            return redirect(UPLOAD_PAGE)
        # Each invited row has committed by now (rows are applied one transaction each, and
        # pages run outside any transaction), so no link names an account rolled back.
        not_sent = [m for m in outcome.invited if not send_invitation(m, request)]
        messages.success(request, outcome.summary)
        if not_sent:
            messages.warning(
                request,
                f"{len(not_sent)} invitation email(s) could not be sent: send them again from "
                "each person's row on the Staff page.",
            )
        return redirect(UPLOAD_PAGE)
