"""How long a signed-in session lasts, and what happens to what someone typed when it ends.

A session ends SAFESHARE_SESSION_IDLE_MINUTES after its last request, and
SAFESHARE_SESSION_MAX_HOURS after signing in however busy. Every Safeshare page checks this
itself (``signed_in_page``), so it holds whatever the host project's middleware.

When a session has ended under someone who was sending a form, what they typed is kept in
the new (signed-out) session with their account's id, and after they sign in again it is
offered back to them on the "carry on" page, to send as it was. Nobody else signing in on
that browser ever sees it. Passwords, codes and files are never kept.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.views.decorators.cache import never_cache

from cases import app_settings

from ..models import AuditAction, SignedInSession
from .events import record_account_event

SIGNED_IN = "safeshare.signed_in"
UNSENT_FORM = "safeshare.unsent_form"
# The last request's time is written at most this often: a session is not saved on every
# page for the sake of a few seconds of idle time.
_TOUCH_EVERY_SECONDS = 60
# Never kept: the CSRF token, anything named as a password, and the codes of a second factor.
_NEVER_KEPT_NAMES = frozenset({"csrfmiddlewaretoken", "code", "current", "token"})


def _now() -> float:
    return timezone.now().timestamp()


def begin(request: HttpRequest, user: Any) -> None:
    """Mark the session as signed in with every factor the person needs (the sign-in pages
    call this right after ``login``), and remember it for signing out everywhere."""
    now = _now()
    request.session[SIGNED_IN] = {"user": user.pk, "at": now, "seen": now}
    request.session.save()  # so its key is final before it is recorded
    too_old = timezone.now() - timedelta(hours=_max_hours())
    SignedInSession.objects.filter(user=user, signed_in_at__lt=too_old).delete()
    SignedInSession.objects.update_or_create(
        session_key=request.session.session_key, defaults={"user": user}
    )


def _idle_minutes() -> int:
    return int(app_settings.get("SAFESHARE_SESSION_IDLE_MINUTES"))


def _max_hours() -> int:
    return int(app_settings.get("SAFESHARE_SESSION_MAX_HOURS"))


def why_ended(request: HttpRequest) -> str:
    """Why this signed-in session is over ("" if it is not)."""
    state = request.session.get(SIGNED_IN)
    if not isinstance(state, dict) or state.get("user") != request.user.pk:
        return ""
    now = _now()
    if now - float(state.get("seen", now)) > _idle_minutes() * 60:
        return f"after {_idle_minutes()} minutes without activity"
    if now - float(state.get("at", now)) > _max_hours() * 3600:
        return f"{_max_hours()} hours after signing in"
    return ""


def _touch(request: HttpRequest) -> None:
    state = request.session.get(SIGNED_IN)
    if not isinstance(state, dict) or state.get("user") != request.user.pk:
        return  # needs_second_step has just marked it, or the session ended
    if _now() - float(state.get("seen", 0)) >= _TOUCH_EVERY_SECONDS:
        request.session[SIGNED_IN] = {**state, "seen": _now()}


def _keep_unsent_form(request: HttpRequest, user_pk: Any) -> bool:
    fields = [
        [name, values]
        for name, values in request.POST.lists()
        if name not in _NEVER_KEPT_NAMES and "password" not in name.lower()
    ]
    if not fields:
        return False
    request.session[UNSENT_FORM] = {
        "user": user_pk,
        "path": request.get_full_path(),
        "fields": fields,
        "files": sorted(request.FILES.keys()),
        "at": _now(),
    }
    return True


def unsent_form(request: HttpRequest) -> dict[str, Any] | None:
    """What this person typed before their session ended, if any is kept for them."""
    kept = request.session.get(UNSENT_FORM)
    if not isinstance(kept, dict):
        return None
    if kept.get("user") != request.user.pk or _now() - float(kept["at"]) > _max_hours() * 3600:
        del request.session[UNSENT_FORM]
        return None
    return kept


def discard_unsent_form(request: HttpRequest) -> None:
    request.session.pop(UNSENT_FORM, None)


def end(request: HttpRequest, reason: str) -> None:
    """End this session now, for ``reason``, keeping what was being sent."""
    user = request.user
    user_pk = user.pk
    record_account_event(
        AuditAction.SIGNED_OUT, user, request=request, detail=f"session ended {reason}"
    )
    SignedInSession.objects.filter(session_key=request.session.session_key).delete()
    was_sending = request.method == "POST"
    logout(request)
    if was_sending and _keep_unsent_form(request, user_pk):
        messages.warning(
            request,
            f"Your session ended {reason}. What you typed is kept: sign in again and you "
            "can send it.",
        )
    else:
        messages.info(request, f"Your session ended {reason}. Sign in again to carry on.")


def sign_out_everywhere(user: Any, *, except_key: str | None = None) -> int:
    """End every session of this person (but ``except_key``), whatever the session store."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    sessions = SignedInSession.objects.filter(user=user).exclude(session_key=except_key or "")
    keys = list(sessions.values_list("session_key", flat=True))
    for key in keys:
        store(session_key=key).delete()
    sessions.delete()
    return len(keys)


def signed_in_page(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """A page for signed-in people only, whatever the host project's middleware:

    - a signed-out visitor goes to the sign-in page (never an error);
    - a session past its idle or total time ends, and the visitor signs in again, keeping
      what they were sending;
    - the page is never kept by a browser or proxy cache (``Cache-Control: no-store``):
      nearly every page names a child or shows case content, and a shared computer's back
      button or disk cache must not show it to the next person.
    """
    guarded = never_cache(view)

    @wraps(view)
    def page(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.user.is_authenticated:
            reason = why_ended(request)
            if reason:
                end(request, reason)
            else:
                from .signin import needs_second_step

                if needs_second_step(request):
                    record_account_event(
                        AuditAction.SIGNED_OUT,
                        request.user,
                        request=request,
                        detail="session ended: a second factor is now needed",
                    )
                    logout(request)
                    messages.info(request, "Sign in with your second factor to carry on.")
                else:
                    _touch(request)
                    return guarded(request, *args, **kwargs)
        return redirect_to_login(request.get_full_path())

    return page
