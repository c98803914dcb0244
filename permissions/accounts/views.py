"""A signed-in person's own sign-in ("Your sign-in"), the lead's view of their staff's
sign-in, and the page that gives back what someone typed before their session ended."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Prefetch
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views import View
from django_otp.plugins.otp_totp.models import TOTPDevice

from cases.models import Membership

from ..models import AuditAction, SignedInSession
from ..roles import current_memberships
from ..rules import settings_led_by
from ..views import posted_id
from . import lockout, second_factor, sessions
from .events import record_account_event
from .signin import SetUpForm, SetUpView, paused_now, proves_it_is_them, wrong_proof


class ProfileView(View):
    """What protects this person's account, and the ways to change it."""

    def get(self, request: HttpRequest, codes_form: Any = None) -> HttpResponseBase:
        user = request.user
        return render(
            request,
            "accounts/profile.html",
            {
                "codes_form": codes_form or SetUpForm(proof="code"),
                "has_app": second_factor.has_app(user),
                "must_use": second_factor.must_use(user),
                "codes_left": second_factor.recovery_codes_left(user),
                "memberships": current_memberships(user).select_related("organisation"),
                "idle_minutes": second_factor.app_settings.get("SAFESHARE_SESSION_IDLE_MINUTES"),
                "max_hours": second_factor.app_settings.get("SAFESHARE_SESSION_MAX_HOURS"),
            },
        )

    def post(self, request: HttpRequest) -> HttpResponseBase:
        user = request.user
        action = request.POST.get("action")
        if action == "new_codes" and second_factor.has_app(user):
            form = SetUpForm(request.POST, proof="code")
            form.fields["code"].required = False
            if form.is_valid() and not proves_it_is_them(
                request, user, "code", form.cleaned_data["current"]
            ):
                form.add_error("current", "That is not right.")
            paused = paused_now(request, user)
            if paused is not None:
                return paused
            if not form.is_valid():
                return self.get(request, codes_form=form)
            codes = second_factor.new_recovery_codes(user, request=request)
            sessions.sign_out_everywhere(user, except_key=request.session.session_key)
            return render(
                request,
                "registration/recovery_codes.html",
                {"codes": codes, "next_url": reverse_lazy("safeguarding:profile")},
            )
        if action == "sign_out_elsewhere":
            ended = sessions.sign_out_everywhere(user, except_key=request.session.session_key)
            record_account_event(
                AuditAction.SIGNED_OUT,
                user,
                actor=user,
                request=request,
                detail=f"signed out of {ended} other session(s)",
            )
            messages.success(request, "You are signed out everywhere else.")
        return redirect("safeguarding:profile")


class AuthenticatorChangeView(SetUpView):
    """A new phone or app, from the person's own sign-in page."""

    signed_in = True


