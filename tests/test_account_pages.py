"""The lead's Staff sign-in page, a person's own sign-in page, and the operator's commands:
first-password links and resetting a second factor."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from cases.choices import Role
from permissions.accounts import second_factor
from permissions.models import AuditAction, AuditEntry, SignedInSession
from workflows.demo import demo_authenticator_key

from .factories import MembershipFactory, UserFactory
from .http_helpers import form_data, page_text, password_works

pytestmark = pytest.mark.django_db
STAFF = "safeguarding:staff_sign_in"


def signed_in(person: Any) -> Client:
    """A browser of this person's, signed in through the sign-in page."""
    browser = Client()
    page = browser.get(reverse("login"))
    browser.post(reverse("login"), form_data(page, username=person.username, password="pw"))
    return browser


def test_the_lead_sees_each_member_s_sign_in_and_second_factor(
    client: Any, lead: Any, practitioner: Any, deputy: Any, other_lead: Any
) -> None:
    TOTPDevice.objects.create(user=deputy, key=second_factor.new_key(), confirmed=True)
    signed_in(practitioner)
    client.force_login(lead)
    page = page_text(client.get(reverse(STAFF)))
    rows = {row.split(" ")[0]: row for row in re.findall(r"(?:priya|dan|grace)[^\n]*", page)}
    assert "olu" not in page  # another setting's lead
    assert "Never" in rows.get("dan", page)
    assert "Authenticator app" in page and "Password only" in page


@pytest.mark.parametrize("who", ["practitioner", "deputy", "manager", "auditor"])
def test_only_the_lead_has_the_page(client: Any, request: Any, who: str) -> None:
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse(STAFF)).status_code == 403


def test_the_lead_resets_a_lost_phone_and_its_sessions_end(
    client: Any, lead: Any, practitioner: Any
) -> None:
    TOTPDevice.objects.create(user=practitioner, key=second_factor.new_key(), confirmed=True)
    second_factor.new_recovery_codes(practitioner)
    priya = Client()
    priya.force_login(practitioner)
    SignedInSession.objects.create(user=practitioner, session_key=priya.session.session_key)
    client.force_login(lead)
    # One more step first: nothing is reset until it is confirmed.
    asked = client.post(reverse(STAFF), {"user": practitioner.pk})
    assert "Reset and sign them out" in page_text(asked)
    assert second_factor.has_app(practitioner)
    response = client.post(reverse(STAFF), {"user": practitioner.pk, "confirm": "1"})
    assert response["Location"] == reverse(STAFF)
    assert not second_factor.has_app(practitioner)
    assert second_factor.recovery_codes_left(practitioner) == 0
    assert priya.get(reverse("safeguarding:index")).status_code == 302
    entry = AuditEntry.objects.get(action=AuditAction.SECOND_FACTOR_RESET)
    assert (entry.actor, entry.subject, entry.basis) == (lead, practitioner, "lead")


def test_a_lead_cannot_reset_someone_of_another_setting(
    client: Any, lead: Any, other_lead: Any
) -> None:
    client.force_login(lead)
    assert client.post(reverse(STAFF), {"user": other_lead.pk, "confirm": "1"}).status_code == 404
    with pytest.raises(PermissionDenied):
        second_factor.reset(other_lead, by=lead)
    assert not AuditEntry.objects.filter(action=AuditAction.SECOND_FACTOR_RESET).exists()


def test_a_lead_does_not_reset_their_own(client: Any, lead: Any) -> None:
    with pytest.raises(PermissionDenied):
        second_factor.reset(lead, by=lead)
    client.force_login(lead)
    client.raise_request_exception = False
    assert client.post(reverse(STAFF), {"user": lead.pk, "confirm": "1"}).status_code == 403


def test_the_lead_may_require_a_second_factor_of_everyone(
    client: Any, lead: Any, oakfield: Any, practitioner: Any
) -> None:
    client.force_login(lead)
    client.post(reverse(STAFF), {"action": "everyone", "setting": oakfield.pk, "everyone": "1"})
    oakfield.refresh_from_db()
    assert oakfield.second_factor_for_everyone
    assert second_factor.must_use(practitioner)
    entry = AuditEntry.objects.get(action=AuditAction.SIGN_IN_POLICY_CHANGED)
    assert entry.actor == lead and entry.organisation == oakfield


def test_another_setting_s_rule_is_not_the_lead_s_to_change(
    client: Any, lead: Any, riverside: Any
) -> None:
    client.force_login(lead)
    answer = client.post(
        reverse(STAFF), {"action": "everyone", "setting": riverside.pk, "everyone": "1"}
    )
    assert answer.status_code == 404
    riverside.refresh_from_db()
    assert not riverside.second_factor_for_everyone


