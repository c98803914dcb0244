"""Safeshare's own settings: each has one name, with the SAFESHARE_ prefix, and one default here.

A host project overrides any of them in its Django settings.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # The name shown at the top of every page and in the browser's title bar.
    "SAFESHARE_SITE_TITLE": "Safeshare",
    # How long break-glass access lasts unless the person asks for less (at most 72 hours).
    "SAFESHARE_BREAK_GLASS_HOURS": 24,
    # The address people use to reach the site, for links in emails.
    "SAFESHARE_SITE_URL": "http://127.0.0.1:8000",
    # How long a delivery's claim on a notification lasts unless renewed before another may
    # retake it (a worker killed mid-send leaves its claim behind). A live delivery renews
    # it every third of this while it sends, so a slow mail server never causes a resend.
    "SAFESHARE_NOTIFICATION_CLAIM_SECONDS": 300,
    # Sweep the workflow timers in a thread of the serving process, for a site run without
    # Celery beat (Safeshare's own `make run` turns it on; a host project normally has beat).
    "SAFESHARE_EMBEDDED_TIMERS": False,
    # Working days allowed to tell the family once telling them was "not yet possible".
    "SAFESHARE_FAMILY_FOLLOW_UP_WORKING_DAYS": 5,
    # Who must sign in with a second factor (an authenticator app's code or a recovery code)
    # as well as their password. A setting may require it of all its staff besides.
    "SAFESHARE_MFA_REQUIRED_ROLES": ("lead", "deputy", "manager", "auditor"),
    # Failed sign-ins from one address, over all usernames, before that address is paused
    # (one username is paused after AXES_FAILURE_LIMIT). Staff behind one school address
    # share this count.
    "SAFESHARE_SIGN_IN_ADDRESS_FAILURE_LIMIT": 50,
    # A session ends after this many minutes without a request...
    "SAFESHARE_SESSION_IDLE_MINUTES": 30,
    # ...and this many hours after signing in, however busy.
    "SAFESHARE_SESSION_MAX_HOURS": 12,
    # A release sent by Safeshare's secure link: the days the link works, the wrong codes
    # allowed before it locks, and the working days (on the sending setting's calendar)
    # after which the sender is told it has not been opened.
    "SAFESHARE_DELIVERY_DAYS": 7,
    "SAFESHARE_DELIVERY_CODE_ATTEMPTS": 5,
    "SAFESHARE_DELIVERY_NOT_OPENED_WORKING_DAYS": 2,
}


def get(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])
