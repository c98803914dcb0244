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

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render, resolve_url
from django.utils import timezone
from django.views import View
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_login
from django_otp.models import Device

from ..models import AuditAction, AuditEntry, SignedInSession
from . import second_factor, sessions
from .events import record_account_event
from .lockout import client_ip, count_failure, get_cool_off, is_paused, pause_message

PENDING = "safeshare.pending_sign_in"
SET_UP_KEY = "safeshare.second_factor_key"
PENDING_MINUTES = 10


# ---------------------------------------------------------------------------------------
# The state between the password and the code


def _begin_pending(request: HttpRequest, user: Any, next_url: str) -> None:
    """After the right password: a new session key (nobody who planted or saw the old one
    shares this sign-in), and the account's id, bound to its current password."""
    request.session.cycle_key()
    request.session[PENDING] = {
        "user": user.pk,
        "backend": user.backend,
        "password": user.get_session_auth_hash(),
        "at": timezone.now().timestamp(),
        "next": next_url,
    }


def forget_pending(request: HttpRequest) -> None:
    """End a half-done sign-in. A secret being set up stays, bound to its person, so that
    someone who signs in again (after the 10 minutes, or after going back) is shown the
    same QR code their app may have scanned already."""
    request.session.pop(PENDING, None)


def _pending_user(request: HttpRequest) -> Any | None:
    """The account whose password was just given here, if it was given in the last
    PENDING_MINUTES and the password has not changed since."""
    pending = request.session.get(PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("at"), int | float):
        return None
    if timezone.now().timestamp() - float(pending["at"]) > PENDING_MINUTES * 60:
        forget_pending(request)
        return None
    user: Any = get_user_model().objects.filter(pk=pending.get("user") or 0, is_active=True)
    user = user.first()
    if user is None or user.get_session_auth_hash() != pending.get("password"):
        forget_pending(request)
        return None
    user.backend = pending["backend"]
    return user


def _next_url(request: HttpRequest) -> str:
    pending = request.session.get(PENDING) or {}
    return str(pending.get("next") or resolve_url("/"))


def complete(request: HttpRequest, user: Any, *, device: Device | None, how: str) -> HttpResponse:
    """Sign the person in, every factor given, and send them on: to what they typed before
    their session ended if any is kept, else where they were going."""
    next_url = _next_url(request)
    forget_pending(request)
    request.session.pop(SET_UP_KEY, None)
    login(request, user, backend=getattr(user, "backend", None))
    if device is not None:
        otp_login(request, device)
    sessions.begin(request, user)
    record_account_event(AuditAction.SIGNED_IN, user, actor=user, request=request, detail=how)
    if sessions.unsent_form(request):
        return redirect("safeguarding:carry_on")
    return HttpResponseRedirect(next_url)


def signed_in_elsewhere(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Django's ``user_logged_in``: a session that needs nothing more is marked signed in
    now. Safeshare's own sign-in marks its sessions itself (``complete``)."""
    if request is None or not hasattr(request, "session"):
        return
    state = request.session.get(sessions.SIGNED_IN)
    if isinstance(state, dict) and state.get("user") == user.pk:
        return
    if DEVICE_ID_SESSION_KEY in request.session or not second_factor.must_use(user):
        sessions.begin(request, user)


def needs_second_step(request: HttpRequest) -> bool:
    """Whether a session lacks a second factor its person must give: one made by some other
    sign-in page (a host project's) for a lead, say. Asked once, on the session's first
    Safeshare page, which then marks it as signed in and records it for signing out
    everywhere. (Someone given a role that needs a second factor later is signed out
    everywhere by the change itself: ``second_factor.end_sessions_without_one``.)"""
    state = request.session.get(sessions.SIGNED_IN)
    if isinstance(state, dict) and state.get("user") == request.user.pk:
        return False
    if DEVICE_ID_SESSION_KEY not in request.session and second_factor.must_use(request.user):
        return True
    sessions.begin(request, request.user)
    return False


# ---------------------------------------------------------------------------------------
# Step 1: the password


class SignInForm(AuthenticationForm):
    """Django's sign-in form, which first asks the lockout whether this username or address
    is paused (and then checks no password at all)."""

    def clean_username(self) -> str:
        # Django's form limits the username only in the page's markup: a longer one posted
        # would reach the lockout's records, whose column refuses it (a 500).
        username = self.cleaned_data.get("username") or ""
        limit = getattr(self.fields["username"], "max_length", None) or 150
        if len(username) > limit:
            raise ValidationError(f"A username has {limit} characters at most.", code="max_length")
        return username

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        request = self.request
        if request is not None and username and is_paused(request, username):
            record_refusal(request, get_user_model().objects.filter(username=username).first())
            raise ValidationError(pause_message(request, username), code="paused")
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
            raise ValidationError(pause_message(request, username), code="paused")


class SignInView(auth_views.LoginView):
    form_class = SignInForm
    redirect_authenticated_user = False

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Back at the first step ("Sign in as someone else"): any half-done sign-in ends.
        forget_pending(request)
        return super().get(request, *args, **kwargs)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        _begin_pending(self.request, user, self.get_success_url())
        if not second_factor.must_use(user):
            return complete(self.request, user, device=None, how="password")
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
            attrs={
                "autocomplete": "one-time-code",
                "autocapitalize": "off",
                "spellcheck": "false",
                "autofocus": True,
            }
        ),
    )


