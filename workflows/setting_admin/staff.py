"""The lead's Staff page: who works in the setting and in which role, inviting someone,
changing a role and ending a membership.

How each person signs in (their second factor, a pause after failed attempts) stays on the
Staff sign-in page, which this page links to; this page keeps only what the lead needs to
see whether someone has started: their last sign-in and whether their invitation is unused.
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views import View

from cases.choices import Role
from cases.models import Membership, Organisation
from cases.people import display_name, signed_in
from cases.services import membership_change_role, membership_end, staff_invitation_renewed
from cases.services.staff import invitation_unused, staff_invite
from permissions.accounts.passwords import first_password_link
from permissions.accounts.second_factor import has_app, must_use
from permissions.lookups import get_membership_for_lead

from . import setting_to_run, show_service_errors

logger = logging.getLogger(__name__)


# --- The invitation email ------------------------------------------------------------------


def link_lifetime() -> str:
    """How long a set-password link works, in words (PASSWORD_RESET_TIMEOUT is seconds)."""
    seconds = int(settings.PASSWORD_RESET_TIMEOUT)
    if seconds >= 86400:
        days = seconds // 86400
        return f"{days} day{'s' if days != 1 else ''}"
    hours = max(seconds // 3600, 1)
    return f"{hours} hour{'s' if hours != 1 else ''}"


def _one_line(text: str) -> str:
    # A header with a line break is refused by Django's mail; a setting's name typed with one
    # must not stop the invitation.
    return " ".join(str(text).split())


def send_invitation(membership: Membership, request: HttpRequest | None = None) -> bool:
    """Email the person invited to this membership; True when the mail server took it.

    Someone with no password yet is sent a one-time link to choose one (it works once, and
    for PASSWORD_RESET_TIMEOUT at most); someone who already has one (they work in another
    setting too, or worked here before) is told to sign in with it, since a link would reset
    their password.

    Call it after the invitation has committed, so that no link reaches a person whose
    invitation was rolled back: the Staff page sends once staff_invite has returned (its
    transaction committed); a caller inside a transaction of its own sends from
    ``transaction.on_commit``. A mail server that is down is logged, never raised: the
    invitation stands and the lead is offered to send it again.
    """
    user = membership.user
    organisation = membership.organisation
    # The staff import may send with no request; a signed-in lead is named as the inviter.
    inviter = getattr(request, "user", None)
    if inviter is not None and not inviter.is_authenticated:
        inviter = None
    context = {
        "name": user.first_name or display_name(user),
        "setting": _one_line(organisation.name),
        "role": membership.get_role_display(),
        "username": user.get_username(),
        "invited_by": display_name(inviter) if inviter is not None else "",
        "link": None if user.has_usable_password() else first_password_link(user),
        # Someone invited back to the only setting they had has no "other setting" to find
        # this one beside: they are told to sign in again instead.
        "other_settings": Membership.objects.filter(user=user, ended_at__isnull=True)
        .exclude(pk=membership.pk)
        .exists(),
        "lifetime": link_lifetime(),
        # An app already set up is kept; the email speaks of setting one up only when needed.
        "needs_app": must_use(user) and not has_app(user),
    }
    message = EmailMessage(
        subject=f"Safeshare: you are invited to work at {_one_line(organisation.name)}",
        body=render_to_string("workflows/setting_admin/invitation_email.txt", context),
        to=[user.email or user.get_username()],
    )
    try:
        message.send()
    except Exception:
        logger.exception("Could not send the invitation for membership %s", membership.pk)
        return False
    return True


# --- Forms -----------------------------------------------------------------------------------


class InviteForm(forms.Form):
    # Only collected here: staff_invite checks each and says what is wrong beside the field.
    # Lengths bound what the account can hold (its username is the email, 150 characters).
    email = forms.CharField(
        label="Work email address",
        max_length=150,
        required=False,
        help_text="They sign in with it, and the invitation goes to it.",
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    first_name = forms.CharField(label="First name", max_length=150, required=False)
    last_name = forms.CharField(label="Last name", max_length=150, required=False)
    role = forms.ChoiceField(
        label="Role", choices=[("", "Choose a role"), *Role.choices], required=False
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Role.choices)


# --- Pages -----------------------------------------------------------------------------------


def staff_page(organisation: Organisation) -> str:
    return reverse("safeguarding:setting_staff") + f"?setting={organisation.pk}"


def _staff_rows(organisation: Organisation) -> tuple[list[Membership], list[Membership]]:
    memberships = (
        Membership.objects.filter(organisation=organisation)
        .select_related("user", "organisation")
        .order_by("user__last_name", "user__first_name", "user__username", "-started_at")
    )
    current: list[Membership] = []
    ended: list[Membership] = []
    for membership in memberships:
        membership.invitation_unused = invitation_unused(membership)  # type: ignore[attr-defined]
        (current if membership.ended_at is None else ended).append(membership)
    ended.sort(key=lambda m: m.ended_at or m.started_at, reverse=True)
    return current, ended


class StaffView(View):
    """The setting's staff and the invite form. Lead only: the lead answers for who can see
    the setting's children's records."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.organisation, self.settings_led = setting_to_run(request)
        return super().dispatch(request, *args, **kwargs)

    def render_page(
        self, request: HttpRequest, form: InviteForm, *, not_sent: Any = None, status: int = 200
    ) -> HttpResponse:
        current, ended = _staff_rows(self.organisation)
        return render(
            request,
            "workflows/setting_admin/staff.html",
            {
                "organisation": self.organisation,
                "settings_led": self.settings_led,
                "chooser_page": "safeguarding:setting_staff",
                "current": current,
                "ended": ended,
                "form": form,
                "roles": Role.choices,
                "not_sent": not_sent,
                "lifetime": link_lifetime(),
            },
            status=status,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_page(request, InviteForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = InviteForm(request.POST)
        if not form.is_valid():
            return self.render_page(request, form, status=400)
        try:
            membership = staff_invite(
                organisation=self.organisation,
                email=form.cleaned_data["email"],
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
                role=form.cleaned_data["role"],
                by=request.user,
            )
        except ValidationError as error:
            show_service_errors(error, form)
            return self.render_page(request, form, status=400)
        # staff_invite's transaction has committed as it returned (Safeshare's pages run
        # outside any transaction: no ATOMIC_REQUESTS), so the link names a saved account,
        # and the page can say whether the email went.
        name = display_name(membership.user)
        if not send_invitation(membership, request):
            # The invitation stands; the page says so and offers to send it again, here and
            # on the person's row.
            return self.render_page(request, InviteForm(), not_sent=membership)
        messages.success(
            request,
            f"{name} is invited as {membership.get_role_display()}. An email with a link to "
            f"choose a password went to {membership.user.email}; it works for {link_lifetime()}.",
        )
        return redirect(staff_page(self.organisation))


class StaffMemberView(View):
    """One person's membership: change the role, end it (after a confirmation step), or
    send an unused invitation again. A membership of a setting the person does not lead is
    not found."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.membership = get_membership_for_lead(request.user, kwargs["membership_pk"])
        return super().dispatch(request, *args, **kwargs)

    def render_page(
        self,
        request: HttpRequest,
        role_form: RoleForm | None = None,
        end_errors: list[str] | None = None,
        *,
        not_sent: bool = False,
        status: int = 200,
        template: str = "workflows/setting_admin/staff_member.html",
    ) -> HttpResponse:
        membership = self.membership
        return render(
            request,
            template,
            {
                "membership": membership,
                "person": membership.user,
                "organisation": membership.organisation,
                "role_form": role_form or RoleForm(initial={"role": membership.role}),
                "end_errors": end_errors or [],
                "invitation_unused": invitation_unused(membership),
                "not_sent": not_sent,
                "staff_page": staff_page(membership.organisation),
                "lifetime": link_lifetime(),
            },
            status=status,
        )

    def get(self, request: HttpRequest, membership_pk: int) -> HttpResponse:
        return self.render_page(request)

    def post(self, request: HttpRequest, membership_pk: int) -> HttpResponse:
        action = request.POST.get("action")
        if action == "role":
            return self._change_role(request)
        if action == "end":
            return self._end(request)
        if action == "resend":
            return self._resend(request)
        return HttpResponseBadRequest(
            "Bad request: choose change role, end membership or send the invitation again.\n",
            content_type="text/plain; charset=utf-8",
        )

    def _change_role(self, request: HttpRequest) -> HttpResponse:
        form = RoleForm(request.POST)
        if not form.is_valid():
            return self.render_page(request, form, status=400)
        before = self.membership.get_role_display()
        try:
            membership = membership_change_role(
                membership=self.membership, role=form.cleaned_data["role"], by=request.user
            )
        except ValidationError as error:
            show_service_errors(error, form)
            return self.render_page(request, form, status=400)
        if membership.get_role_display() != before:
            messages.success(
                request,
                f"{display_name(membership.user)} is now {membership.get_role_display()} "
                f"(was {before}).",
            )
        return redirect(staff_page(membership.organisation))

    def _end(self, request: HttpRequest) -> HttpResponse:
        if self.membership.ended_at is not None:
            messages.info(request, f"{display_name(self.membership.user)} had already left.")
            return redirect(staff_page(self.membership.organisation))
        if request.POST.get("confirm") != "1":
            # One more step: ending takes away their access to every record at once.
            return self.render_page(
                request, template="workflows/setting_admin/staff_end_confirm.html"
            )
        try:
            membership = membership_end(membership=self.membership, by=request.user)
        except ValidationError as error:
            problems = [p for messages_ in error.message_dict.values() for p in messages_]
            return self.render_page(
                request,
                end_errors=problems,
                status=400,
                template="workflows/setting_admin/staff_end_confirm.html",
            )
        messages.success(
            request,
            f"{display_name(membership.user)} no longer works at {membership.organisation}: "
            "their access to its records has ended.",
        )
        return redirect(staff_page(membership.organisation))

    def _resend(self, request: HttpRequest) -> HttpResponse:
        membership = self.membership
        name = display_name(membership.user)
        if not invitation_unused(membership):
            # A link would reset the password they chose; they use "Forgotten your password?".
            messages.error(
                request,
                f"{name} has already chosen a password: there is no invitation to send again."
                if membership.ended_at is None
                else f"{name} no longer works here.",
            )
            return redirect(staff_page(membership.organisation))
        staff_invitation_renewed(membership=membership, by=signed_in(request))
        if send_invitation(membership, request):
            messages.success(
                request,
                f"A new invitation went to {membership.user.email}; its link works for "
                f"{link_lifetime()}.",
            )
            return redirect(staff_page(membership.organisation))
        # Nothing was undone: the page says the email could not go and offers to try again.
        return self.render_page(request, not_sent=True)
