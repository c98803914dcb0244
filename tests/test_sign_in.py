"""Signing in with a password and, for whoever needs one, a second factor; the lockout after
failed attempts; and every step of it in the audit chain.

The requirement is as deployed here (leads, deputies, managers and auditors), not the
suite's default of none (tests/settings.py).
"""

from __future__ import annotations

import re
from base64 import b32decode
from typing import Any

import pytest
import time_machine
from axes.models import AccessAttempt
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from cases.app_settings import DEFAULTS
from permissions.accounts import second_factor
from permissions.audit_chain import verify
from permissions.models import SIGN_IN_ACTIONS, AuditAction, AuditEntry

from .http_helpers import error_text, form_data, page_text
from .test_signed_out import safeshare_paths

pytestmark = pytest.mark.django_db

PASSWORD = "pw"  # tests.factories.UserFactory's


@pytest.fixture(autouse=True)
def as_deployed(settings: Any) -> None:
    settings.SAFESHARE_MFA_REQUIRED_ROLES = DEFAULTS["SAFESHARE_MFA_REQUIRED_ROLES"]
    settings.AXES_FAILURE_LIMIT = 5


def code_now(key: str, steps_ahead: int = 0) -> str:
    return f"{totp(bytes.fromhex(key), drift=steps_ahead):06d}"


def with_app(user: Any) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, key=second_factor.new_key(), confirmed=True)


def password_step(client: Any, username: str, password: str = PASSWORD, **extra: Any) -> Any:
    page = client.get(reverse("login"))
    return client.post(
        reverse("login"), form_data(page, username=username, password=password), **extra
    )


def code_step(client: Any, code: str) -> Any:
    page = client.get(reverse("sign_in_code"))
    return client.post(reverse("sign_in_code"), form_data(page, code=code))


def signed_in(client: Any) -> bool:
    return client.get(reverse("safeguarding:index")).status_code == 200


def actions_for(user: Any) -> list[str]:
    return list(
        AuditEntry.objects.filter(subject=user, action__in=SIGN_IN_ACTIONS).values_list(
            "action", flat=True
        )
    )


# --- who needs a second factor -------------------------------------------------------


def test_a_practitioner_signs_in_with_a_password_alone(client: Any, practitioner: Any) -> None:
    response = password_step(client, "priya")
    assert response["Location"] == "/"
    assert signed_in(client)
    [entry] = AuditEntry.objects.filter(action=AuditAction.SIGNED_IN)
    assert (entry.actor, entry.subject, entry.detail) == (
        practitioner,
        practitioner,
        "password (from 127.0.0.1)",
    )


@pytest.mark.parametrize("length", [151, 256, 5000])
def test_a_username_longer_than_any_is_refused_beside_its_field_not_a_500(
    client: Any, practitioner: Any, length: int
) -> None:
    """The lockout records the username typed; one longer than its column is refused first."""
    client.raise_request_exception = True
    response = client.post(reverse("login"), {"username": "a" * length, "password": " "})
    assert response.status_code == 200
    assert "A username has 150 characters at most." in response.content.decode()
    assert not AccessAttempt.objects.exists()
    assert not signed_in(client)


@pytest.mark.parametrize("role", ["lead", "deputy", "manager", "auditor"])
def test_these_roles_must_set_up_an_app_and_reach_nothing_before(
    client: Any, request: Any, role: str
) -> None:
    person = request.getfixturevalue(role)
    response = password_step(client, person.username)
    assert response["Location"] == reverse("sign_in_set_up")
    # Only a pending sign-in: no Safeshare page answers, by any address.
    answers = {path: client.get(path) for path in safeshare_paths()}
    reached = {
        path: answer.status_code
        for path, answer in answers.items()
        if answer.status_code != 302 or not answer["Location"].startswith(reverse("login"))
    }
    assert reached == {}
    assert client.get(reverse("safeguarding:case_list"))["Location"].startswith(reverse("login"))
    assert not AuditEntry.objects.filter(action=AuditAction.SIGNED_IN).exists()


def test_a_setting_may_require_it_of_everyone(
    client: Any, practitioner: Any, oakfield: Any
) -> None:
    oakfield.second_factor_for_everyone = True
    oakfield.save()
    assert password_step(client, "priya")["Location"] == reverse("sign_in_set_up")


