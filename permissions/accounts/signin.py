"""Signing in: a password, then, for whoever needs one, a second factor.

Nobody is signed in (``django.contrib.auth.login``) until every factor they need is given.
Between the password and the code the session holds only a *pending* sign-in: the account's
id, for ``PENDING_MINUTES``. So a password alone reaches no page at all, by any URL: a person
who must use a second factor and has none yet is taken to set one up, and reaches nothing
else until it is done.

Every attempt is counted by the lockout (``lockout``) and recorded in the audit chain
(``events``), wrong codes as well as wrong passwords.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render, resolve_url
from django.utils import timezone
from django.views import View
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_login
from django_otp.models import Device

from ..models import AuditAction, SignedInSession
from . import second_factor, sessions
from .events import record_account_event
from .lockout import count_failure, is_paused, pause_message

PENDING = "safeshare.pending_sign_in"
SET_UP_KEY = "safeshare.second_factor_key"
PENDING_MINUTES = 10


# ---------------------------------------------------------------------------------------
# The state between the password and the code


def _pending_user(request: HttpRequest) -> Any | None:
    pending = request.session.get(PENDING)
    if not isinstance(pending, dict):
        return None
    if timezone.now().timestamp() - float(pending.get("at", 0)) > PENDING_MINUTES * 60:
        request.session.pop(PENDING, None)
        return None
    user: Any = get_user_model().objects.filter(pk=pending.get("user") or 0, is_active=True)
    user = user.first()
    if user is not None:
        user.backend = pending["backend"]
    return user


def _next_url(request: HttpRequest) -> str:
    pending = request.session.get(PENDING) or {}
    return str(pending.get("next") or resolve_url("/"))


def complete(request: HttpRequest, user: Any, *, device: Device | None, how: str) -> HttpResponse:
    """Sign the person in, every factor given, and send them on: to what they typed before
    their session ended if any is kept, else where they were going."""
    next_url = _next_url(request)
    request.session.pop(PENDING, None)
    request.session.pop(SET_UP_KEY, None)
    login(request, user, backend=getattr(user, "backend", None))
    if device is not None:
        otp_login(request, device)
    sessions.begin(request, user)
    record_account_event(AuditAction.SIGNED_IN, user, actor=user, request=request, detail=how)
    if sessions.unsent_form(request):
        return redirect("safeguarding:carry_on")
    return HttpResponseRedirect(next_url)


def needs_second_step(request: HttpRequest) -> bool:
    """Whether a signed-in session lacks a second factor its person must give: a session
    made by some other sign-in page (a host project's) for a lead, say. Checked once per
    session; Safeshare's own sign-in never makes such a session."""
    state = request.session.get(sessions.SIGNED_IN)
    if isinstance(state, dict) and state.get("user") == request.user.pk:
        return False
    return DEVICE_ID_SESSION_KEY not in request.session and second_factor.must_use(request.user)


# ---------------------------------------------------------------------------------------
# Step 1: the password


class SignInForm(AuthenticationForm):
    """Django's sign-in form, which first asks the lockout whether this username or address
    is paused (and then checks no password at all)."""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        request = self.request
        if request is not None and username and is_paused(request, username):
            user = get_user_model().objects.filter(username=username).first()
            record_account_event(
                AuditAction.SIGN_IN_FAILED, user, request=request, detail="refused: paused"
            )
            raise ValidationError(pause_message(), code="paused")
        try:
            return super().clean()
        except ValidationError:
            if request is not None:
                self._record_failure(request, username)
            raise

    def _record_failure(self, request: HttpRequest, username: str) -> None:
        user = get_user_model().objects.filter(username=username).first()
        record_account_event(
            AuditAction.SIGN_IN_FAILED,
            user,
            request=request,
            detail="wrong password" if user else "no account has the username typed",
        )
        if is_paused(request, username):
            record_account_event(AuditAction.LOCKED_OUT, user, request=request)
            raise ValidationError(pause_message(), code="paused")


class SignInView(auth_views.LoginView):
    form_class = SignInForm
    redirect_authenticated_user = False

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if not second_factor.must_use(user):
            self.request.session[PENDING] = {"next": self.get_success_url()}
            return complete(self.request, user, device=None, how="password")
        self.request.session[PENDING] = {
            "user": user.pk,
            "backend": user.backend,  # type: ignore[attr-defined]
            "at": timezone.now().timestamp(),
            "next": self.get_success_url(),
        }
        if second_factor.has_app(user):
            return redirect("sign_in_code")
        return redirect("sign_in_set_up")

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        paused = any(error.code == "paused" for error in form.non_field_errors().as_data())
        response = super().form_invalid(form)
        response.status_code = 429 if paused else 200
        return response


# ---------------------------------------------------------------------------------------
# Step 2: the code


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=20,
        help_text="The 6 digits your authenticator app shows for Safeshare, or one of your "
        "recovery codes.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "off", "spellcheck": "false"}
        ),
    )