class CodeView(View):
    template_name = "registration/second_factor.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.user: Any = _pending_user(request)
        if self.user is None:
            return _start_again(request)
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponseBase:
        return self._page(CodeForm())

    def post(self, request: HttpRequest) -> HttpResponseBase:
        form = CodeForm(request.POST)
        if not form.is_valid():
            return self._page(form, status=200)
        username = self.user.get_username()
        if is_paused(request, username):
            record_refusal(request, self.user)
            return self._paused(form)
        # Counted before it is checked, so that codes sent at once cannot all be tried
        # before any is counted; the right code clears the count as it signs in.
        count_failure(request, username)
        device, how = second_factor.check_code(self.user, form.cleaned_data["code"])
        if device is not None:
            # Not a failure after all: the count is cleared as they sign in, and this
            # request is not turned into the paused page.
            request.axes_locked_out = False  # type: ignore[attr-defined]
            if how == "recovery code":
                left = second_factor.recovery_codes_left(self.user)
                messages.warning(
                    request,
                    f"You signed in with a recovery code: {left} left. If you have lost your "
                    "phone, set up a new one on Your sign-in (in the account menu).",
                )
            return complete(request, self.user, device=device, how=f"password and {how}")
        record_account_event(
            AuditAction.SIGN_IN_FAILED, self.user, request=request, detail="wrong code"
        )
        if is_paused(request, username):
            record_account_event(AuditAction.LOCKED_OUT, self.user, request=request)
            return self._paused(form)
        form.add_error(
            "code",
            "That code is not right. Type the 6 digits your app shows now (they change every "
            "30 seconds; a code already used once, here or on another device, works only "
            "once: wait for the next), or a recovery code you have not used before.",
        )
        return self._page(form)

    def _paused(self, form: CodeForm) -> HttpResponseBase:
        forget_pending(self.request)
        form.add_error(None, pause_message(self.request, self.user.get_username()))
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

    def __init__(self, *args: Any, proof: str = "", new_label: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if new_label:
            self.fields["code"].label = "Then, the code the newly added app shows"
        if proof == "code":
            self.fields["current"] = forms.CharField(
                label="First, a code from the app you use now (your old phone)",
                help_text="Or one of your recovery codes, if you no longer have that phone. "
                "Wrong codes count like failed sign-ins: five in a row pause your account.",
                max_length=20,
                widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            )
        elif proof == "password":
            self.fields["current"] = forms.CharField(
                label="First, your password",
                help_text="Wrong passwords count like failed sign-ins: five in a row pause "
                "your account.",
                max_length=200,
                strip=False,
                widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
            )


def proves_it_is_them(request: HttpRequest, user: Any, proof: str, given: str) -> bool:
    """A signed-in person changing how they sign in proves it is them again (a session left
    open is not enough): their app's code (or a recovery code), or their password. A wrong
    one is counted like a failed sign-in."""
    if proof == "code":
        right = second_factor.check_code(user, given)[0] is not None
    else:
        right = user.check_password(given)
    if not right:
        wrong_proof(request, user, proof)
    return right


def wrong_proof(request: HttpRequest, user: Any, proof: str) -> None:
    record_account_event(
        AuditAction.SIGN_IN_FAILED,
        user,
        actor=user,
        request=request,
        detail=f"wrong {proof} given to change how they sign in",
    )
    count_failure(request, user.get_username())


def paused_now(request: HttpRequest, user: Any) -> HttpResponseBase | None:
    """If wrong codes or passwords have paused this account, the session ends too."""
    if not is_paused(request, user.get_username()):
        return None
    record_account_event(AuditAction.LOCKED_OUT, user, request=request)
    SignedInSession.objects.filter(session_key=request.session.session_key).delete()
    logout(request)
    message = pause_message(request, user.get_username())
    return render(request, "registration/paused.html", {"message": message}, status=429)


class SetUpView(View):
    """Shows a new secret (as a QR code and as text) and takes the code the app then shows.
    The secret lives in the session until a right code proves the app holds it."""

    template_name = "registration/second_factor_set_up.html"
    signed_in = False  # the "Your sign-in" page's route sets this

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.user = request.user if self.signed_in else _pending_user(request)
        if self.user is None:
            return _start_again(request)
        if not self.signed_in and second_factor.has_app(self.user):
            # Someone with an app gives its code: a password alone never replaces it.
            return redirect("sign_in_code")
        # The secret being set up is this person's alone: another signing in on the same
        # browser gets one of their own.
        kept = request.session.get(SET_UP_KEY)
        if not (isinstance(kept, dict) and kept.get("user") == self.user.pk):
            kept = {"user": self.user.pk, "key": second_factor.new_key()}
            request.session[SET_UP_KEY] = kept
        self.key = str(kept["key"])
        return super().dispatch(request, *args, **kwargs)

    @property
    def proof(self) -> str:
        """Signed in, a change needs the current app's code, or (with none) the password."""
        if not self.signed_in:
            return ""
        return "code" if second_factor.has_app(self.user) else "password"

    def get(self, request: HttpRequest) -> HttpResponseBase:
        return self._page(SetUpForm(proof=self.proof, new_label=self.signed_in))

    def post(self, request: HttpRequest) -> HttpResponseBase:
        proof = self.proof
        form = SetUpForm(request.POST, proof=proof, new_label=self.signed_in)
        if form.is_valid() and proof:
            if not proves_it_is_them(request, self.user, proof, form.cleaned_data["current"]):
                form.add_error(
                    "current",
                    "That is not right." if proof == "code" else "That is not your password.",
                )
            paused = paused_now(request, self.user)
            if paused is not None:
                return paused
        if form.is_valid():
            try:
                device, codes = second_factor.set_up(
                    self.user, self.key, form.cleaned_data["code"], request=request
                )
            except ValidationError as error:
                form.add_error("code", error.message_dict["code"])
            else:
                return self._done(device, codes)
        return self._page(form)

    def _done(self, device: Device, codes: list[str]) -> HttpResponseBase:
        request = self.request
        request.session.pop(SET_UP_KEY, None)
        if self.signed_in:
            # A new second factor: every other session of this person ends.
            sessions.sign_out_everywhere(self.user, except_key=request.session.session_key)
            next_response: HttpResponseBase = redirect("safeguarding:profile")
        else:
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
                "replacing": self.proof == "code",
            },
        )