def test_no_role_needs_one_when_the_setting_is_empty(client: Any, settings: Any, lead: Any) -> None:
    settings.SAFESHARE_MFA_REQUIRED_ROLES = ()
    assert password_step(client, "grace")["Location"] == "/"


def test_someone_who_chose_an_app_is_always_asked_for_its_code(
    client: Any, practitioner: Any
) -> None:
    with_app(practitioner)
    assert password_step(client, "priya")["Location"] == reverse("sign_in_code")


# --- setting up the app --------------------------------------------------------------


def test_setting_up_the_app_from_its_page_signs_in_and_shows_recovery_codes(
    client: Any, lead: Any
) -> None:
    password_step(client, "grace")
    page = client.get(reverse("sign_in_set_up"))
    assert page.status_code == 200
    text = page_text(page)
    assert "<svg" in page.content.decode()  # the QR code, drawn inline
    secret = re.search(r"type: ([A-Z2-7 ]+) \(time-based\)", text)
    assert secret, text
    key = b32decode(secret.group(1).replace(" ", "")).hex()

    wrong = client.post(reverse("sign_in_set_up"), form_data(page, code="000000"))
    assert "does not match" in error_text(wrong, "id_code")
    assert not TOTPDevice.objects.filter(user=lead).exists()

    done = client.post(reverse("sign_in_set_up"), form_data(page, code=code_now(key)))
    codes = re.findall(r"<code>([a-z2-7]{4}) ([a-z2-7]{4})</code>", done.content.decode())
    assert len(codes) == 10
    assert signed_in(client)
    assert second_factor.recovery_codes_left(lead) == 10
    assert actions_for(lead) == [AuditAction.SECOND_FACTOR_SET_UP, AuditAction.SIGNED_IN]
    # The secret and codes are in no audit entry.
    details = " ".join(AuditEntry.objects.values_list("detail", flat=True))
    assert key not in details and codes[0][0] not in details


def test_the_pending_sign_in_runs_out(client: Any, lead: Any) -> None:
    password_step(client, "grace")
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=11)):
        response = client.get(reverse("sign_in_set_up"))
    assert response["Location"] == reverse("login")


# --- the code ------------------------------------------------------------------------


def test_the_right_code_signs_in(client: Any, lead: Any) -> None:
    device = with_app(lead)
    password_step(client, "grace")
    assert not signed_in(client)
    response = code_step(client, code_now(device.key))
    assert response["Location"] == "/"
    assert signed_in(client)
    assert AuditEntry.objects.get(action=AuditAction.SIGNED_IN).detail.startswith(
        "password and app"
    )


def test_the_same_code_does_not_work_twice(client: Any, lead: Any, django_user_model: Any) -> None:
    device = with_app(lead)
    code = code_now(device.key)
    password_step(client, "grace")
    code_step(client, code)
    client.logout()
    password_step(client, "grace")
    again = code_step(client, code)
    assert "not right" in error_text(again, "id_code")


def test_a_wrong_code_is_refused_recorded_and_counted(client: Any, lead: Any) -> None:
    device = with_app(lead)
    password_step(client, "grace")
    response = code_step(client, "123456" if code_now(device.key) != "123456" else "654321")
    assert response.status_code == 200
    assert "not right" in error_text(response, "id_code")
    assert not signed_in(client)
    failed = AuditEntry.objects.get(action=AuditAction.SIGN_IN_FAILED)
    assert failed.detail == "wrong code (from 127.0.0.1)"
    assert AccessAttempt.objects.get(username="grace").failures_since_start == 1


def test_a_recovery_code_works_once(client: Any, lead: Any) -> None:
    with_app(lead)
    [code, *_] = second_factor.new_recovery_codes(lead)
    password_step(client, "grace")
    assert code_step(client, f"{code[:4]} {code[4:].upper()}")["Location"] == "/"
    assert AuditEntry.objects.get(action=AuditAction.SIGNED_IN).detail.startswith(
        "password and recovery code"
    )
    client.logout()
    password_step(client, "grace")
    assert "not right" in error_text(code_step(client, code), "id_code")
    assert second_factor.recovery_codes_left(lead) == 9


