"""The email that carries a secure link: who sent it and until when, never the case."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from cases import app_settings
from cases.models import Delivery
from cases.people import display_name
from permissions.links import link_token


def link_path(delivery: Delivery) -> str:
    return reverse("secure_link_received", kwargs={"token": link_token(delivery)})


def link_email(delivery: Delivery, url: str) -> tuple[str, str]:
    """Subject and body. No child, no case, no purpose: whoever reads the email without
    the code learns only that a setting sent something, and whom to call."""
    setting = delivery.setting
    sender = display_name(delivery.sent_by)
    attempts = app_settings.get("SAFESHARE_DELIVERY_CODE_ATTEMPTS")
    until = date_format(
        timezone.localtime(delivery.expires_at, ZoneInfo(setting.timezone)), "j F Y, H:i"
    )
    subject = f"Information sent to you securely by {setting.name}"
    body = "\n".join(
        [
            f"{sender} at {setting.name} has sent you information securely through Safeshare.",
            "",
            f"Open it here: {url}",
            "",
            f"You will need the code {sender} gives you by phone. The code is never sent by "
            "email. If you have not been given it, contact them.",
            "",
            f"The link works until {until}. After {attempts} wrong codes it locks.",
            "If this email was not meant for you, please delete it and tell the sender.",
            "",
        ]
    )
    return subject, body
