"""Who may read a secure link's release: whoever holds the link and has opened it with its
code, in this browser session. Nobody signs in; the link and the code are the access.

The link carries the delivery's public id signed with the site's key, so a link that was
never issued (a guessed or altered one) is refused before the database is asked. Opening it
is remembered in the session, per link: one link's code opens no other link.
"""

from __future__ import annotations

import time

from django.contrib.auth import SESSION_KEY as AUTH_SESSION_KEY
from django.contrib.sessions.backends.base import SessionBase
from django.core import signing

from cases import app_settings
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
        Delivery.objects.select_related(
            "release__decision", "share__case__organisation", "transfer__from_setting", "sent_by"
        )
        .filter(public_id=public_id)
        .first()
    )
    if delivery is None:
        raise LinkUnavailable
    return delivery


def _idle_limit() -> float:
    """An opened link asks for its code again after this long without a page of it, as a
    session of Safeshare's own ends (a shared office computer left open)."""
    return 60.0 * app_settings.get("SAFESHARE_SESSION_IDLE_MINUTES")


def note_link_opened(session: SessionBase, delivery: Delivery, name: str) -> None:
    """The right code was given: this session may read this link, under this name.

    A visitor's session gets a new key, so a key planted before the code was typed opens
    nothing. A signed-in person's keeps its key: "sign out everywhere" finds sessions by it.
    """
    if AUTH_SESSION_KEY not in session:
        session.cycle_key()
    opened = dict(session.get(_OPENED, {}))
    opened[str(delivery.public_id)] = {"name": name, "seen": time.time()}
    session[_OPENED] = opened


def name_link_opened_with(session: SessionBase, delivery: Delivery) -> str | None:
    """The name this session opened the link with, or None if it has not, or has left it
    idle too long (then it is forgotten, and the code is asked for again). Asking counts as
    a page of it: the idle time starts again."""
    opened = dict(session.get(_OPENED, {}))
    key = str(delivery.public_id)
    entry = opened.get(key)
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        return None
    now = time.time()
    if now - float(entry.get("seen") or 0) > _idle_limit():
        del opened[key]
        session[_OPENED] = opened
        return None
    opened[key] = {"name": entry["name"], "seen": now}
    session[_OPENED] = opened
    return str(entry["name"])
