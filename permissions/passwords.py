"""Choosing a new password by email, with Django's own one-time token.

The link works once (the token is bound to the password it replaces) and for
PASSWORD_RESET_TIMEOUT at most. The page never says whether an address has an account.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm

logger = logging.getLogger(__name__)


class ResetForm(PasswordResetForm):
    def send_mail(self, *args: Any, **kwargs: Any) -> None:
        """A mail server that is down must not turn the request into an error page (nor
        reveal, by failing, that the address has an account): it is logged, and the person
        is told, as always, to check their email and try again if nothing arrives."""
        try:
            super().send_mail(*args, **kwargs)
        except Exception:
            logger.exception("Could not send a password reset email")


class ResetView(auth_views.PasswordResetView):
    form_class = ResetForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["link_days"] = max(settings.PASSWORD_RESET_TIMEOUT // 86400, 1)
        return context