# --- lockout -------------------------------------------------------------------------


def test_twenty_wrong_passwords_then_the_right_one_is_refused(client: Any, lead: Any) -> None:
    for _ in range(20):
        password_step(client, "grace", "wrong password")
    response = password_step(client, "grace")
    assert response.status_code == 429
    assert re.search(r"paused until \d\d:\d\d", page_text(response))
    assert client.session.get("safeshare.pending_sign_in") is None
    assert not signed_in(client)
    actions = actions_for(lead)
    # Five wrong passwords, then the refusals while paused, recorded once (a script
    # knocking at a paused door does not flood the log).
    assert actions.count(AuditAction.SIGN_IN_FAILED) == 6
    assert actions.count(AuditAction.LOCKED_OUT) == 1
    # After the cooling-off period the right password works again.
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=16)):
        assert password_step(client, "grace")["Location"] == reverse("sign_in_set_up")


def test_the_right_code_after_four_wrong_ones_still_signs_in(client: Any, lead: Any) -> None:
    device = with_app(lead)
    password_step(client, "grace")
    right = code_now(device.key)
    for _ in range(4):
        code_step(client, "000000" if right != "000000" else "111111")
    assert code_step(client, right)["Location"] == "/"
    assert signed_in(client)
    assert not AccessAttempt.objects.filter(username="grace").exists()


def test_wrong_codes_count_towards_the_lockout(client: Any, lead: Any) -> None:
    device = with_app(lead)
    password_step(client, "grace")
    right = code_now(device.key)
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(4):
        code_step(client, wrong)
    paused = code_step(client, wrong)
    assert paused.status_code == 429
    assert "paused" in page_text(paused)
    # The pending sign-in is gone: the code page now asks for the password again.
    assert client.get(reverse("sign_in_code"))["Location"] == reverse("login")


def test_one_address_trying_many_usernames_is_paused(
    client: Any, practitioner: Any, colleague: Any
) -> None:
    # A school's staff share one address: a few typos between them pause nobody else.
    for n in range(49):
        password_step(client, f"nobody{n}", "guess")
    assert password_step(client, "colin")["Location"] == "/"
    client.logout()
    password_step(client, "nobody49", "guess")
    response = password_step(client, "priya")
    assert response.status_code == 429
    # From another address, priya's own attempts are not paused.
    other = password_step(client, "priya", REMOTE_ADDR="198.51.100.7")
    assert other["Location"] == "/"


def test_one_username_tried_from_many_addresses_is_paused(client: Any, practitioner: Any) -> None:
    for n in range(5):
        password_step(client, "priya", "guess", REMOTE_ADDR=f"198.51.100.{n}")
    assert password_step(client, "priya", REMOTE_ADDR="203.0.113.9").status_code == 429


