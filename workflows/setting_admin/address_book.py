"""The setting's address book: the named people its shares go to.

Kept by the setting's lead or a deputy. The rules are the ``cases`` services'
(``recipient_add``, ``recipient_update``, ``recipient_retire``): a person already named on a
submitted share keeps their name and organisation, and one who moves on is retired, so the
shares that named them keep their record; a retired entry is offered for no new share.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from cases.choices import AgencyKind
from cases.models import Organisation, Recipient
from cases.people import signed_in
from cases.services import recipient_add, recipient_retire, recipient_update
from cases.services.address_book import NAMING_FIELDS, RECIPIENT_FIELDS, is_named_on_a_share
from permissions.lookups import get_recipient_for_register
from permissions.selectors import address_book_for

from . import field_length, show_service_errors, with_setting
from .children import register_setting

_CHECKED_HELP = (
    "Tick only once you have confirmed this address with their organisation: by phone, or "
    "from its published list. A changed address is no longer a checked one."
)


class RecipientForm(forms.Form):
    """A recipient's details. Nothing is required here: the service says what is missing."""

    person_name = forms.CharField(
        label="Name", max_length=field_length(Recipient, "person_name"), required=False
    )
    role = forms.CharField(
        label="Job title", max_length=field_length(Recipient, "role"), required=False
    )
    agency_name = forms.CharField(
        label="Organisation", max_length=field_length(Recipient, "agency_name"), required=False
    )
    agency_kind = forms.ChoiceField(
        label="Kind of organisation",
        choices=AgencyKind.choices,
        initial=AgencyKind.OTHER,
        required=False,
        help_text="A child protection file goes by secure link only to a nursery, school or "
        "childminder.",
    )
    # Not an EmailField: the service's own message is the one shown.
    secure_email = forms.CharField(
        label="Secure email address",
        max_length=field_length(Recipient, "secure_email"),
        required=False,
        help_text="The address their organisation uses for safeguarding information.",
    )
    phone = forms.CharField(max_length=field_length(Recipient, "phone"), required=False)
    verified = forms.BooleanField(
        label="I have checked this secure address with their organisation",
        required=False,
        help_text=_CHECKED_HELP,
    )

    def service_fields(self) -> dict[str, Any]:
        return {key: self.cleaned_data[key] for key in RECIPIENT_FIELDS}


def _address_book_url(organisation: Organisation) -> str:
    return f"{reverse('safeguarding:address_book')}?setting={organisation.pk}"


class AddressBookView(View):
    """Current entries first, then those retired, with when each was retired."""

    def get(self, request: HttpRequest) -> HttpResponse:
        organisation, kept = register_setting(request)
        entries = list(address_book_for(request.user).filter(organisation=organisation))
        current = [entry for entry in entries if entry.retired_at is None]
        retired = sorted(
            (entry for entry in entries if entry.retired_at is not None),
            key=lambda entry: entry.retired_at,  # type: ignore[arg-type,return-value]
            reverse=True,
        )
        return render(
            request,
            "workflows/setting_admin/address_book.html",
            {
                "organisation": organisation,
                "kept": kept,
                "current": current,
                "retired": retired,
                "add_url": with_setting(reverse("safeguarding:recipient_add"), organisation, kept),
            },
        )


class RecipientAddView(View):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        organisation, kept = register_setting(request)
        posted = request.method == "POST"
        form = RecipientForm(request.POST if posted else None)
        if posted and form.is_valid():
            try:
                recipient = recipient_add(
                    organisation=organisation,
                    by=signed_in(request),
                    fields=form.service_fields(),
                    verified=form.cleaned_data["verified"],
                )
            except ValidationError as error:
                show_service_errors(error, form)
            else:
                messages.success(request, f"{recipient} is in the address book.")
                return redirect(_address_book_url(organisation))
        return render(
            request,
            "workflows/setting_admin/recipient_form.html",
            {"organisation": organisation, "kept": kept, "form": form, "recipient": None},
            status=400 if posted else 200,
        )


class RecipientDetailView(View):
    """An entry's details, to correct; a retired entry is only shown."""

    def dispatch(self, request: HttpRequest, recipient_pk: int) -> HttpResponse:
        recipient = get_recipient_for_register(request.user, recipient_pk)
        posted = request.method == "POST" and recipient.retired_at is None
        if posted:
            form = RecipientForm(request.POST)
        else:
            form = RecipientForm(initial={key: getattr(recipient, key) for key in RECIPIENT_FIELDS})
        named = is_named_on_a_share(recipient)
        if named:
            for key in NAMING_FIELDS:
                form.fields[key].help_text = (
                    "Shares already name this person as they are: to change this, retire the "
                    "entry and add a new one."
                )
        if posted and form.is_valid():
            try:
                recipient = recipient_update(
                    recipient=recipient,
                    by=signed_in(request),
                    fields=form.service_fields(),
                    verified=form.cleaned_data["verified"],
                )
            except ValidationError as error:
                show_service_errors(error, form)
            else:
                messages.success(request, f"{recipient}: saved.")
                return redirect(_address_book_url(recipient.organisation))
        return render(
            request,
            "workflows/setting_admin/recipient_form.html",
            {
                "organisation": recipient.organisation,
                "kept": [],
                "form": form,
                "recipient": recipient,
                "named": named,
            },
            status=400 if posted else 200,
        )


class RecipientRetireView(View):
    """Asks, then retires: offered for no new share from then on."""

    def dispatch(self, request: HttpRequest, recipient_pk: int) -> HttpResponse:
        recipient = get_recipient_for_register(request.user, recipient_pk)
        if recipient.retired_at is not None:
            messages.info(request, f"{recipient} was already retired.")
            return redirect(_address_book_url(recipient.organisation))
        if request.method == "POST":
            try:
                recipient_retire(recipient=recipient, by=signed_in(request))
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                messages.success(
                    request, f"{recipient} is retired: no new share can be addressed to them."
                )
            return redirect(_address_book_url(recipient.organisation))
        return render(
            request, "workflows/setting_admin/recipient_retire.html", {"recipient": recipient}
        )
