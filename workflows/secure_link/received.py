"""The recipient's pages, outside sign-in: open the link with its code, read what was sent,
download it as a PDF, acknowledge receipt.

Nothing of the case is on any page until the right code is given in this browser session.
A link that was never issued, or is revoked or expired, answers one plain "no longer
available" page, the same for each (404), so the page gives nothing away; a locked one says
it is locked, so the real recipient knows to call the sender. Every page is never cached.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from cases.models import DeliveryEventKind
from cases.services.deliveries import (
    LinkState,
    delivery_acknowledge,
    delivery_seen,
    delivery_unlock,
    link_state,
)
from cases.transactions import atomic_change
from permissions.links import (
    LinkUnavailable,
    delivery_for_token,
    name_link_opened_with,
    note_link_opened,
)

from ..decision_record_pdf import document_pdf
from ..forms import apply_service_errors
from . import notices
from .record import received_sections, received_title


class UnlockForm(forms.Form):
    name = forms.CharField(
        label="Your name",
        max_length=200,
        required=False,
        help_text="As you would sign a letter: it is recorded with each time the link is opened.",
    )
    code = forms.CharField(
        label="Code",
        max_length=20,
        required=False,
        help_text="The code the sender gave you by phone. It is never in the email.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class AcknowledgeForm(forms.Form):
    name = forms.CharField(label="Your name", max_length=200, required=False)
    confirmed = forms.BooleanField(
        label="I confirm I have received this information", required=False
    )


def _unavailable(request: HttpRequest, state: LinkState | None = None) -> HttpResponse:
    locked = state is not None and state.ended_by is not None and state.ended_by.kind == "locked"
    return render(request, "workflows/received_unavailable.html", {"locked": locked}, status=404)


def _private(response: HttpResponseBase) -> HttpResponseBase:
    # Never in a shared cache or on the browser's disk, never indexed, and the link's
    # token never sent on to another site in a Referer. "same-origin", not "no-referrer":
    # under no-referrer a browser posts the page's own forms with "Origin: null", which
    # Django's CSRF check rightly refuses.
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "same-origin"
    return response


@method_decorator([login_not_required, never_cache], name="dispatch")
class _LinkView(View):
    """Finds the link's delivery; a link that opens nothing answers the plain page."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            delivery = delivery_for_token(kwargs["token"])
        except LinkUnavailable:
            return _private(_unavailable(request))
        state = link_state(delivery)
        if not state.live:
            return _private(_unavailable(request, state))
        self.delivery, self.state = delivery, state
        self.opened_as = name_link_opened_with(request.session, delivery)
        return _private(super().dispatch(request, *args, **kwargs))

    def page(self, request: HttpRequest, **context: Any) -> HttpResponse:
        status = context.pop("status", 200)
        return render(
            request,
            "workflows/received.html",
            {
                "delivery": self.delivery,
                "setting": self.delivery.setting,
                "title": received_title(self.delivery, opened=self.opened_as is not None),
                "state": self.state,
                "token": self.kwargs["token"],
                **context,
            },
            status=status,
        )


class ReceivedView(_LinkView):
    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        if self.opened_as is None:
            return self.page(request, unlock=UnlockForm())
        return self._shown(request, self.opened_as)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        form = UnlockForm(request.POST)
        if not form.is_valid():
            return self.page(request, unlock=form, status=400)
        name = form.cleaned_data["name"]
        try:
            with atomic_change():
                after = delivery_unlock(
                    delivery=self.delivery, name=name, code=form.cleaned_data["code"]
                )
                if not after.live:
                    notices.locked(self.delivery)
        except LinkUnavailable:
            return _unavailable(request)
        except ValidationError as refused:
            apply_service_errors(refused, form)
            return self.page(request, unlock=form, status=400)
        if not after.live:
            return _unavailable(request, after)
        opened = after.events[-1]
        if opened.kind != DeliveryEventKind.OPENED:
            left = after.codes_left
            # The name stays; the wrong code goes, so the next one is typed into an empty box.
            cleared = request.POST.copy()
            cleared["code"] = ""
            form.data = cleared
            form.add_error(
                "code",
                f"That code is not right. {left} {'try' if left == 1 else 'tries'} left before "
                "the link locks.",
            )
            return self.page(request, unlock=form, status=400)
        note_link_opened(request.session, self.delivery, opened.name)
        return redirect("secure_link_received", token=token)

    def _shown(self, request: HttpRequest, name: str) -> HttpResponse:
        try:
            delivery_seen(delivery=self.delivery, name=name)
        except LinkUnavailable:
            return _unavailable(request)
        acknowledged = self.state.first(DeliveryEventKind.ACKNOWLEDGED)
        return self.page(
            request,
            sections=received_sections(self.delivery),
            acknowledged=acknowledged,
            acknowledge=None if acknowledged else AcknowledgeForm(initial={"name": name}),
        )


class ReceivedPdfView(_LinkView):
    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        if self.opened_as is None:
            return redirect("secure_link_received", token=token)
        try:
            delivery_seen(delivery=self.delivery, name=self.opened_as, downloaded=True)
        except LinkUnavailable:
            return _unavailable(request)
        setting = self.delivery.setting
        content = document_pdf(
            received_title(self.delivery),
            received_sections(self.delivery),
            f"Sent securely by {setting.name}",
            "Safeguarding information sent securely",
        )
        response = HttpResponse(content, content_type="application/pdf")
        # Named by the setting and the link, never the child.
        response["Content-Disposition"] = (
            f'attachment; filename="safeshare-{self.delivery.public_id.hex[:8]}.pdf"'
        )
        return response


class AcknowledgeView(_LinkView):
    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        # The address a refused acknowledgement was shown at, opened again: the link's page.
        return redirect("secure_link_received", token=token)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        if self.opened_as is None:
            return redirect("secure_link_received", token=token)
        form = AcknowledgeForm(request.POST)
        if form.is_valid():
            try:
                with atomic_change():
                    event = delivery_acknowledge(
                        delivery=self.delivery,
                        name=form.cleaned_data["name"],
                        confirmed=form.cleaned_data["confirmed"],
                    )
                    notices.acknowledged(self.delivery, event)
            except LinkUnavailable:
                return _unavailable(request)
            except ValidationError as refused:
                apply_service_errors(refused, form)
            else:
                return redirect("secure_link_received", token=token)
        try:
            # Shown again with its mistake: a view like any other, of a link still live.
            delivery_seen(delivery=self.delivery, name=self.opened_as)
        except LinkUnavailable:
            return _unavailable(request)
        return self.page(
            request,
            sections=received_sections(self.delivery),
            acknowledge=form,
            status=400,
        )