class PasswordChangeView(auth_views.PasswordChangeView):
    """A new password: recorded, and every other session of this person ends."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("safeguarding:profile")

    def form_invalid(self, form: SetPasswordForm) -> HttpResponse:
        # A wrong current password counts like a failed sign-in: an open session is no
        # place to guess it.
        if "old_password" in form.errors:
            wrong_proof(self.request, self.request.user, "password")
            paused = paused_now(self.request, self.request.user)
            if paused is not None:
                return paused  # type: ignore[return-value]
        return super().form_invalid(form)

    def form_valid(self, form: SetPasswordForm) -> HttpResponse:
        response = super().form_valid(form)
        password_changed(self.request, form.user, how="changed on Your sign-in")
        messages.success(self.request, "Your password is changed; you are signed out elsewhere.")
        return response


def password_changed(request: HttpRequest, user: Any, *, how: str) -> None:
    """After any new password: every other session ends, and it is recorded."""
    keep = request.session.session_key if request.user.pk == user.pk else None
    sessions.sign_out_everywhere(user, except_key=keep)
    if keep:
        # Django gave this session a new key with the new password: it stays one that
        # signing out everywhere can reach.
        SignedInSession.objects.update_or_create(session_key=keep, defaults={"user": user})
    record_account_event(
        AuditAction.PASSWORD_CHANGED, user, actor=user, request=request, detail=how
    )


class StaffSignInView(View):
    """For a setting's lead: each member's last sign-in and second factor, a reset for a
    lost device, and whether everyone must use a second factor."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        led = settings_led_by(request.user)
        if not led:
            raise PermissionDenied
        self.settings_led = led
        return super().dispatch(request, *args, **kwargs)

    def _staff(self) -> Any:
        return (
            get_user_model()
            .objects.filter(
                memberships__organisation__in=self.settings_led, memberships__ended_at__isnull=True
            )
            .annotate(
                has_app=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
                # Also of a setting this lead does not lead: not theirs to reset.
                elsewhere=Exists(
                    Membership.objects.filter(user=OuterRef("pk"), ended_at__isnull=True).exclude(
                        organisation__in=self.settings_led
                    )
                ),
            )
            .prefetch_related(
                Prefetch(
                    "memberships",
                    queryset=Membership.objects.filter(
                        organisation__in=self.settings_led, ended_at__isnull=True
                    ).select_related("organisation"),
                    to_attr="current_memberships_here",
                )
            )
            .distinct()
            .order_by("last_name", "first_name", "username")
        )

    def get(self, request: HttpRequest) -> HttpResponseBase:
        roles = set(second_factor.app_settings.get("SAFESHARE_MFA_REQUIRED_ROLES"))
        staff = list(self._staff())
        paused = lockout.paused_usernames([person.username for person in staff])
        for person in staff:
            person.paused = person.username in paused
            person.needs_app = any(
                m.role in roles or m.organisation.second_factor_for_everyone
                for m in person.current_memberships_here
            )
        return render(
            request,
            "accounts/staff_sign_in.html",
            {"staff": staff, "settings_led": self.settings_led},
        )

    def post(self, request: HttpRequest) -> HttpResponseBase:
        if request.POST.get("action") == "everyone":
            organisation = get_object_or_404(
                type(self.settings_led[0]).objects.filter(pk__in=[o.pk for o in self.settings_led]),
                pk=posted_id(request, "setting") or 0,
            )
            everyone = request.POST.get("everyone") == "1"
            second_factor.require_for_everyone(organisation, everyone=everyone, by=request.user)
            messages.success(
                request,
                f"{organisation}: everyone now signs in with a second factor."
                if everyone
                else f"{organisation}: a second factor only for the roles that always need one.",
            )
            return redirect("safeguarding:staff_sign_in")
        person = get_object_or_404(self._staff(), pk=posted_id(request, "user") or 0)
        if not second_factor.may_reset(request.user, person):
            raise PermissionDenied
        name = person.get_full_name() or person.username
        if request.POST.get("action") == "lift_pause":
            lockout.lift_pause(person, by=request.user, request=request)
            messages.success(request, f"{name} can sign in again now.")
            return redirect("safeguarding:staff_sign_in")
        if request.POST.get("confirm") != "1":
            # One more step: a reset signs the person out at once.
            return render(request, "accounts/staff_reset_confirm.html", {"person": person})
        second_factor.reset(person, by=request.user, request=request)
        messages.success(
            request,
            f"{name}'s second factor is reset and they are signed out. They set up a new "
            "authenticator app the next time they sign in.",
        )
        return redirect("safeguarding:staff_sign_in")


_BOOKKEEPING = re.compile(r"(TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS$|^next$")


def _what_was_typed(kept: dict[str, Any]) -> list[tuple[str, str]]:
    """The kept fields a person would recognise, named in words: "Item 1: content" for
    "items-0-content"; a formset's counters and the button pressed are left out."""
    shown = []
    for name, values in kept["fields"]:
        if _BOOKKEEPING.search(name):
            continue
        if name == "action":
            shown += [("Button pressed", value.replace("_", " ")) for value in values]
            continue
        numbered = re.fullmatch(r"(\w+?)s?-(\d+)-(\w+)", name)
        label = (
            f"{numbered[1]} {int(numbered[2]) + 1}: {numbered[3]}" if numbered else name
        ).replace("_", " ")
        shown += [(label[:1].upper() + label[1:], value) for value in values if value.strip()]
    return shown


class CarryOnView(View):
    """What this person typed before their session ended, to send now or let go."""

    def get(self, request: HttpRequest) -> HttpResponseBase:
        kept = sessions.unsent_form(request)
        if kept is None:
            return redirect("/")
        return render(
            request, "accounts/carry_on.html", {"kept": kept, "typed": _what_was_typed(kept)}
        )

    def post(self, request: HttpRequest) -> HttpResponseBase:
        kept = sessions.unsent_form(request)
        sessions.discard_unsent_form(request)
        if kept is not None and request.POST.get("carry_on") == "send":
            # 307: the browser sends this same form (the kept fields, with this session's
            # CSRF token) on to the page it was meant for, as if sent from there.
            return HttpResponseRedirect(kept["path"], status=307)
        messages.info(request, "What you had typed is let go.")
        return redirect("/")
