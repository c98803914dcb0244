"""The lead's Staff page and Setting details page: inviting someone (and the email's one-time
link), a mail server that is down, changing a role, ending a membership, the setting's own
details, and who may open these pages at all."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import reverse

from cases.choices import Role
from cases.models import Case, Membership, Organisation
from permissions.models import AuditAction, AuditEntry

from .http_helpers import (
    error_text,
    form_action,
    form_data,
    page_forms,
    page_text,
    password_works,
    texts_of_class,
    url,
)

pytestmark = pytest.mark.django_db


class FailingEmailBackend(BaseEmailBackend):
    """A mail server that is down: every send raises, as SMTP does when refused."""

    def send_messages(self, email_messages: Any) -> int:
        raise ConnectionRefusedError("the mail server is down")


FAILING_BACKEND = f"{__name__}.FailingEmailBackend"


def staff_url(organisation: Organisation | None = None) -> str:
    return url("setting_staff") + (f"?setting={organisation.pk}" if organisation else "")


def member_url(membership: Membership) -> str:
    return url("setting_staff_member", membership.pk)


def membership_of(user: Any, organisation: Organisation) -> Membership:
    return Membership.objects.get(user=user, organisation=organisation, ended_at__isnull=True)


def invite(client: Any, capture: Any, **typed: str) -> Any:
    page = client.get(url("setting_staff"))
    fields = {
        "email": "jo.baker@oakfield.example",
        "first_name": "Jo",
        "last_name": "Baker",
        "role": Role.PRACTITIONER,
        **typed,
    }
    # Anything queued for after the commit runs as it would outside the test's transaction.
    with capture(execute=True):
        return client.post(url("setting_staff"), form_data(page, **fields))


def link_in(message: Any) -> str:
    found = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", message.body)
    assert found, message.body
    return found.group(1)


@pytest.fixture
def as_lead(client: Any, lead: Any) -> Any:
    client.force_login(lead)
    return client


# --- Inviting ----------------------------------------------------------------------------------


def test_an_invitation_emails_a_link_that_works_once(
    as_lead: Any, oakfield: Organisation, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.PASSWORD_RESET_TIMEOUT = 3 * 24 * 3600
    response = invite(as_lead, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    jo = get_user_model().objects.get(username="jo.baker@oakfield.example")
    assert not jo.has_usable_password()
    assert membership_of(jo, oakfield).role == Role.PRACTITIONER
    assert AuditEntry.objects.filter(action=AuditAction.STAFF_INVITED, subject=jo).exists()

    [message] = mail.outbox
    assert message.to == ["jo.baker@oakfield.example"]
    assert "Oakfield" in message.subject
    assert "expires in 3 days" in message.body
    listed = as_lead.get(url("setting_staff"))
    assert "Invitation not used yet" in page_text(listed)

    # Jo follows the link and chooses a password; the link then refuses a second use.
    visitor = as_lead.__class__()
    link = link_in(message)
    form = visitor.get(link, follow=True)
    new = "three random words here"
    done = visitor.post(
        form.wsgi_request.path, form_data(form, new_password1=new, new_password2=new)
    )
    assert done["Location"] == reverse("password_reset_complete")
    assert password_works(visitor, "jo.baker@oakfield.example", new)
    visitor.logout()
    assert "This link no longer works" in page_text(visitor.get(link, follow=True))
    assert "Invitation not used yet" not in page_text(as_lead.get(url("setting_staff")))


def test_the_email_says_a_deputy_will_set_up_an_authenticator_app(
    as_lead: Any, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    # The suite signs in with passwords alone; the product's default asks deputies for an app.
    settings.SAFESHARE_MFA_REQUIRED_ROLES = ("lead", "deputy", "manager", "auditor")
    invite(as_lead, django_capture_on_commit_callbacks, role=Role.DEPUTY)
    [message] = mail.outbox
    assert "authenticator app" in message.body


def test_a_mail_server_that_is_down_keeps_the_invitation_and_offers_to_send_it_again(
    as_lead: Any, oakfield: Organisation, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.EMAIL_BACKEND = FAILING_BACKEND
    response = invite(as_lead, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    text = page_text(response)
    assert "could not be sent" in text
    assert "Send the invitation again" in text
    jo = get_user_model().objects.get(username="jo.baker@oakfield.example")
    membership = membership_of(jo, oakfield)

    # Still down: the person's page says so, and nothing is undone.
    again = as_lead.post(member_url(membership), {"action": "resend"})
    assert again.status_code == 200
    assert "could not be sent" in page_text(again)

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    sent = as_lead.post(member_url(membership), {"action": "resend"})
    assert sent.status_code == 302
    [message] = mail.outbox
    assert link_in(message).startswith("/accounts/reset/")
    assert membership_of(jo, oakfield).pk == membership.pk
    # The first invitation and each sending again are in the audit log.
    details = list(
        AuditEntry.objects.filter(action=AuditAction.STAFF_INVITED, subject=jo)
        .order_by("sequence")
        .values_list("detail", flat=True)
    )
    assert len(details) == 3 and details[1:] == ["Jo Baker: a new invitation link"] * 2


def test_no_invitation_is_sent_again_to_someone_who_chose_a_password(
    as_lead: Any, practitioner: Any, oakfield: Organisation
) -> None:
    assert practitioner.has_usable_password()
    response = as_lead.post(member_url(membership_of(practitioner, oakfield)), {"action": "resend"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_someone_already_working_here_is_refused_beside_the_email(
    as_lead: Any, practitioner: Any, django_capture_on_commit_callbacks: Any
) -> None:
    practitioner.email = "priya@oakfield.example"
    practitioner.username = "priya@oakfield.example"
    practitioner.save()
    response = invite(
        as_lead, django_capture_on_commit_callbacks, email="Priya@oakfield.example", first_name="P"
    )
    assert response.status_code == 400
    assert "already works here" in error_text(response, "id_email")
    # Nothing typed is lost.
    assert form_data(response)["first_name"] == "P"
    assert mail.outbox == []


def test_someone_invited_again_to_their_only_setting_is_told_to_sign_in_again(
    as_lead: Any, practitioner: Any, oakfield: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    practitioner.email = "priya@oakfield.example"
    practitioner.save()
    membership = membership_of(practitioner, oakfield)
    assert (
        as_lead.post(member_url(membership), {"action": "end", "confirm": "1"}).status_code == 302
    )

    response = invite(
        as_lead, django_capture_on_commit_callbacks, email="priya@oakfield.example", first_name="P"
    )
    assert response.status_code == 302
    [message] = mail.outbox
    assert "you can sign in again with your password" in message.body
    # Oakfield is the only setting they have: there is no other one to find it beside.
    assert "other setting" not in message.body
    assert "/accounts/reset/" not in message.body


def test_someone_working_in_another_setting_too_finds_this_one_beside_it(
    as_lead: Any,
    other_lead: Any,
    riverside: Organisation,
    django_capture_on_commit_callbacks: Any,
) -> None:
    assert membership_of(other_lead, riverside)
    other_lead.email = "rory@riverside.example"
    other_lead.save()
    invite(as_lead, django_capture_on_commit_callbacks, email="rory@riverside.example")
    [message] = mail.outbox
    assert "there beside your other setting" in message.body


def test_a_refused_invitation_is_said_at_the_top_of_the_page(
    as_lead: Any, django_capture_on_commit_callbacks: Any
) -> None:
    response = invite(as_lead, django_capture_on_commit_callbacks, email="not an email")
    assert response.status_code == 400
    page = response.content.decode()
    [summary] = texts_of_class(response, "ss-error-summary")
    assert "The invitation was not sent" in summary
    assert "Work email address: Give their work email address" in summary
    # Above the staff table, where the reloaded page opens, and leading to the field itself.
    assert page.index("ss-error-summary") < page.index('<table class="ss-table"')
    assert re.search(r'class="ss-error-summary" role="alert"', page)
    assert 'href="#id_email"' in page and 'id="invite-form"' in page
    assert mail.outbox == []


def test_inviting_again_someone_whose_invitation_is_unused_points_to_sending_it_again(
    as_lead: Any, django_capture_on_commit_callbacks: Any
) -> None:
    invite(as_lead, django_capture_on_commit_callbacks)
    again = invite(as_lead, django_capture_on_commit_callbacks)
    assert again.status_code == 400
    said = error_text(again, "id_email")
    assert "has not chosen a password yet" in said
    assert "Send the invitation again" in said
    assert "change their role" not in said
    # The row it points to offers exactly that.
    assert "Send the invitation again to Jo Baker" in again.content.decode()
    assert len(mail.outbox) == 1


def test_each_missing_detail_is_shown_beside_its_field(
    as_lead: Any, django_capture_on_commit_callbacks: Any
) -> None:
    response = invite(
        as_lead, django_capture_on_commit_callbacks, email="not an email", first_name="", role=""
    )
    assert response.status_code == 400
    assert "work email address" in error_text(response, "id_email")
    assert "first name" in error_text(response, "id_first_name")
    assert "role" in error_text(response, "id_role")
    assert form_data(response)["email"] == "not an email"
    assert form_data(response)["last_name"] == "Baker"


# --- Changing a role, ending a membership --------------------------------------------------------


def test_the_lead_changes_a_role(as_lead: Any, practitioner: Any, oakfield: Organisation) -> None:
    membership = membership_of(practitioner, oakfield)
    response = as_lead.post(member_url(membership), {"action": "role", "role": Role.DEPUTY})
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.DEPUTY
    entry = AuditEntry.objects.get(action=AuditAction.ROLE_CHANGED, subject=practitioner)
    assert "Practitioner → Deputy Safeguarding Lead" in entry.detail


def test_ending_a_membership_asks_first_then_closes_every_door(
    as_lead: Any, client: Any, practitioner: Any, oakfield: Organisation, case: Case
) -> None:
    membership = membership_of(practitioner, oakfield)
    asked = as_lead.post(member_url(membership), {"action": "end"})
    assert asked.status_code == 200
    assert "will no longer work at Oakfield" in page_text(asked)
    membership.refresh_from_db()
    assert membership.ended_at is None

    ended = as_lead.post(member_url(membership), {"action": "end", "confirm": "1"})
    assert ended.status_code == 302
    membership.refresh_from_db()
    assert membership.ended_at is not None
    assert "No longer working here" in page_text(as_lead.get(url("setting_staff")))

    client.force_login(practitioner)
    assert client.get(url("case_detail", case.pk)).status_code == 404


def test_ending_a_membership_from_the_staff_list_ends_it_after_the_confirmation(
    as_lead: Any, practitioner: Any, oakfield: Organisation
) -> None:
    membership = membership_of(practitioner, oakfield)
    listed = as_lead.get(staff_url(oakfield))
    [end] = [
        form
        for form in page_forms(listed)
        if form.fields.get("action") == "end" and form.attrs.get("action") == member_url(membership)
    ]
    assert end.buttons == ["End membership…"]
    # A real navigation, so the confirmation page's address is the membership's own.
    assert end.attrs.get("data-turbo") == "false"
    asked = as_lead.post(end.attrs["action"], end.fields)
    assert asked.status_code == 200
    assert "will no longer work at Oakfield" in page_text(asked)
    membership.refresh_from_db()
    assert membership.ended_at is None

    # The browser follows the form's action; a form with none would post to whatever address
    # the browser shows, which is the staff list when Turbo showed the page in its place.
    action = form_action(asked)
    assert action, "the confirmation must post to the membership, whatever address is shown"
    target = urlsplit(urljoin("http://testserver" + staff_url(oakfield), action))
    confirmed = as_lead.post(
        target.path + (f"?{target.query}" if target.query else ""), form_data(asked)
    )
    assert confirmed.status_code == 302
    membership.refresh_from_db()
    assert membership.ended_at is not None
    assert "no longer works at Oakfield" in page_text(as_lead.get(confirmed["Location"]))


def test_the_only_lead_can_be_neither_demoted_nor_ended(
    as_lead: Any, lead: Any, oakfield: Organisation
) -> None:
    membership = membership_of(lead, oakfield)
    page = as_lead.get(member_url(membership))
    demoted = as_lead.post(member_url(membership), form_data(page, role=Role.DEPUTY))
    assert demoted.status_code == 400
    assert "only lead" in error_text(demoted, "id_role")
    # What was chosen stays chosen.
    assert form_data(demoted)["role"] == Role.DEPUTY

    ended = as_lead.post(member_url(membership), {"action": "end", "confirm": "1"})
    assert ended.status_code == 400
    assert "only lead" in page_text(ended)
    membership.refresh_from_db()
    assert (membership.role, membership.ended_at) == (Role.LEAD, None)


# --- The setting's details -----------------------------------------------------------------------


def test_a_change_of_details_is_audited_old_to_new(as_lead: Any, oakfield: Organisation) -> None:
    page = as_lead.get(url("setting_details"))
    assert 'type="time" name="working_day_starts" value="08:00"' in page.content.decode()
    response = as_lead.post(
        url("setting_details"), form_data(page, working_day_starts="07:30", name="Oakfield Nursery")
    )
    assert response.status_code == 302
    oakfield.refresh_from_db()
    assert oakfield.name == "Oakfield Nursery"
    entry = AuditEntry.objects.get(action=AuditAction.SETTING_CHANGED)
    assert "working day starts: 08:00 → 07:30" in entry.detail
    assert "name: Oakfield → Oakfield Nursery" in entry.detail


def test_an_unknown_zone_and_a_day_ending_before_it_starts_are_shown_beside_their_fields(
    as_lead: Any, oakfield: Organisation
) -> None:
    page = as_lead.get(url("setting_details"))
    response = as_lead.post(
        url("setting_details"),
        form_data(
            page, timezone="Mars/Olympus", working_day_starts="17:00", working_day_ends="09:00"
        ),
    )
    assert response.status_code == 400
    assert "Europe/London" in error_text(response, "id_timezone")
    assert "end after it starts" in error_text(response, "id_working_day_ends")
    assert form_data(response)["timezone"] == "Mars/Olympus"
    oakfield.refresh_from_db()
    assert oakfield.timezone == "Europe/London"
    assert not AuditEntry.objects.filter(action=AuditAction.SETTING_CHANGED).exists()


@pytest.mark.parametrize("zone", ["Europe", "", "../../etc/passwd", "Europe/London\x00"])
def test_a_zone_that_is_no_zone_is_refused_beside_the_field(
    as_lead: Any, oakfield: Organisation, zone: str
) -> None:
    page = as_lead.get(url("setting_details"))
    response = as_lead.post(url("setting_details"), form_data(page, timezone=zone))
    assert response.status_code == 400
    assert error_text(response, "id_timezone")
    oakfield.refresh_from_db()
    assert oakfield.timezone == "Europe/London"


def test_a_lead_of_two_settings_chooses_which(
    client: Any, lead: Any, oakfield: Organisation, riverside: Organisation
) -> None:
    Membership.objects.create(user=lead, organisation=riverside, role=Role.LEAD)
    client.force_login(lead)
    first = client.get(url("setting_details"))
    assert "Details of Oakfield" in page_text(first)
    assert "You lead 2 settings" in page_text(first)
    chosen = client.get(url("setting_details") + f"?setting={riverside.pk}")
    assert "Details of Riverside" in page_text(chosen)
    assert client.get(url("setting_staff") + "?setting=nonsense").status_code == 404


# --- Who may open these pages -------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["deputy", "practitioner", "manager", "auditor"])
def test_only_the_lead_opens_these_pages(client: Any, request: Any, persona: str) -> None:
    client.force_login(request.getfixturevalue(persona))
    assert client.get(url("setting_staff")).status_code == 403
    assert client.get(url("setting_details")).status_code == 403
    assert client.post(url("setting_details"), {"name": "Taken over"}).status_code == 403


def test_another_settings_membership_is_not_found(
    client: Any, other_lead: Any, practitioner: Any, oakfield: Organisation, riverside: Organisation
) -> None:
    client.force_login(other_lead)
    membership = membership_of(practitioner, oakfield)
    assert client.get(member_url(membership)).status_code == 404
    ended = client.post(member_url(membership), {"action": "end", "confirm": "1"})
    assert ended.status_code == 404
    assert client.get(staff_url(oakfield)).status_code == 404
    # A number no membership could have is not found either, never an error page.
    assert client.get(url("setting_staff") + "99999999999999999999999/").status_code == 404
    membership.refresh_from_db()
    assert membership.ended_at is None
