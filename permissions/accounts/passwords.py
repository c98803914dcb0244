"""Choosing a new password by email, with Django's own one-time token.

The link works once (the token is bound to the password it replaces) and for
PASSWORD_RESET_TIMEOUT at most. The page never says whether an address has an account.
"""

from __future__ import annotations

import logging
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm, SetPasswordForm
from django.http import HttpResponse

from ..models import AuditAction
from .events import record_account_event

logger = logging.getLogger(__name__)


class ResetForm(PasswordResetForm):
    def send_mail(self, *args: Any, **kwargs: Any) -> None:
        """A mail server that is down must not turn the request into an error page (nor
        reveal, by failing, that the address has an account): it is logged, and the person
        is told, as always, to check their email and try again if nothing arrives."""
        context = args[2] if len(args) > 2 else kwargs["context"]
        record_account_event(
            AuditAction.PASSWORD_RESET_ASKED,
            context["user"],
            request=self._request,
            detail="a link was emailed",
        )
        try:
            super().send_mail(*args, **kwargs)
        except Exception:
            logger.exception("Could not send a password reset email")

    _request: Any = None

    def save(self, *args: Any, **kwargs: Any) -> None:
        self._request = kwargs.get("request")
        super().save(*args, **kwargs)


class ResetView(auth_views.PasswordResetView):
    form_class = ResetForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["link_days"] = max(settings.PASSWORD_RESET_TIMEOUT // 86400, 1)
        return context


class ResetConfirmView(auth_views.PasswordResetConfirmView):
    """The emailed link's page. The new password ends every session of the account (its
    old password's sessions stop working anyway) and is recorded. The link works once: its
    token is bound to the password it replaces, and to the last sign-in."""

    def form_valid(self, form: SetPasswordForm) -> HttpResponse:
        from .views import password_changed

        response = super().form_valid(form)
        password_changed(self.request, form.user, how="chosen from an emailed link")
        # Whoever can read the account's email has proved it: a pause on the username
        # (the forgotten password's wrong guesses) ends, so the new one works at once.
        AxesProxyHandler.reset_attempts(username=form.user.get_username())
        return response


def first_password_link(user: Any) -> str:
    """A one-time link to choose a password, for someone who has none yet (or cannot get
    email): the same page and token as a reset, so it too works once."""
    from django.contrib.auth.tokens import default_token_generator
    from django.urls import reverse
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    from cases import app_settings

    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    return str(app_settings.get("SAFESHARE_SITE_URL")).rstrip("/") + path