class CodeView(View):
    template_name = "registration/second_factor.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.user: Any = _pending_user(request)
        if self.user is None:
            messages.info(request, "Sign in again: the time to enter your code ran out.")
            return redirect("login")
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponseBase:
        return self._page(CodeForm())

    def post(self, request: HttpRequest) -> HttpResponseBase:
        form = CodeForm(request.POST)
        if not form.is_valid():
            return self._page(form, status=200)
        username = self.user.get_username()
        if is_paused(request, username):
            record_account_event(
                AuditAction.SIGN_IN_FAILED, self.user, request=request, detail="refused: paused"
            )
            return self._paused(form)
        device, how = second_factor.check_code(self.user, form.cleaned_data["code"])
        if device is not None:
            return complete(request, self.user, device=device, how=f"password and {how}")
        record_account_event(
            AuditAction.SIGN_IN_FAILED, self.user, request=request, detail="wrong code"
        )
        count_failure(request, username)
        if is_paused(request, username):
            record_account_event(AuditAction.LOCKED_OUT, self.user, request=request)
            return self._paused(form)
        form.add_error(
            "code",
            "That code is not right. Type the 6 digits your app shows now (they change every "
            "30 seconds), or a recovery code you have not used before.",
        )
        return self._page(form)

    def _paused(self, form: CodeForm) -> HttpResponseBase:
        self.request.session.pop(PENDING, None)
        form.add_error(None, pause_message())
        return self._page(form, status=429)

    def _page(self, form: CodeForm, status: int = 200) -> HttpResponseBase:
        return render(self.request, self.template_name, {"form": form}, status=status)


# ---------------------------------------------------------------------------------------
# Setting up an authenticator app: at sign-in (pending), or later from "Your sign-in"


class SetUpForm(forms.Form):
    code = forms.CharField(
        label="The code your app shows",
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )


class SetUpView(View):
    """Shows a new secret (as a QR code and as text) and takes the code the app then shows.
    The secret lives in the session until a right code proves the app holds it."""

    template_name = "registration/second_factor_set_up.html"
    signed_in = False  # the "Your sign-in" page's route sets this

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.user = request.user if self.signed_in else _pending_user(request)
        if self.user is None:
            messages.info(request, "Sign in again: the time to set up your app ran out.")
            return redirect("login")
        if not isinstance(request.session.get(SET_UP_KEY), str):
            request.session[SET_UP_KEY] = second_factor.new_key()
        self.key = request.session[SET_UP_KEY]
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponseBase:
        return self._page(SetUpForm())

    def post(self, request: HttpRequest) -> HttpResponseBase:
        form = SetUpForm(request.POST)
        if form.is_valid():
            try:
                codes = second_factor.set_up(
                    self.user, self.key, form.cleaned_data["code"], request=request
                )
            except ValidationError as error:
                form.add_error("code", error.message_dict["code"])
            else:
                return self._done(codes)
        return self._page(form)

    def _done(self, codes: list[str]) -> HttpResponseBase:
        request = self.request
        request.session.pop(SET_UP_KEY, None)
        if self.signed_in:
            # A new second factor: every other session of this person ends.
            sessions.sign_out_everywhere(self.user, except_key=request.session.session_key)
            next_response: HttpResponseBase = redirect("safeguarding:profile")
        else:
            device = second_factor.TOTPDevice.objects.get(user=self.user, confirmed=True)
            next_response = complete(
                request, self.user, device=device, how="password and a newly set-up app"
            )
        return render(
            request,
            "registration/recovery_codes.html",
            {"codes": codes, "next_url": next_response["Location"], "new_app": True},
        )

    def _page(self, form: SetUpForm) -> HttpResponseBase:
        link = second_factor.setup_link(self.user, self.key)
        return render(
            self.request,
            self.template_name,
            {
                "form": form,
                "qr_code": second_factor.qr_code_svg(link),
                "secret": second_factor.secret_for_typing(self.key),
                "signed_in": self.signed_in,
            },
        )


# ---------------------------------------------------------------------------------------
# Signing out


class SignOutView(auth_views.LogoutView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            record_account_event(
                AuditAction.SIGNED_OUT, request.user, actor=request.user, request=request
            )
            SignedInSession.objects.filter(session_key=request.session.session_key).delete()
        return super().post(request, *args, **kwargs)
