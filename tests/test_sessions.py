"""How long a session lasts, what happens to a form sent after it ended, and signing out
everywhere. The limits are as deployed (30 minutes idle, 12 hours in all), not the suite's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases.app_settings import DEFAULTS
from cases.models import Share
from permissions.accounts import second_factor
from permissions.models import AuditAction, AuditEntry, SignedInSession

from .http_helpers import form_data, page_text

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def as_deployed(settings: Any) -> None:
    settings.SAFESHARE_SESSION_IDLE_MINUTES = DEFAULTS["SAFESHARE_SESSION_IDLE_MINUTES"]
    settings.SAFESHARE_SESSION_MAX_HOURS = DEFAULTS["SAFESHARE_SESSION_MAX_HOURS"]


def sign_in(client: Any, username: str, password: str = "pw") -> Any:
    page = client.get(reverse("login"))
    return client.post(
        reverse("login"), form_data(page, username=username, password=password), follow=True
    )


def home(client: Any) -> Any:
    return client.get(reverse("safeguarding:index"))


def test_a_session_ends_after_30_minutes_without_a_request(client: Any, practitioner: Any) -> None:
    with time_machine.travel(timezone.now(), tick=False) as clock:
        sign_in(client, "priya")
        clock.shift(timedelta(minutes=29))
        assert home(client).status_code == 200
        # Measured from the last request, not from signing in.
        clock.shift(timedelta(minutes=29))
        assert home(client).status_code == 200
        clock.shift(timedelta(minutes=31))
        ended = home(client)
    assert ended["Location"].startswith(reverse("login"))
    login_page = page_text(client.get(ended["Location"]))
    assert "Your session ended after 30 minutes without activity" in login_page
    entry = AuditEntry.objects.filter(action=AuditAction.SIGNED_OUT).get()
    assert entry.detail.startswith("session ended after 30 minutes without activity")
    assert entry.actor is None and entry.subject == practitioner
    assert not SignedInSession.objects.exists()


def test_a_session_ends_12_hours_after_signing_in_however_busy(
    client: Any, practitioner: Any
) -> None:
    with time_machine.travel(timezone.now(), tick=False) as clock:
        sign_in(client, "priya")
        for _ in range(11 * 3):
            clock.shift(timedelta(minutes=20))
            assert home(client).status_code == 200
        clock.shift(timedelta(minutes=61))
        assert home(client).status_code == 302
        clock.shift(timedelta(minutes=1))
        assert home(client)["Location"].startswith(reverse("login"))


def sent_after_the_session_ended(client: Any, username: str, path: str, **typed: Any) -> Any:
    """Sign in, open the form at ``path``, type, leave it 45 minutes, then send it."""
    with time_machine.travel(timezone.now(), tick=False) as clock:
        sign_in(client, username)
        data = form_data(client.get(path), **typed)
        clock.shift(timedelta(minutes=45))
        return client.post(path, data)


def test_what_was_typed_when_the_session_ended_is_sent_after_signing_in(
    client: Any, practitioner: Any, case: Any, recipient: Any
) -> None:
    propose = reverse("safeguarding:share_propose", args=[case.pk])
    sent = sent_after_the_session_ended(
        client, "priya", propose, purpose="Typed before lunch, sent after it."
    )
    # Not saved, not lost: kept for whoever signs in next as Priya, and nobody else.
    assert sent["Location"].startswith(reverse("login"))
    assert not Share.objects.exists()
    assert "What you typed is kept" in page_text(client.get(sent["Location"]))
    signed_in = sign_in(client, "priya")
    assert signed_in.redirect_chain[-1][0] == reverse("safeguarding:carry_on")
    carry_on = page_text(signed_in)
    assert "Typed before lunch, sent after it." in carry_on
    assert "csrfmiddlewaretoken" not in carry_on
    # Named in words, without the form's own counters.
    assert "Purpose" in carry_on and "TOTAL_FORMS" not in carry_on
    # "Send it now": the same form goes on to the proposal page, as if sent from there.
    resent = client.post(
        reverse("safeguarding:carry_on"), form_data(signed_in, carry_on="send"), follow=True
    )
    assert resent.redirect_chain[0] == (propose, 307)
    assert Share.objects.get().purpose == "Typed before lunch, sent after it."
    assert client.get(reverse("safeguarding:carry_on"))["Location"] == "/"


def test_what_was_typed_is_not_shown_to_someone_else_signing_in(
    client: Any, practitioner: Any, colleague: Any, case: Any
) -> None:
    propose = reverse("safeguarding:share_propose", args=[case.pk])
    sent_after_the_session_ended(client, "priya", propose, purpose="Priya's words about Maisie.")
    colin = sign_in(client, "colin")
    assert colin.redirect_chain[-1][0].endswith("/safeguarding/")
    assert "Priya's words" not in page_text(
        client.get(reverse("safeguarding:carry_on"), follow=True)
    )


def test_passwords_are_never_kept(client: Any, practitioner: Any) -> None:
    change = reverse("safeguarding:password_change")
    sent_after_the_session_ended(
        client, "priya", change, old_password="pw", new_password1="x" * 14, new_password2="y"
    )
    kept = [s.get_decoded().get("safeshare.unsent_form") for s in Session.objects.all()]
    assert all(k is None or not any("password" in name for name, _ in k["fields"]) for k in kept)


def test_letting_it_go_forgets_it(client: Any, practitioner: Any, case: Any) -> None:
    propose = reverse("safeguarding:share_propose", args=[case.pk])
    sent_after_the_session_ended(client, "priya", propose, purpose="Never mind.")
    page = sign_in(client, "priya")
    client.post(reverse("safeguarding:carry_on"), form_data(page, carry_on="discard"))
    assert client.get(reverse("safeguarding:carry_on"))["Location"] == "/"
    assert not Share.objects.exists()


# --- signing out everywhere --------------------------------------------------------


def two_browsers(username: str) -> tuple[Any, Any]:
    first, second = Client(), Client()
    sign_in(first, username)
    sign_in(second, username)
    assert home(first).status_code == home(second).status_code == 200
    return first, second


def test_a_new_password_signs_out_everywhere_else(practitioner: Any) -> None:
    here, elsewhere = two_browsers("priya")
    change = reverse("safeguarding:password_change")
    new = "three random words here"
    here.post(
        change,
        form_data(here.get(change), old_password="pw", new_password1=new, new_password2=new),
    )
    assert home(here).status_code == 200
    assert home(elsewhere).status_code == 302
    assert AuditEntry.objects.filter(action=AuditAction.PASSWORD_CHANGED).count() == 1


def test_a_new_app_signs_out_everywhere_else(practitioner: Any) -> None:
    here, elsewhere = two_browsers("priya")
    change = reverse("safeguarding:authenticator_change")
    page = here.get(change)
    key = here.session["safeshare.second_factor_key"]["key"]
    from django_otp.oath import totp

    # Signed in, a change needs proof it is them: with no app yet, their password.
    here.post(change, form_data(page, current="pw", code=f"{totp(bytes.fromhex(key)):06d}"))
    assert second_factor.has_app(practitioner)
    assert home(here).status_code == 200
    assert home(elsewhere).status_code == 302


def test_sign_out_everywhere_else(practitioner: Any) -> None:
    here, elsewhere = two_browsers("priya")
    here.post(reverse("safeguarding:profile"), {"action": "sign_out_elsewhere"})
    assert home(here).status_code == 200
    assert home(elsewhere).status_code == 302
