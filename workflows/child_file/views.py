"""The pages of a child protection file moving between settings: sending it from the
child's page in the register, the list of files sent and received, and one file's page,
where the receiving lead accepts or rejects it and the sender sees what became of it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.generic import ListView

from cases.choices import DECIDING_ROLES, EDUCATION_SETTING_KINDS, Role
from cases.date_inputs import IsoDateInput
from cases.errors import refuse
from cases.models import (
    AWAITING_ANSWER,
    Case,
    Child,
    FileRequest,
    FileRequestStatus,
    FileTransfer,
    Membership,
    Organisation,
    Recipient,
    Share,
)
from cases.people import display_name, signed_in
from cases.services.transfers import (
    file_link_resend,
    file_request_decline,
    file_request_make,
    transfer_accept,
    transfer_reject,
    transfer_send,
    transfer_send_outside,
    transfer_viewed,
    transfer_withdraw,
)
from cases.share_links import file_links_context, keep_code_to_show
from cases.transactions import atomic_change
from permissions.lookups import get_child_file_for, get_child_for_register, get_file_request_for
from permissions.rules import can_answer_file, can_read_file, can_see_case, can_send_file
from permissions.selectors import child_files_for, file_requests_for, settings_where

from ..decision_record_pdf import document_pdf
from ..forms import apply_service_errors
from ..secure_link.sending import revoke_and_say
from ..tasks import queue_link_email
from . import notices
from .assemble import assemble_file, file_sections


class _ReceivingLead(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{display_name(obj.user)}, {obj.get_role_display().lower()} at {obj.organisation}"


def _day(label: str) -> forms.DateField:
    # Required by the service, which says what is missing beside the field.
    return forms.DateField(label=label, widget=IsoDateInput(), required=False)


def _note(label: str, **options: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        required=False,
        **options,
    )


class _OutsideLead(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        confirmed = "" if obj.secure_email_verified_at else " (address not yet confirmed)"
        return f"{obj}{confirmed}"


class SendFileForm(forms.Form):
    to = _ReceivingLead(
        label="Send to",
        queryset=Membership.objects.none(),
        required=False,
        help_text="The Designated Safeguarding Lead (or a deputy) of the child's new setting.",
    )
    to_outside = _OutsideLead(
        label="Or, a setting outside Safeshare",
        queryset=Recipient.objects.none(),
        required=False,
        help_text=(
            "Its lead, from your address book, with a confirmed secure address: the file goes "
            "by secure link, with a code you give them by phone."
        ),
    )
    starts_on = _day("The child's first day there")
    note = _note("Note for the new setting (optional)")

    def __init__(self, *args: Any, child: Child, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        outside = self.fields["to_outside"]
        assert isinstance(outside, forms.ModelChoiceField)
        # The new setting's lead: an education setting's entry with a secure address (one
        # not yet confirmed is listed, and refused with why).
        outside.queryset = Recipient.objects.filter(
            organisation=child.organisation,
            retired_at__isnull=True,
            agency_kind__in=sorted(EDUCATION_SETTING_KINDS),
        ).exclude(secure_email="")
        field = self.fields["to"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = (
            Membership.objects.filter(
                role__in=sorted(DECIDING_ROLES),
                ended_at__isnull=True,
                user__is_active=True,
                organisation__kind__in=sorted(EDUCATION_SETTING_KINDS),
            )
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
            data = form.cleaned_data
            if data["to"] is not None and data["to_outside"] is not None:
                form.add_error(
                    "to_outside", "Choose one: a lead in Safeshare, or a lead outside it."
                )
            else:
                sent = self._send(request, form, child)
                if sent is not None:
                    return redirect("safeguarding:child_file", pk=sent.pk)
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

    def _send(self, request: HttpRequest, form: SendFileForm, child: Child) -> FileTransfer | None:
        user = signed_in(request)
        data = form.cleaned_data
        chosen = data["to"] is not None or data["to_outside"] is not None
        common: dict[str, Any] = {
            "child": child,
            "starts_on": data["starts_on"],
            "note": data["note"] or "",
            "user": user,
        }
        try:
            with atomic_change():
                if data["to_outside"] is not None:
                    sent = transfer_send_outside(
                        to_outside=data["to_outside"],
                        file=assemble_file(child, user),
                        **common,
                    )
                    assert sent.link is not None
                    queue_link_email(sent.link.delivery)
                    keep_code_to_show(request, sent.link)
                    return sent.transfer
                transfer = transfer_send(to=data["to"], file=assemble_file(child, user), **common)
                notices.file_sent(transfer)
        except ValidationError as refused:
            apply_service_errors(refused, form)
            if not chosen and "to" in form.errors:
                form.errors["to"] = form.error_class(
                    [
                        "Choose where the file goes: a lead in Safeshare here, or a setting "
                        "outside Safeshare below."
                    ]
                )
            return None
        messages.success(request, f"The file is sent to {transfer.receiver}.")
        return transfer


class ChildFileListView(ListView):
    """Files sent to and from the person's settings, the latest first."""

    template_name = "workflows/child_files.html"
    context_object_name = "transfers"
    paginate_by = 50

    def get_queryset(self) -> Any:
        return child_files_for(self.request.user)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context["requests"] = file_requests_for(user)[:50]
        context["may_ask"] = settings_where(user, "cases.decide_shares").exists()
        return context