def test_new_recovery_codes_replace_the_old(client: Any, practitioner: Any) -> None:
    device = TOTPDevice.objects.create(
        user=practitioner, key=second_factor.new_key(), confirmed=True
    )
    old = second_factor.new_recovery_codes(practitioner)
    # Someone with an app is not signed in without its code, however the session was made.
    client.force_login(practitioner)
    assert client.get(reverse("safeguarding:profile")).status_code == 302
    client.post(reverse("login"), {"username": "priya", "password": "pw"})
    client.post(reverse("sign_in_code"), {"code": f"{totp(device.bin_key):06d}"})
    # A wrong code first: refused, counted, nothing changed.
    wrong = client.post(reverse("safeguarding:profile"), {"action": "new_codes", "current": "1"})
    assert "That is not right." in page_text(wrong)
    assert second_factor.recovery_codes_left(practitioner) == 10
    page = client.post(reverse("safeguarding:profile"), {"action": "new_codes", "current": old[1]})
    new = re.findall(r"<code>([a-z2-7]{4}) ([a-z2-7]{4})</code>", page.content.decode())
    assert len(new) == 10
    assert second_factor.check_code(practitioner, old[0]) == (None, "")
    assert second_factor.check_code(practitioner, "".join(new[0]))[1] == "recovery code"


def test_a_first_password_link_works_once(client: Any, oakfield: Any) -> None:
    newcomer = UserFactory(username="nia", password=None)
    newcomer.set_unusable_password()
    newcomer.save()
    MembershipFactory(user=newcomer, organisation=oakfield, role=Role.PRACTITIONER)
    out = StringIO()
    call_command("set_password_link", "nia", stdout=out)
    link = out.getvalue().strip()
    path = re.sub(r"^https?://[^/]+", "", link)
    form = client.get(path, follow=True)
    chosen = "a first password of mine"
    done = client.post(
        form.wsgi_request.path, form_data(form, new_password1=chosen, new_password2=chosen)
    )
    assert done["Location"] == reverse("password_reset_complete")
    assert password_works(client, "nia", chosen)
    client.logout()
    again = client.get(path, follow=True)
    assert "This link no longer works" in page_text(again)
    assert AuditEntry.objects.filter(action=AuditAction.PASSWORD_CHANGED, subject=newcomer).count()


def test_the_operator_resets_the_only_lead_s_second_factor(lead: Any) -> None:
    TOTPDevice.objects.create(user=lead, key=second_factor.new_key(), confirmed=True)
    call_command("reset_second_factor", "grace", stdout=StringIO())
    assert not second_factor.has_app(lead)
    entry = AuditEntry.objects.get(action=AuditAction.SECOND_FACTOR_RESET)
    assert entry.actor is None and entry.subject == lead


def test_the_demo_code_command_prints_the_demo_app_s_code() -> None:
    out = StringIO()
    call_command("demo_code", stdout=out, stderr=StringIO())
    code = out.getvalue().split()[0]
    now = totp(bytes.fromhex(demo_authenticator_key()))
    later = totp(bytes.fromhex(demo_authenticator_key()), drift=1)
    assert int(code) in (now, later)


def test_no_session_is_left_behind_by_signing_out(practitioner: Any) -> None:
    browser = signed_in(practitioner)
    assert SignedInSession.objects.count() == 1
    browser.post(reverse("logout"))
    assert not SignedInSession.objects.exists()
    assert not Session.objects.filter(
        session_key__in=SignedInSession.objects.values("session_key")
    ).exists()


def test_someone_also_of_another_setting_is_not_this_lead_s_to_reset(
    client: Any, lead: Any, practitioner: Any, riverside: Any
) -> None:
    MembershipFactory(user=practitioner, organisation=riverside, role=Role.LEAD)
    TOTPDevice.objects.create(user=practitioner, key=second_factor.new_key(), confirmed=True)
    assert not second_factor.may_reset(lead, practitioner)
    client.force_login(lead)
    client.raise_request_exception = False
    answer = client.post(reverse(STAFF), {"user": practitioner.pk, "confirm": "1"})
    assert answer.status_code == 403
    assert second_factor.has_app(practitioner)
    assert "Reset the second factor of" not in page_text(client.get(reverse(STAFF)))


def test_the_lead_sees_a_pause_and_may_lift_it(client: Any, lead: Any, practitioner: Any) -> None:
    outside = Client()
    for _ in range(5):
        outside.post(reverse("login"), {"username": "priya", "password": "typo"})
    assert (
        outside.post(reverse("login"), {"username": "priya", "password": "pw"}).status_code == 429
    )
    client.force_login(lead)
    assert "Paused after failed attempts" in page_text(client.get(reverse(STAFF)))
    client.post(reverse(STAFF), {"action": "lift_pause", "user": practitioner.pk})
    assert "Paused" not in page_text(client.get(reverse(STAFF)))
    assert (
        outside.post(reverse("login"), {"username": "priya", "password": "pw"}).status_code == 302
    )
    entry = AuditEntry.objects.get(action=AuditAction.PAUSE_LIFTED)
    assert (entry.actor, entry.subject) == (lead, practitioner)


def test_only_a_lead_of_theirs_lifts_a_pause(
    client: Any, other_lead: Any, practitioner: Any
) -> None:
    client.force_login(other_lead)
    answer = client.post(reverse(STAFF), {"action": "lift_pause", "user": practitioner.pk})
    assert answer.status_code == 404
