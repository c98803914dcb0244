from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .models import Notification


def notifications(request: HttpRequest) -> dict[str, Any]:
    """How many unread notifications the person has, counted only if a page shows it."""

    def unread() -> int:
        user = getattr(request, "user", None)  # none on an error page before auth ran
        if user is None or not user.is_authenticated:
            return 0
        return Notification.objects.filter(recipient=user, read_at__isnull=True).count()

    return {"unread_notifications": unread}