def _start_again(request: HttpRequest) -> HttpResponseBase:
    if request.user.is_authenticated:
        return redirect("/")  # signed in already (the browser's Back button)
    messages.info(
        request,
        "Please sign in again: after your password, the next step is open for "
        f"{PENDING_MINUTES} minutes. If you were setting up an app, you will see the same "
        "QR code again.",
    )
    return redirect("login")


def record_refusal(request: HttpRequest, user: Any) -> None:
    """An attempt refused while paused: recorded once per pause for each account and
    address, so that a script knocking at a paused door cannot flood the audit log."""
    cool_off = get_cool_off(request) or timedelta(minutes=15)
    already = AuditEntry.objects.filter(
        at__gte=timezone.now() - cool_off,  # indexed: a few minutes of the log
        action=AuditAction.SIGN_IN_FAILED,
        subject=user,
        detail=f"refused: paused (from {client_ip(request)})",
    )
    if not already.exists():
        record_account_event(
            AuditAction.SIGN_IN_FAILED, user, request=request, detail="refused: paused"
        )


# ---------------------------------------------------------------------------------------
# Signing out


class SignOutView(auth_views.LogoutView):
    http_method_names = ["get", "post", "options"]

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Signing out is a POST (a link cannot sign anyone out); the address typed in
        shows the button instead of an empty error page."""
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return render(request, "registration/sign_out.html")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        was_signed_in = request.user.is_authenticated
        if was_signed_in:
            record_account_event(
                AuditAction.SIGNED_OUT, request.user, actor=request.user, request=request
            )
            SignedInSession.objects.filter(session_key=request.session.session_key).delete()
        response = super().post(request, *args, **kwargs)
        if was_signed_in:
            messages.success(request, "You are signed out.")
        return response