def test_behind_a_proxy_the_address_is_the_one_the_proxy_saw(
    client: Any, settings: Any, practitioner: Any
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    settings.SAFESHARE_SIGN_IN_ADDRESS_FAILURE_LIMIT = 5
    for n in range(5):
        # A client can put anything in X-Forwarded-For; only the proxy's own entry counts.
        password_step(
            client, f"nobody{n}", "guess", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}, 198.51.100.20"
        )
    paused = password_step(client, "priya", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.20")
    assert paused.status_code == 429
    other = password_step(client, "priya", HTTP_X_FORWARDED_FOR="198.51.100.21")
    assert other["Location"] == "/"


def test_an_unknown_username_is_recorded_without_what_was_typed(client: Any, oakfield: Any) -> None:
    password_step(client, "my-password-typed-in-the-wrong-box", "x")
    [entry] = AuditEntry.objects.filter(action=AuditAction.SIGN_IN_FAILED)
    assert entry.organisation is None and entry.subject is None
    assert "wrong-box" not in entry.detail
    assert verify().intact


# --- another sign-in page (a host project's) ------------------------------------------


def test_a_session_made_elsewhere_still_needs_the_second_factor(client: Any, lead: Any) -> None:
    with_app(lead)
    client.force_login(lead)
    response = client.get(reverse("safeguarding:case_list"))
    assert response["Location"].startswith(reverse("login"))
    assert not signed_in(client)


def test_a_session_made_elsewhere_for_a_practitioner_is_kept(
    client: Any, practitioner: Any
) -> None:
    client.force_login(practitioner)
    assert signed_in(client)


# --- signing out, and the lead's view ------------------------------------------------


def test_signing_out_is_recorded(client: Any, practitioner: Any) -> None:
    password_step(client, "priya")
    client.post(reverse("logout"))
    assert actions_for(practitioner) == [AuditAction.SIGNED_IN, AuditAction.SIGNED_OUT]
    assert not signed_in(client)


def test_leads_see_their_staffs_sign_ins_in_the_audit_log(
    client: Any, settings: Any, lead: Any, practitioner: Any, other_lead: Any
) -> None:
    password_step(client, "priya")
    client.post(reverse("logout"))
    password_step(client, "olu", "wrong")
    settings.SAFESHARE_MFA_REQUIRED_ROLES = ()  # the lead's own sign-in is not under test
    client.force_login(lead)
    log = page_text(client.get(reverse("safeguarding:audit_log") + "?kind=sign_in"))
    assert "Signed in" in log and "Signed out" in log
    # Riverside's failed sign-in is Riverside's lead's to see, not Oakfield's.
    assert "Sign-in failed" not in log


# --- what the review of the sign-in pages found ---------------------------------------


def test_a_password_alone_never_replaces_an_existing_app(client: Any, lead: Any) -> None:
    device = with_app(lead)
    password_step(client, "grace")
    assert client.get(reverse("sign_in_set_up"))["Location"] == reverse("sign_in_code")
    assert client.post(reverse("sign_in_set_up"), {"code": "123456"})["Location"] == reverse(
        "sign_in_code"
    )
    assert TOTPDevice.objects.get(user=lead) == device
    assert not signed_in(client)


def test_going_back_to_sign_in_ends_a_half_done_sign_in(
    client: Any, lead: Any, deputy: Any
) -> None:
    password_step(client, "grace")
    grace_secret = client.get(reverse("sign_in_set_up")).context["secret"]
    # The next person at the computer: "Sign in as someone else".
    client.get(reverse("login"))
    assert client.get(reverse("sign_in_set_up"))["Location"] == reverse("login")
    password_step(client, "dan")
    assert client.get(reverse("sign_in_set_up")).context["secret"] != grace_secret


def test_the_password_step_gives_the_session_a_new_key(client: Any, lead: Any) -> None:
    client.get(reverse("login"))
    planted = client.session.session_key
    password_step(client, "grace")
    assert client.session.session_key != planted


def test_a_new_password_ends_a_half_done_sign_in(client: Any, lead: Any) -> None:
    password_step(client, "grace")
    lead.set_password("a whole new password")
    lead.save()
    assert client.get(reverse("sign_in_set_up"))["Location"] == reverse("login")


def test_someone_made_a_lead_is_signed_out_to_set_up_a_second_factor(
    client: Any, practitioner: Any, oakfield: Any
) -> None:
    from cases.choices import Role
    from cases.services import membership_change_role

    password_step(client, "priya")
    assert signed_in(client)
    membership_change_role(membership=practitioner.memberships.get(), role=Role.LEAD, by=None)
    assert client.get(reverse("safeguarding:index"))["Location"].startswith(reverse("login"))
    assert password_step(client, "priya")["Location"] == reverse("sign_in_set_up")


def test_a_setting_requiring_it_of_everyone_signs_out_those_without_one(
    client: Any, lead: Any, practitioner: Any, oakfield: Any
) -> None:
    password_step(client, "priya")
    second_factor.require_for_everyone(oakfield, everyone=True, by=lead)
    assert not signed_in(client)


def test_a_session_made_elsewhere_is_recorded_for_signing_out_everywhere(
    client: Any, practitioner: Any, lead: Any
) -> None:
    client.force_login(practitioner)
    assert signed_in(client)
    membership_holder = practitioner.memberships.get()
    from cases.choices import Role
    from cases.services import membership_change_role

    membership_change_role(membership=membership_holder, role=Role.DEPUTY, by=None)
    assert not signed_in(client)


def test_an_address_with_a_port_from_the_proxy_is_read(
    client: Any, settings: Any, practitioner: Any
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    response = password_step(client, "priya", HTTP_X_FORWARDED_FOR="203.0.113.5:4431")
    assert response["Location"] == "/"
    entry = AuditEntry.objects.get(action=AuditAction.SIGNED_IN)
    assert entry.detail == "password (from 203.0.113.5)"
    client.logout()
    nonsense = password_step(client, "priya", HTTP_X_FORWARDED_FOR="not an address")
    assert nonsense["Location"] == "/"


def test_changing_the_app_when_signed_in_needs_the_current_code(
    client: Any, practitioner: Any
) -> None:
    device = with_app(practitioner)
    password_step(client, "priya")
    code_step(client, code_now(device.key))
    change = reverse("safeguarding:authenticator_change")
    page = client.get(change)
    key = client.session["safeshare.second_factor_key"]["key"]
    refused = client.post(change, form_data(page, current="000000", code=code_now(key)))
    assert "That is not right." in error_text(refused, "id_current")
    assert TOTPDevice.objects.get(user=practitioner) == device
    assert AccessAttempt.objects.get(username="priya").failures_since_start == 1


def test_guessing_the_password_on_the_change_page_pauses_and_signs_out(
    client: Any, practitioner: Any
) -> None:
    password_step(client, "priya")
    change = reverse("safeguarding:password_change")
    for _ in range(5):
        answer = client.post(
            change, {"old_password": "guess", "new_password1": "x" * 14, "new_password2": "x" * 14}
        )
    assert answer.status_code == 429
    assert "paused" in page_text(answer)
    assert not signed_in(client)
    assert password_step(client, "priya").status_code == 429


# --- what trying it as a lead and a key worker found -----------------------------------


def test_signing_in_again_shows_the_same_qr_code(client: Any, lead: Any) -> None:
    password_step(client, "grace")
    first = client.get(reverse("sign_in_set_up")).context["secret"]
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=11)):
        assert client.get(reverse("sign_in_set_up"))["Location"] == reverse("login")
        password_step(client, "grace")
        assert client.get(reverse("sign_in_set_up")).context["secret"] == first


