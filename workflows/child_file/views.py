"""The pages of a child protection file moving between settings: sending it from the
child's page in the register, the list of files sent and received, and one file's page,
where the receiving lead accepts or rejects it and the sender sees what became of it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View
from django.views.generic import ListView

from cases.choices import DECIDING_ROLES, Role
from cases.date_inputs import IsoDateInput
from cases.models import AWAITING_ANSWER, Case, Child, FileTransfer, Membership, Share
from cases.people import display_name, signed_in
from cases.services.transfers import (
    transfer_accept,
    transfer_reject,
    transfer_send,
    transfer_viewed,
)
from cases.transactions import atomic_change
from permissions.lookups import get_child_file_for, get_child_for_register
from permissions.rules import can_answer_file, can_send_file
from permissions.selectors import child_files_for

from ..decision_record_pdf import document_pdf
from ..forms import apply_service_errors
from . import notices
from .assemble import assemble_file, file_sections


class _ReceivingLead(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{display_name(obj.user)}, {obj.get_role_display().lower()} at {obj.organisation}"


class SendFileForm(forms.Form):
    to = _ReceivingLead(
        label="Send to",
        queryset=Membership.objects.none(),
        required=False,
        help_text="The Designated Safeguarding Lead (or a deputy) of the child's new setting.",
    )
    starts_on = forms.DateField(
        label="The child's first day there", widget=IsoDateInput(), required=False
    )
    note = forms.CharField(
        label="Note for the new setting (optional)",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        required=False,
    )

    def __init__(self, *args: Any, child: Child, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["to"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = (
            Membership.objects.filter(role__in=sorted(DECIDING_ROLES), ended_at__isnull=True)
            .exclude(organisation=child.organisation)
            .select_related("user", "organisation")
            .order_by("organisation__name", "role", "user__last_name")
        )


class SendChildFileView(View):
    """From a child's page in the register: send their file to their new setting's lead."""

    def dispatch(self, request: HttpRequest, child_pk: int) -> HttpResponse:
        child = get_child_for_register(request.user, child_pk)
        if not can_send_file(request.user, child.organisation):
            raise PermissionDenied("Only the setting's lead or a deputy sends a child's file.")
        posted = request.method == "POST"
        form = SendFileForm(request.POST if posted else None, child=child)
        if posted and form.is_valid():
            user = signed_in(request)
            try:
                with atomic_change():
                    transfer = transfer_send(
                        child=child,
                        to=form.cleaned_data["to"],
                        starts_on=form.cleaned_data["starts_on"],
                        note=form.cleaned_data["note"] or "",
                        file=assemble_file(child, user),
                        user=user,
                    )
                    notices.file_sent(transfer)
            except ValidationError as refused:
                apply_service_errors(refused, form)
            else:
                messages.success(request, f"The file is sent to {display_name(transfer.to_lead)}.")
                return redirect("safeguarding:child_file", pk=transfer.pk)
        cases = Case.objects.filter(child=child)
        context = {
            "child": child,
            "form": form,
            "cases": cases.count(),
            "shares": Share.objects.filter(case__in=cases).count(),
        }
        return render(
            request, "workflows/child_file_send.html", context, status=400 if posted else 200
        )


class ChildFileListView(ListView):
    """Files sent to and from the person's settings, the latest first."""

    template_name = "workflows/child_files.html"
    context_object_name = "transfers"
    paginate_by = 50

    def get_queryset(self) -> Any:
        return child_files_for(self.request.user)


class _Practitioners(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return display_name(obj)


class AcceptForm(forms.Form):
    team = _Practitioners(
        label="Case team (if a case is opened for the child)",
        queryset=get_user_model().objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="The practitioners who work with the child here; they will see the file too.",
    )

    def __init__(self, *args: Any, transfer: FileTransfer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["team"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = (
            get_user_model()
            .objects.filter(
                memberships__organisation=transfer.to_setting,
                memberships__role=Role.PRACTITIONER,
                memberships__ended_at__isnull=True,
            )
            .order_by("last_name", "first_name")
            .distinct()
        )


class RejectForm(forms.Form):
    reason = forms.CharField(
        label="Why it is rejected",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        required=False,
        help_text="The sending lead reads this: the child did not start here, say.",
    )


class ChildFileView(View):
    def dispatch(self, request: HttpRequest, pk: int) -> HttpResponse:
        transfer = get_child_file_for(request.user, pk)
        user = signed_in(request)
        accept = AcceptForm(transfer=transfer)
        reject = RejectForm()
        status = 200
        if request.method == "POST":
            action = request.POST.get("action")
            form: forms.Form = (
                AcceptForm(request.POST, transfer=transfer)
                if action == "accept"
                else RejectForm(request.POST)
            )
            if form.is_valid():
                try:
                    with atomic_change():
                        if action == "accept":
                            transfer = transfer_accept(
                                transfer=transfer, user=user, team=form.cleaned_data["team"]
                            )
                        else:
                            transfer = transfer_reject(
                                transfer=transfer, user=user, reason=form.cleaned_data["reason"]
                            )
                        notices.file_answered(transfer)
                except ValidationError as refused:
                    apply_service_errors(refused, form)
                else:
                    messages.success(
                        request, f"The file is {transfer.get_status_display().lower()}."
                    )
                    return redirect("safeguarding:child_file", pk=transfer.pk)
            if action == "accept":
                accept = form  # type: ignore[assignment]
            else:
                reject = form  # type: ignore[assignment]
            status = 400
        else:
            transfer = transfer_viewed(transfer=transfer, user=user)
        may_answer = can_answer_file(user, transfer) and transfer.status in AWAITING_ANSWER
        context = {
            "transfer": transfer,
            "events": transfer.events.select_related("by").order_by("at", "pk"),
            "sections": file_sections(transfer.file),
            "may_answer": may_answer,
            "accept": accept,
            "reject": reject,
        }
        return render(request, "workflows/child_file.html", context, status=status)


class ChildFilePdfView(View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        transfer = transfer_viewed(
            transfer=get_child_file_for(request.user, pk), user=signed_in(request)
        )
        content = document_pdf(
            transfer.file.get("title", "Child protection file"),
            file_sections(transfer.file),
            f"Child protection file #{transfer.pk}, from {transfer.from_setting.name}",
            "Child protection file",
        )
        response = HttpResponse(content, content_type="application/pdf")
        # Named by number, never the child: file names travel in download lists and mail.
        response["Content-Disposition"] = (
            f'attachment; filename="child-protection-file-{transfer.pk}.pdf"'
        )
        response["Cache-Control"] = "no-store"
        return response
