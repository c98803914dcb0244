"""Secure links on their sender's page (a share's, or a child protection file's): their
state, what happened to each, the code of a link just sent (shown once), and what the reader
may do about them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.contrib import messages
from django.http import HttpRequest
from django.urls import reverse

from permissions.rules import can_record_release, can_revoke_link, can_send_file

from .choices import SendingMethod
from .models import AWAITING_ANSWER, Delivery, FileTransfer, Release, Share
from .people import signed_in
from .services.deliveries import SentLink, code_for_reading, link_state

_CODES = "safeshare_link_codes"


def _recipient_name(delivery: Delivery) -> str:
    if delivery.transfer is not None:
        return delivery.transfer.to_name
    assert delivery.release is not None
    return delivery.release.recipient_name


def keep_code_to_show(request: HttpRequest, sent: SentLink) -> None:
    """Hold the new link's code for its page to show, once (it is kept only hashed)."""
    codes = dict(request.session.get(_CODES, {}))
    codes[str(sent.delivery.pk)] = code_for_reading(sent.code)
    request.session[_CODES] = codes
    messages.success(
        request,
        f"Sent to {_recipient_name(sent.delivery)} at {sent.delivery.email}. Phone them "
        "now with the code shown below: it opens the link, and it is shown only this once.",
    )


def _take_codes(request: HttpRequest, link_pks: set[int], keep: bool = False) -> dict[int, str]:
    """The codes of these links held for showing: returned, and gone from the session, so a
    reload of the page no longer shows them (``keep``: shown, and kept for the next page)."""
    codes = dict(request.session.get(_CODES, {}))
    shown = {int(pk): code for pk, code in codes.items() if int(pk) in link_pks}
    if shown and not keep:
        request.session[_CODES] = {
            pk: code for pk, code in codes.items() if int(pk) not in link_pks
        }
    return shown


def _links_context(
    request: HttpRequest,
    deliveries: Sequence[Delivery],
    revoke_url: Callable[[Delivery], str],
    may_send_new: bool,
    new_link_url: str,
    keep_codes: bool = False,
) -> dict[str, Any]:
    user = signed_in(request)
    codes = _take_codes(request, {delivery.pk for delivery in deliveries}, keep_codes)
    states = [link_state(delivery) for delivery in deliveries]
    links = [
        {
            "state": state,
            "code": codes.get(state.delivery.pk),
            "may_revoke": can_revoke_link(user, state.delivery),
            "revoke_url": revoke_url(state.delivery),
        }
        for state in states
    ]
    none_live = not any(state.live for state in states)
    return {
        "links": links,
        "recipient_name": _recipient_name(deliveries[0]) if deliveries else "",
        "may_send_new_link": none_live and may_send_new,
        "new_link_url": new_link_url,
    }


def secure_links_context(
    request: HttpRequest, share: Share, release: Release | None
) -> dict[str, Any]:
    if release is None or release.sending_method != SendingMethod.SECURE_LINK:
        return {"links": []}
    deliveries = list(share.deliveries.select_related("sent_by", "share", "release").order_by("pk"))
    return _links_context(
        request,
        deliveries,
        lambda delivery: reverse("safeguarding:revoke_link", args=[share.pk, delivery.pk]),
        can_record_release(signed_in(request), share),
        reverse("safeguarding:new_link", args=[share.pk]),
    )


def file_links_context(
    request: HttpRequest, transfer: FileTransfer, keep_codes: bool = False
) -> dict[str, Any]:
    """A file sent outside the installation: its links, as a share's are shown."""
    if not transfer.outside:
        return {"links": []}
    deliveries = list(transfer.deliveries.select_related("sent_by", "transfer").order_by("pk"))
    return _links_context(
        request,
        deliveries,
        lambda delivery: reverse("safeguarding:revoke_file_link", args=[transfer.pk, delivery.pk]),
        transfer.status in AWAITING_ANSWER
        and can_send_file(signed_in(request), transfer.from_setting),
        reverse("safeguarding:new_file_link", args=[transfer.pk]),
        keep_codes,
    )
