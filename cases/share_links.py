"""A share's secure links on its page: their state, what happened to each, the code of a
link just sent (shown once), and what the reader may do about them."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest

from permissions.rules import can_record_release, can_revoke_link

from .choices import SendingMethod
from .models import Release, Share
from .people import signed_in
from .services.deliveries import SentLink, code_for_reading, link_state

_CODES = "safeshare_link_codes"


def keep_code_to_show(request: HttpRequest, sent: SentLink) -> None:
    """Hold the new link's code for the share's page to show, once (it is kept only hashed)."""
    codes = dict(request.session.get(_CODES, {}))
    codes[str(sent.delivery.pk)] = code_for_reading(sent.code)
    request.session[_CODES] = codes
    messages.success(
        request,
        f"Sent to {sent.delivery.release.recipient_name} at {sent.delivery.email}. Phone them "
        "now with the code shown below: it opens the link, and it is shown only this once.",
    )


def _take_codes(request: HttpRequest, link_pks: set[int]) -> dict[int, str]:
    """The codes of these links held for showing: returned, and gone from the session, so a
    reload of the page no longer shows them."""
    codes = dict(request.session.get(_CODES, {}))
    shown = {int(pk): code for pk, code in codes.items() if int(pk) in link_pks}
    if shown:
        request.session[_CODES] = {
            pk: code for pk, code in codes.items() if int(pk) not in link_pks
        }
    return shown


def secure_links_context(
    request: HttpRequest, share: Share, release: Release | None
) -> dict[str, Any]:
    if release is None or release.sending_method != SendingMethod.SECURE_LINK:
        return {"links": []}
    user = signed_in(request)
    deliveries = list(share.deliveries.select_related("sent_by", "share").order_by("pk"))
    codes = _take_codes(request, {delivery.pk for delivery in deliveries})
    states = [link_state(delivery) for delivery in deliveries]
    links = [
        {
            "state": state,
            "code": codes.get(state.delivery.pk),
            "may_revoke": can_revoke_link(user, state.delivery),
        }
        for state in states
    ]
    none_live = not any(state.live for state in states)
    return {
        "links": links,
        "may_send_new_link": none_live and can_record_release(user, share),
    }
