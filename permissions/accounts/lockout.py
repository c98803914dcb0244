"""Lockout after failed sign-ins, through django-axes: which address a request came from,
whether a username or address is paused, and the page that says so.

Axes counts every failed attempt in the database (so every web process sees the same
count) and pauses a username that reaches ``AXES_FAILURE_LIMIT`` for ``AXES_COOLOFF_TIME``.
An address is paused at SAFESHARE_SIGN_IN_ADDRESS_FAILURE_LIMIT failures over all usernames
in the same time: a school's staff share one address, and five typos between fifty people
must not shut them all out, while one machine guessing at many accounts is still stopped.
Wrong second-factor codes are counted with wrong passwords.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from cases import app_settings


def client_ip(request: HttpRequest) -> str:
    """The address a request came from. Behind TRUSTED_PROXY_COUNT proxies, it is the
    address the nearest of them saw (X-Forwarded-For's entry that many from the right),
    never an entry the client could have written itself."""
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [hop for hop in hops if hop]
        if len(hops) >= proxies:
            address = _address(hops[-proxies])
            if address:
                return address
    return _address(str(request.META.get("REMOTE_ADDR", ""))) or "0.0.0.0"  # noqa: S104


def _address(text: str) -> str:
    """An IP address as written by a proxy ("203.0.113.5", "203.0.113.5:4431",
    "[2001:db8::1]:443"), or "" for anything else."""
    for candidate in (text, text.rsplit(":", 1)[0].strip("[]")):
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return ""


def _address_paused(request: HttpRequest) -> bool:
    cool_off = get_cool_off(request)
    attempts = AccessAttempt.objects.filter(ip_address=client_ip(request))
    if cool_off:
        attempts = attempts.filter(attempt_time__gte=timezone.now() - cool_off)
    failures = attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
    return failures >= int(app_settings.get("SAFESHARE_SIGN_IN_ADDRESS_FAILURE_LIMIT"))


def is_paused(request: HttpRequest, username: str) -> bool:
    """Whether sign-in is paused for this username or from this address."""
    return not AxesProxyHandler.is_allowed(request, {"username": username}) or _address_paused(
        request
    )


def count_failure(request: HttpRequest, username: str) -> None:
    """Count a failed attempt that Django's ``authenticate`` did not see (a wrong code)."""
    user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)


def paused_until(request: HttpRequest, username: str) -> str:
    """When the pause on this username or address ends, as a time of day ("" if unknown)."""
    cool_off = get_cool_off(request)
    if cool_off is None:
        return ""
    latest = [
        attempts.order_by("-attempt_time").values_list("attempt_time", flat=True).first()
        for attempts in (
            AccessAttempt.objects.filter(username=username),
            AccessAttempt.objects.filter(ip_address=client_ip(request)),
        )
    ]
    known = [moment for moment in latest if moment is not None]
    return timezone.localtime(max(known) + cool_off).strftime("%H:%M") if known else ""


def pause_minutes() -> int:
    cool_off = get_cool_off()
    return max(int(cool_off.total_seconds() // 60), 1) if cool_off else 0


def pause_message(request: HttpRequest | None = None, username: str = "") -> str:
    until = paused_until(request, username) if request is not None else ""
    how_long = f"until {until}" if until else f"for {pause_minutes()} minutes"
    return (
        "Too many failed attempts to sign in. For the safety of the records here, signing in "
        f"to this account or from this address is paused {how_long}. If "
        "you have forgotten your password, choose a new one and sign in once the pause is "
        "over; if this was not you, tell your Designated Safeguarding Lead."
    )


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """What axes answers when another sign-in page (a host project's) met a lockout.
    Safeshare's own sign-in pages already answered with the message on the form."""
    if original_response is not None and original_response.status_code == 429:
        return original_response
    return render(request, "registration/paused.html", {"message": pause_message()}, status=429)


def paused_usernames(usernames: list[str]) -> set[str]:
    """Which of these usernames are paused now (their own failures, not their address's)."""
    cool_off = get_cool_off()
    attempts = AccessAttempt.objects.filter(username__in=usernames)
    if cool_off:
        attempts = attempts.filter(attempt_time__gte=timezone.now() - cool_off)
    totals = attempts.values("username").annotate(total=Sum("failures_since_start"))
    return {row["username"] for row in totals if row["total"] >= settings.AXES_FAILURE_LIMIT}


def lift_pause(user: Any, *, by: Any, request: HttpRequest) -> None:
    """A lead lets someone of their setting sign in again before the pause ends (they have
    spoken to them: the failures were their own typos). Recorded."""
    from ..models import AuditAction
    from .events import record_account_event
    from .second_factor import may_reset

    if not may_reset(by, user):
        raise PermissionDenied
    AxesProxyHandler.reset_attempts(username=user.get_username())
    record_account_event(AuditAction.PAUSE_LIFTED, user, actor=by, request=request)