class _Practitioners(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return display_name(obj)


class AcceptForm(forms.Form):
    team = _Practitioners(
        label="Case team",
        queryset=get_user_model().objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=(
            "The practitioners who work with the child here: they see the file too. If the "
            "child has an open case here already, its team sees the file as well, and those "
            "ticked join it."
        ),
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
        if not field.queryset.exists():
            field.help_text = (
                f"{transfer.to_setting} has no practitioners in Safeshare yet: the case opens "
                "with its lead and deputies only. Add its team from the case page later."
            )


class RejectForm(forms.Form):
    reason = _note(
        "Why it is rejected",
        help_text="The sending lead reads this: the child did not start here, say.",
    )


class WithdrawForm(forms.Form):
    withdraw_reason = _note(
        "Why it is withdrawn",
        help_text=(
            "The new setting reads this, but no longer the file: say why (it went to the wrong "
            "setting, say) without the child's details."
        ),
    )


class ChildFileView(View):
    def dispatch(self, request: HttpRequest, pk: int) -> HttpResponse:
        transfer = get_child_file_for(request.user, pk)
        user = signed_in(request)
        forms_shown: dict[str, forms.Form] = {
            "accept": AcceptForm(transfer=transfer),
            "reject": RejectForm(),
            "withdraw": WithdrawForm(),
        }
        status = 200
        if request.method == "POST":
            action = request.POST.get("action")
            action = action if action in forms_shown else "reject"
            if action == "withdraw":
                if not can_send_file(user, transfer.from_setting):
                    raise PermissionDenied("Only the sending setting's lead or a deputy withdraws.")
            elif not can_answer_file(user, transfer):
                raise PermissionDenied("Only the receiving setting's lead or a deputy answers.")
            form: forms.Form = (
                AcceptForm(request.POST, transfer=transfer)
                if action == "accept"
                else type(forms_shown[action])(request.POST)
            )
            if form.is_valid():
                try:
                    with atomic_change():
                        transfer = _answer(transfer, user, action, form.cleaned_data)
                except ValidationError as refused:
                    apply_service_errors(refused, form)
                else:
                    messages.success(request, f"The file is {transfer.answered_as}.")
                    return redirect("safeguarding:child_file", pk=transfer.pk)
            forms_shown[action] = form
            status = 400
        # Shown again with a mistake or not, the file is read: logged each time.
        transfer = transfer_viewed(transfer=transfer, user=user, how="page")
        awaiting = transfer.status in AWAITING_ANSWER
        readable = can_read_file(user, transfer)
        if transfer.outside:
            forms_shown["withdraw"].fields["withdraw_reason"].help_text = (
                "Kept in the file's history here, without the child's details. Its link opens "
                "nothing from now on: phone the school to tell them why."
            )
        context = {
            "transfer": transfer,
            "events": transfer.events.select_related("by").order_by("at", "pk"),
            "sections": file_sections(transfer.file) if readable else (),
            "readable": readable,
            "may_answer": can_answer_file(user, transfer) and awaiting,
            "may_withdraw": can_send_file(user, transfer.from_setting) and awaiting,
            **forms_shown,
            # A mistake in a form here keeps a link's just-sent code for the next page too.
            **file_links_context(request, transfer, keep_codes=status != 200),
            "case_visible": transfer.case is not None and can_see_case(user, transfer.case),
        }
        return render(request, "workflows/child_file.html", context, status=status)


def _answer(transfer: FileTransfer, user: Any, action: str, data: dict[str, Any]) -> FileTransfer:
    """Accept, reject or withdraw the file, and tell the other setting."""
    if action == "withdraw":
        transfer = transfer_withdraw(transfer=transfer, user=user, reason=data["withdraw_reason"])
        notices.file_withdrawn(transfer, by=user)
        return transfer
    if action == "accept":
        transfer = transfer_accept(transfer=transfer, user=user, team=data["team"])
    else:
        transfer = transfer_reject(transfer=transfer, user=user, reason=data["reason"])
    notices.file_answered(transfer)
    return transfer


class RevokeFileLinkView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int, link: int) -> HttpResponse:
        transfer = get_child_file_for(request.user, pk)
        links = transfer.deliveries.select_related("transfer")
        revoke_and_say(request, get_object_or_404(links, pk=link))
        return redirect("safeguarding:child_file", pk=transfer.pk)


class NewFileLinkView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        transfer = get_child_file_for(request.user, pk)
        try:
            with atomic_change():
                sent = file_link_resend(transfer=transfer, user=signed_in(request))
                queue_link_email(sent.delivery)
        except ValidationError as refused:
            for message in refused.messages:
                messages.error(request, message)
        else:
            keep_code_to_show(request, sent)
        return redirect("safeguarding:child_file", pk=transfer.pk)


class ChildFilePdfView(View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        transfer = get_child_file_for(request.user, pk)
        if not can_read_file(request.user, transfer):
            raise Http404("No such file.")
        transfer = transfer_viewed(transfer=transfer, user=signed_in(request), how="PDF")
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


# --- Asking a previous setting for a child's file ------------------------------------------


class FileRequestForm(forms.Form):
    asked_for = forms.ModelChoiceField(
        label="Asking for", queryset=Organisation.objects.none(), required=False
    )
    asked_of = forms.ModelChoiceField(
        label="The child's previous setting",
        queryset=Organisation.objects.none(),
        required=False,
        help_text="A setting that uses Safeshare here; its lead and deputies are asked.",
    )
    first_name = forms.CharField(label="Child's legal first name", max_length=100, required=False)
    last_name = forms.CharField(label="Child's legal last name", max_length=100, required=False)
    date_of_birth = _day("Child's date of birth")
    starts_on = _day("The child's first day with you")
    note = _note("Note for the previous setting (optional)")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        mine = settings_where(user, "cases.decide_shares").order_by("name")
        asked_for = self.fields["asked_for"]
        asked_of = self.fields["asked_of"]
        assert isinstance(asked_for, forms.ModelChoiceField)
        assert isinstance(asked_of, forms.ModelChoiceField)
        asked_for.queryset = mine
        asked_for.initial = mine.first()
        asked_of.queryset = (
            Organisation.objects.filter(kind__in=sorted(EDUCATION_SETTING_KINDS))
            .exclude(pk__in=mine)
            .order_by("name")
        )


class FileRequestView(View):
    """A new setting's lead or deputy asks the child's previous setting for their file."""

    def dispatch(self, request: HttpRequest) -> HttpResponse:
        user = signed_in(request)
        if not settings_where(user, "cases.decide_shares").exists():
            raise PermissionDenied("A setting's lead or a deputy asks for a child's file.")
        posted = request.method == "POST"
        form = FileRequestForm(request.POST if posted else None, user=user)
        if posted and form.is_valid():
            data = form.cleaned_data
            try:
                with atomic_change():
                    asked = file_request_make(
                        asked_of=data["asked_of"],
                        asked_for=data["asked_for"] or form.fields["asked_for"].initial,
                        user=user,
                        first_name=data["first_name"] or "",
                        last_name=data["last_name"] or "",
                        date_of_birth=data["date_of_birth"],
                        starts_on=data["starts_on"],
                        note=data["note"] or "",
                    )
                    notices.file_requested(asked)
            except ValidationError as refused:
                apply_service_errors(refused, form)
            else:
                messages.success(request, f"{asked.asked_of} has been asked for the file.")
                return redirect("safeguarding:file_request", pk=asked.pk)
        return render(
            request,
            "workflows/file_request_form.html",
            {"form": form, "one_setting": len(form.fields["asked_for"].queryset) == 1},  # type: ignore[attr-defined]
            status=400 if posted else 200,
        )


class _ChildOnRoll(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.first_name} {obj.last_name}, born {obj.date_of_birth:%-d %B %Y}"


class SendAnswerForm(forms.Form):
    child = _ChildOnRoll(
        label="The child on your roll",
        queryset=Child.objects.none(),
        required=False,
        help_text="Those with the same date of birth are listed first.",
    )
    to = _ReceivingLead(label="Send to", queryset=Membership.objects.none(), required=False)

    def __init__(self, *args: Any, request: FileRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        child = self.fields["child"]
        to = self.fields["to"]
        assert isinstance(child, forms.ModelChoiceField) and isinstance(to, forms.ModelChoiceField)
        child.queryset = Child.objects.filter(organisation=request.asked_of).order_by(
            models.Case(models.When(date_of_birth=request.date_of_birth, then=0), default=1),
            "last_name",
            "first_name",
        )
        to.queryset = (
            Membership.objects.filter(
                organisation=request.asked_for,
                role__in=sorted(DECIDING_ROLES),
                ended_at__isnull=True,
            )
            .select_related("user", "organisation")
            .order_by("role", "user__last_name")
        )
        to.initial = to.queryset.filter(user=request.asked_by).first()
        # The child asked for, chosen already where exactly one on the roll matches.
        matching = Child.objects.filter(
            organisation=request.asked_of,
            date_of_birth=request.date_of_birth,
            first_name__iexact=request.first_name,
            last_name__iexact=request.last_name,
        )[:2]
        if len(matching) == 1:
            child.initial = matching[0]


class DeclineForm(forms.Form):
    decline_reason = _note(
        "Why you are declining",
        help_text="The setting that asked reads this: the child was never here, say.",
    )


class FileRequestPageView(View):
    """A request for a child's file: what was asked, its answer, and for the asked
    setting's lead or deputy, sending the file or declining."""

    def dispatch(self, request: HttpRequest, pk: int) -> HttpResponse:
        asked = get_file_request_for(request.user, pk)
        user = signed_in(request)
        send, decline = SendAnswerForm(request=asked), DeclineForm()
        status = 200
        if request.method == "POST":
            action = request.POST.get("action")
            form: forms.Form = (
                SendAnswerForm(request.POST, request=asked)
                if action == "send"
                else DeclineForm(request.POST)
            )
            if form.is_valid():
                try:
                    with atomic_change():
                        if action == "send":
                            child = form.cleaned_data["child"]
                            if child is None:
                                raise refuse("child", "Choose the child on your roll.")
                            transfer = transfer_send(
                                child=child,
                                to=form.cleaned_data["to"],
                                starts_on=asked.starts_on,
                                note="",
                                file=assemble_file(child, user),
                                user=user,
                                request=asked,
                            )
                            notices.file_sent(transfer)
                        else:
                            asked = file_request_decline(
                                request=asked,
                                user=user,
                                reason=form.cleaned_data["decline_reason"] or "",
                            )
                            notices.file_request_declined(asked)
                except ValidationError as refused:
                    apply_service_errors(refused, form)
                else:
                    if action == "send":
                        messages.success(request, "The file is sent.")
                        return redirect("safeguarding:child_file", pk=transfer.pk)
                    messages.success(request, "The request is declined.")
                    return redirect("safeguarding:file_request", pk=asked.pk)
            if action == "send":
                send = form  # type: ignore[assignment]
            else:
                decline = form  # type: ignore[assignment]
            status = 400
        may_answer = can_send_file(user, asked.asked_of) and asked.status == FileRequestStatus.OPEN
        answered_by_file = getattr(asked, "transfer", None) if asked.status == "sent" else None
        context = {
            "asked": asked,
            "may_answer": may_answer,
            "send": send,
            "decline": decline,
            "transfer": answered_by_file,
        }
        return render(request, "workflows/file_request.html", context, status=status)