def test_someone_signed_in_going_back_is_sent_home(client: Any, practitioner: Any) -> None:
    password_step(client, "priya")
    assert client.get(reverse("sign_in_code"))["Location"] == "/"


def test_a_recovery_code_sign_in_says_how_many_are_left(client: Any, lead: Any) -> None:
    with_app(lead)
    [code, *_] = second_factor.new_recovery_codes(lead)
    password_step(client, "grace")
    home = client.post(reverse("sign_in_code"), {"code": code}, follow=True)
    assert "You signed in with a recovery code: 9 left." in page_text(home)


def test_a_new_password_from_the_emailed_link_ends_the_pause(client: Any, lead: Any) -> None:
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    for _ in range(5):
        password_step(client, "grace", "forgotten")
    assert password_step(client, "grace").status_code == 429
    link = reverse(
        "password_reset_confirm",
        args=[
            urlsafe_base64_encode(force_bytes(lead.pk)),
            default_token_generator.make_token(lead),
        ],
    )
    form = client.get(link, follow=True)
    new = "remembered at last, truly"
    client.post(form.wsgi_request.path, form_data(form, new_password1=new, new_password2=new))
    assert password_step(client, "grace", new)["Location"] == reverse("sign_in_set_up")


def test_the_sign_out_address_typed_in_shows_the_button(client: Any, practitioner: Any) -> None:
    password_step(client, "priya")
    page = client.get(reverse("logout"))
    assert page.status_code == 200 and "Sign out of Safeshare?" in page_text(page)
    signed_out = client.post(reverse("logout"), follow=True)
    assert "You are signed out." in page_text(signed_out)


def test_a_page_not_for_the_role_offers_the_way_home(client: Any, practitioner: Any) -> None:
    password_step(client, "priya")
    client.raise_request_exception = False
    refused = client.get(reverse("safeguarding:staff_sign_in"))
    assert refused.status_code == 403
    assert 'href="/safeguarding/"' in refused.content.decode()
