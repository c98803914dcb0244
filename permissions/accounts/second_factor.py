"""The second factor: a time-based code from an authenticator app (TOTP), and single-use
recovery codes for a lost device. Stored in django-otp's devices; set up, used, renewed
and reset only through these functions, each of which is audited.

Who must use one: anyone holding a role named in SAFESHARE_MFA_REQUIRED_ROLES in a setting,
everyone of a setting that requires it of all its staff, and anyone who has set one up.
"""

from __future__ import annotations

import re
import secrets
from base64 import b32encode
from binascii import unhexlify
from typing import Any
from urllib.parse import quote, urlencode

import segno
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.safestring import SafeString, mark_safe
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from cases import app_settings

from ..models import AuditAction
from ..roles import current_memberships
from .events import record_account_event

RECOVERY_CODE_COUNT = 10
APP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"


def must_use(user: Any) -> bool:
    """Whether this person signs in with a second factor."""
    roles = tuple(app_settings.get("SAFESHARE_MFA_REQUIRED_ROLES"))
    required = (
        current_memberships(user)
        .filter(Q(role__in=roles) | Q(organisation__second_factor_for_everyone=True))
        .exists()
    )
    return required or has_app(user)


def has_app(user: Any) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def recovery_codes_left(user: Any) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def new_key() -> str:
    """A new secret for an authenticator app (20 random bytes, as django-otp stores it)."""
    return secrets.token_hex(20)


def secret_for_typing(key: str) -> str:
    """The secret as people type it into an app: base32, in groups of four."""
    encoded = b32encode(unhexlify(key)).decode()
    return " ".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def setup_link(user: Any, key: str) -> str:
    """The otpauth:// link an authenticator app reads from the QR code."""
    issuer = str(app_settings.get("SAFESHARE_SITE_TITLE")).replace(":", "")
    label = quote(f"{issuer}:{user.get_username()}")
    query = urlencode(
        {
            "secret": b32encode(unhexlify(key)).decode(),
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": 6,
            "period": 30,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"


def qr_code_svg(link: str) -> SafeString:
    """The set-up link as an inline SVG QR code: drawn here, no image host, no script."""
    svg = segno.make(link, error="m").svg_inline(
        scale=4, dark="#000", light="#fff", omitsize=True, title="QR code to scan with your app"
    )
    return mark_safe(svg)  # noqa: S308 - segno's own SVG markup, built from our link


def _normalised(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()


def set_up(user: Any, key: str, code: str, *, request: Any = None) -> tuple[Device, list[str]]:
    """Make ``key`` the person's authenticator once ``code`` proves their app has it, with a
    fresh set of recovery codes (returned, to be shown once). Replaces any earlier app and
    codes. Raises ValidationError for a wrong code."""
    with transaction.atomic():
        # One set-up at a time per person: two sent at once would leave two apps.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        TOTPDevice.objects.filter(user=user).delete()
        device = TOTPDevice.objects.create(
            user=user, key=key, confirmed=False, name=APP_DEVICE_NAME
        )
        if not device.verify_token(_normalised(code)):
            raise ValidationError(
                {
                    "code": "That code does not match. Check the app shows Safeshare for you, "
                    "and type the 6 digits it shows now."
                }
            )
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _replace_recovery_codes(user)
        record_account_event(
            AuditAction.SECOND_FACTOR_SET_UP,
            user,
            actor=user,
            request=request,
            detail=f"authenticator app and {len(codes)} recovery codes",
        )
    return device, codes


def new_recovery_codes(user: Any, *, request: Any = None) -> list[str]:
    """A fresh set of recovery codes; the old ones stop working. (The pages then sign the
    person out everywhere else.)"""
    with transaction.atomic():
        codes = _replace_recovery_codes(user)
        record_account_event(
            AuditAction.RECOVERY_CODES_ISSUED,
            user,
            actor=user,
            request=request,
            detail=f"{len(codes)} recovery codes; the earlier ones no longer work",
        )
    return codes


def _replace_recovery_codes(user: Any) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def check_code(user: Any, code: str) -> tuple[Device | None, str]:
    """The device that ``code`` proves, and how ("app" or "recovery code"), or (None, "").

    A recovery code works once: it is deleted as it is used, and of two requests using the
    same code at once only the one whose delete removed it succeeds."""
    code = _normalised(code)
    if re.fullmatch(r"\d{6}", code):
        with transaction.atomic():
            # One check at a time per person, so the same code cannot be used twice at once
            # (the device remembers the last time-step it accepted).
            for device in TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True):
                if device.verify_token(code):
                    return device, "app"
        return None, ""
    if re.fullmatch(r"[a-z2-7]{8}", code):
        with transaction.atomic():
            token = (
                StaticToken.objects.filter(device__user=user, device__confirmed=True, token=code)
                .select_related("device")
                .first()
            )
            if token is not None and StaticToken.objects.filter(pk=token.pk).delete()[0]:
                return token.device, "recovery code"
    return None, ""


def may_reset(by: Any, user: Any) -> bool:
    """A lead resets the second factor of someone of their own setting: not their own (a
    recovery code, another lead or the installation's operator does), and not of someone
    who also belongs to a setting they do not lead, since the factor guards that setting's
    records too."""
    from ..rules import can_manage_sign_in

    memberships = list(current_memberships(user).select_related("organisation"))
    return (
        by.pk != user.pk
        and bool(memberships)
        and all(can_manage_sign_in(by, membership.organisation) for membership in memberships)
    )


def reset(user: Any, *, by: Any, request: Any = None) -> None:
    """Remove a person's authenticator and recovery codes (a lost phone): they set up a new
    one at their next sign-in, and every session they have ends now. ``by`` None is the
    installation's operator (``manage.py reset_second_factor``)."""
    from .sessions import sign_out_everywhere

    if by is not None and not may_reset(by, user):
        raise PermissionDenied
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        record_account_event(
            AuditAction.SECOND_FACTOR_RESET,
            user,
            actor=by,
            request=request,
            detail="authenticator app and recovery codes removed; set up again at next sign-in",
        )
        sign_out_everywhere(user)


def require_for_everyone(organisation: Any, *, everyone: bool, by: Any) -> None:
    """The lead decides whether all the setting's staff sign in with a second factor."""
    from ..audit import record_setting_change
    from ..rules import can_manage_sign_in

    if not can_manage_sign_in(by, organisation):
        raise PermissionDenied
    with transaction.atomic():
        type(organisation).objects.filter(pk=organisation.pk).update(
            second_factor_for_everyone=everyone
        )
        organisation.second_factor_for_everyone = everyone
        if everyone:
            end_sessions_without_one(
                list(
                    organisation.memberships.filter(ended_at__isnull=True).values_list(
                        "user_id", flat=True
                    )
                )
            )
        record_setting_change(
            AuditAction.SIGN_IN_POLICY_CHANGED,
            organisation,
            actor=by,
            detail=(
                "everyone signs in with a second factor"
                if everyone
                else "a second factor only for the roles that always need one"
            ),
        )


def end_sessions_without_one(user_ids: list[int]) -> None:
    """Sign out everywhere each of these people who now needs a second factor and has none
    (made a lead, or their setting now requires one of everyone): they set one up at their
    next sign-in, rather than carrying on with the password alone."""
    from .sessions import sign_out_everywhere

    for user in get_user_model().objects.filter(pk__in=user_ids):
        if must_use(user) and not has_app(user):
            sign_out_everywhere(user)
