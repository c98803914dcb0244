"""A forgotten password: a one-time link by email, a strong new password, and nothing that
tells a stranger whether an address has an account."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse

from .http_helpers import error_text, form_data, page_text, password_works

pytestmark = pytest.mark.django_db


@pytest.fixture
def priya(practitioner: Any) -> Any:
    practitioner.email = "priya@oakfield.example"
    practitioner.save(update_fields=["email"])
    return practitioner


def ask_for_link(client: Any, email: str) -> Any:
    page = client.get(reverse("password_reset"))
    return client.post(reverse("password_reset"), form_data(page, email=email))


def link_in(message: Any) -> str:
    found = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", message.body)
    assert found, message.body
    return found.group(1)


def test_the_sign_in_page_offers_it(client: Any) -> None:
    assert "Forgotten your password?" in page_text(client.get(reverse("login")))


def test_a_link_is_emailed_and_works_once(client: Any, priya: Any) -> None:
    response = ask_for_link(client, "priya@oakfield.example")
    assert response["Location"] == reverse("password_reset_done")
    [message] = mail.outbox
    link = link_in(message)

    form = client.get(link, follow=True)
    # Twelve characters at least, and not a common one.
    short = client.post(
        form.wsgi_request.path,
        form_data(form, new_password1="Short1!", new_password2="Short1!"),
    )
    assert "at least 12 characters" in error_text(short, "id_new_password2")
    new = "three random words here"
    done = client.post(
        form.wsgi_request.path, form_data(form, new_password1=new, new_password2=new)
    )
    assert done["Location"] == reverse("password_reset_complete")
    assert password_works(client, "priya", new)

    client.logout()
    again = client.get(link, follow=True)
    assert "This link no longer works" in page_text(again)


def test_an_unknown_address_gets_the_same_answer_and_no_email(client: Any, priya: Any) -> None:
    response = ask_for_link(client, "nobody@nowhere.example")
    assert response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []


def test_a_mail_server_that_is_down_is_no_error_page(
    client: Any, priya: Any, settings: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    response = ask_for_link(client, "priya@oakfield.example")
    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_done")


def test_someone_invited_chooses_their_password_and_a_reset_a_new_one(
    client: Any, priya: Any
) -> None:
    from permissions.accounts.passwords import first_password_link

    from .factories import UserFactory

    invited = UserFactory(username="jo@oakfield.example", email="jo@oakfield.example")
    invited.set_unusable_password()
    invited.save()
    link = re.sub(r"^https?://[^/]+", "", first_password_link(invited))
    first = page_text(client.get(link, follow=True))
    assert "Choose your password" in first
    assert "new password" not in first

    ask_for_link(client, "priya@oakfield.example")
    [message] = mail.outbox
    reset = page_text(client.get(link_in(message), follow=True))
    assert "Choose a new password" in reset
    assert "Choose your password" not in reset
