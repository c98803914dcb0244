"""A person's own notifications: read them, open what they point at, mark them read."""

from __future__ import annotations

from typing import Any

from django.db.models import BooleanField, ExpressionWrapper, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import ListView

from cases.people import signed_in

from ..models import Notification
from ..worklists import PagedByIds


def notifications_of(request: HttpRequest) -> Any:
    """Only ever the signed-in person's own: anyone else's is not found."""
    return Notification.objects.filter(recipient=signed_in(request))


class NotificationListView(PagedByIds, ListView):
    """Unread first, newest first: what kind of thing, which share by number, by when.

    In the order of the ``notification_list`` index, so a page reads a page of it.
    """

    template_name = "workflows/notifications.html"
    context_object_name = "notifications"
    paginate_by = 50

    def get_queryset(self) -> Any:
        return (
            notifications_of(self.request)
            .select_related("actor", "break_glass_grant__user", "share")
            .alias(unread=ExpressionWrapper(Q(read_at__isnull=True), BooleanField()))
            .order_by("-unread", "-created_at", "-pk")
        )

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        notifications_of(request).filter(read_at__isnull=True).update(read_at=timezone.now())
        return redirect("safeguarding:notifications")


def _read_now(request: HttpRequest, pk: int) -> Notification:
    """The person's own notification, marked read (once: the first reading keeps its time)."""
    notification = get_object_or_404(notifications_of(request), pk=pk)
    Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    return notification


class OpenNotificationView(View):
    """Follow a notification: it is read now. Where it leads, the page there decides whether
    the person may still see it (a share they have lost access to is not found)."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        link = _read_now(request, pk).link
        if not link or not url_has_allowed_host_and_scheme(link, allowed_hosts=None):
            return redirect("safeguarding:notifications")
        return redirect(link)


class MarkNotificationReadView(View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        _read_now(request, pk)
        return redirect("safeguarding:notifications")
