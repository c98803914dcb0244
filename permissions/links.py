"""Who may read a secure link's release: whoever holds the link and has opened it with its
code, in this browser session. Nobody signs in; the link and the code are the access.

The link carries the delivery's public id signed with the site's key, so a link that was
never issued (a guessed or altered one) is refused before the database is asked. Opening it
is remembered in the session, per link: one link's code opens no other link.
"""

from __future__ import annotations

from django.contrib.sessions.backends.base import SessionBase
from django.core import signing

from cases.models import Delivery

_SALT = "safeshare.delivery-link"
_OPENED = "safeshare_links_opened"


class LinkUnavailable(Exception):
    """The link opens nothing: unknown, revoked, locked or expired. Its page says only that."""


def link_token(delivery: Delivery) -> str:
    """What the link carries: the delivery's public id, signed with the site's key."""
    return signing.Signer(salt=_SALT).sign(str(delivery.public_id))


def delivery_for_token(token: str) -> Delivery:
    """The delivery a link names, or LinkUnavailable for one that was never issued."""
    try:
        public_id = signing.Signer(salt=_SALT).unsign(token)
    except signing.BadSignature:
        raise LinkUnavailable from None
    delivery = (
        Delivery.objects.select_related("release__decision", "share__case__organisation", "sent_by")
        .filter(public_id=public_id)
        .first()
    )
    if delivery is None:
        raise LinkUnavailable
    return delivery


def note_link_opened(session: SessionBase, delivery: Delivery, name: str) -> None:
    """The right code was given: this session may read this link, under this name. A new
    session key, so a key planted before the code was typed opens nothing."""
    session.cycle_key()
    opened = dict(session.get(_OPENED, {}))
    opened[str(delivery.public_id)] = name
    session[_OPENED] = opened


def name_link_opened_with(session: SessionBase, delivery: Delivery) -> str | None:
    """The name this session opened the link with, or None if it has not opened it."""
    name = session.get(_OPENED, {}).get(str(delivery.public_id))
    return name if isinstance(name, str) else None
