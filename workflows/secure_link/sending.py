"""The sender's pages: send an approved share by secure link, revoke a link, send a new one.

The code that opens the link is shown to the sender once, on the share's page straight
after sending (it is kept only hashed): ``cases.share_links``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views import View

from cases.models import Delivery, Share
from cases.people import signed_in
from cases.services.deliveries import (
    can_send_by_link,
    delivery_resend,
    delivery_revoke,
)
from cases.share_links import keep_code_to_show
from permissions.lookups import get_share_for

from .. import steps
from ..forms import ReleaseForm, SecureLinkForm
from ..tasks import queue_link_email
from ..views import RecordReleaseView, share_url


class SendSecurelyView(RecordReleaseView):
    form_class = SecureLinkForm
    template_name = "workflows/send_securely.html"

    def release(self, request: HttpRequest, share: Share, form: ReleaseForm) -> None:
        sent = steps.send_securely(share=share, user=signed_in(request), **form.service_kwargs())
        keep_code_to_show(request, sent)

    def extra_context(self, share: Share) -> dict[str, Any]:
        return {"can_send": can_send_by_link(share), "recipient": share.recipient}


def revoke_and_say(request: HttpRequest, delivery: Delivery) -> None:
    """Revoke a link from its sender's page (a share's or a file's), saying how it went."""
    try:
        delivery_revoke(delivery=delivery, user=signed_in(request))
    except ValidationError as refused:
        for message in refused.messages:
            messages.error(request, message)
    else:
        messages.success(request, "The link is revoked: it opens nothing from now on.")


class RevokeLinkView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int, link: int) -> HttpResponse:
        share = get_share_for(request.user, pk)
        revoke_and_say(
            request, get_object_or_404(share.deliveries.select_related("share"), pk=link)
        )
        return redirect(share_url(share))


class NewLinkView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        share = get_share_for(request.user, pk)
        try:
            sent = delivery_resend(share=share, user=signed_in(request))
        except ValidationError as refused:
            for message in refused.messages:
                messages.error(request, message)
        else:
            queue_link_email(sent.delivery)
            keep_code_to_show(request, sent)
        return redirect(share_url(share))
