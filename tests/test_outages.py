"""When a service Safeshare uses fails (issue 11, parts 4, 5 and 7), unit by unit.

- Mail is configured from the environment (host, port, user, password or a file holding
  it, STARTTLS or TLS, a timeout).
- No page depends on the cache: with Redis unreachable every page still answers, and the
  cache backend the site uses turns Redis errors into misses.
- A broker that is down when a write commits loses nothing: the outbox row waits.
- With the database down every page is a plain 503 that says to try again, and the site
  recovers by itself when it is back.

The real outages (a Redis and a mail server killed while workers run) are in
tests/test_integration_outages.py.
"""

from __future__ import annotations

import importlib.util
import socket
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.db import InterfaceError, OperationalError, connections
from django.test import Client, RequestFactory
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerDown

from permissions.break_glass import break_glass_take
from workflows.cache import ForgivingRedisCache
from workflows.models import Notification
from workflows.tasks import deliver_notification, deliver_pending_notifications
from workflows.unavailable import DatabaseUnavailableMiddleware

from .http_helpers import url

# -- mail from the environment --------------------------------------------------------------


def settings_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    """config/settings.py as the site would read it with this environment."""
    import os

    for name in list(os.environ):
        if name.startswith("EMAIL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DEBUG", "true")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.find_spec("config.settings")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)  # a fresh copy: the site's stays as it is
    spec.loader.exec_module(module)
    return vars(module)


def test_the_mail_server_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    read = settings_with(
        monkeypatch,
        EMAIL_HOST="smtp.example.org",
        EMAIL_PORT="587",
        EMAIL_HOST_USER="safeshare",
        EMAIL_HOST_PASSWORD="s3cret",
        EMAIL_USE_TLS="true",
        EMAIL_TIMEOUT="20",
    )
    assert read["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (read["EMAIL_HOST"], read["EMAIL_PORT"]) == ("smtp.example.org", 587)
    assert (read["EMAIL_HOST_USER"], read["EMAIL_HOST_PASSWORD"]) == ("safeshare", "s3cret")
    assert (read["EMAIL_USE_TLS"], read["EMAIL_USE_SSL"], read["EMAIL_TIMEOUT"]) == (
        True,
        False,
        20,
    )


def test_the_mail_password_can_come_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    secret = tmp_path / "mail-password"
    secret.write_text("from-a-mounted-secret\n")
    read = settings_with(
        monkeypatch, EMAIL_HOST="smtp.example.org", EMAIL_HOST_PASSWORD_FILE=str(secret)
    )
    assert read["EMAIL_HOST_PASSWORD"] == "from-a-mounted-secret"
    assert read["EMAIL_USE_SSL"] is False and read["EMAIL_PORT"] == 25


def test_without_a_mail_server_emails_are_printed_with_a_timeout_all_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read = settings_with(monkeypatch)
    assert read["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert read["EMAIL_TIMEOUT"] == 30  # a stalled server never holds a worker for ever
    explicit = settings_with(
        monkeypatch, EMAIL_HOST="smtp.example.org", EMAIL_BACKEND="anymail.backends.x"
    )
    assert explicit["EMAIL_BACKEND"] == "anymail.backends.x"


@pytest.mark.parametrize(
    "env",
    [
        {"EMAIL_USE_TLS": "true", "EMAIL_USE_SSL": "true"},
        {"EMAIL_PORT": "five-eight-seven"},
        {"EMAIL_USE_TLS": "maybe"},
    ],
)
def test_mail_settings_that_cannot_work_stop_the_site_at_start(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    with pytest.raises(ImproperlyConfigured):
        settings_with(monkeypatch, EMAIL_HOST="smtp.example.org", **env)


# -- Redis: the cache and the broker --------------------------------------------------------


def a_closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def dead_redis(backend: str) -> dict[str, Any]:
    return {
        "default": {
            "BACKEND": backend,
            "LOCATION": f"redis://127.0.0.1:{a_closed_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


def signed_in(person: Any) -> Client:
    client = Client(raise_request_exception=True)
    client.force_login(person)
    return client


def test_no_page_reads_the_cache(
    settings: Any, practitioner: Any, lead: Any, submitted: Any, case: Any
) -> None:
    """Issue 11: with Redis killed, 273 page views answered 500 (viewflow's menu avatar)."""
    settings.CACHES = dead_redis("django.core.cache.backends.redis.RedisCache")
    pages = {
        practitioner: [
            url("case_list"),
            url("case_detail", case.pk),
            url("share_detail", submitted.pk),
            url("my_shares"),
            url("notifications"),
        ],
        lead: [url("review_queue"), url("lead_review", submitted.pk), url("notifications")],
    }
    for person, paths in pages.items():
        client = signed_in(person)
        for path in paths:
            assert client.get(path).status_code == 200, path


def test_on_redis_the_site_uses_the_cache_that_forgives_redis_being_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    cache = settings_with(monkeypatch)["CACHES"]["default"]
    assert cache["BACKEND"] == "workflows.cache.ForgivingRedisCache"
    assert cache["OPTIONS"]["socket_connect_timeout"] <= 1  # a dead host is not waited on


def test_the_sites_cache_turns_redis_being_down_into_misses() -> None:
    cache = ForgivingRedisCache(
        dead_redis("workflows.cache.ForgivingRedisCache")["default"]["LOCATION"],
        {"OPTIONS": {"socket_connect_timeout": 1}},
    )
    assert cache.get("key", "default") == "default"
    assert cache.get_many(["a", "b"]) == {}
    assert cache.add("lock", 1, 60) is False  # a lock through it is simply not taken
    cache.set("key", 1)
    assert cache.delete("key") is False
    assert cache.has_key("key") is False


def test_a_broker_down_at_commit_loses_nothing_and_fails_nothing(
    colleague: Any,
    lead: Any,
    deputy: Any,
    case: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    for person in (lead, deputy):
        person.email = f"{person.username}@example.org"
        person.save(update_fields=["email"])
    down = BrokerDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    with (
        mock.patch.object(deliver_notification, "apply_async", side_effect=down),
        django_capture_on_commit_callbacks(execute=True),
    ):
        grant = break_glass_take(user=colleague, case=case, reason="Needed now.")
    alerts = Notification.objects.filter(break_glass_grant=grant)
    assert alerts.count() == 2 and mail.outbox == []
    assert not alerts.filter(email_claimed_at__isnull=False).exists()

    # The broker is back: beat's pass delivers each once.
    alerts.update(created_at=timezone.now() - timedelta(minutes=2))
    assert deliver_pending_notifications() == 2
    assert deliver_pending_notifications() == 0
    assert sorted(m.to[0] for m in mail.outbox) == ["dan@example.org", "grace@example.org"]


# -- the database ---------------------------------------------------------------------------


def assert_plain_503(response: Any) -> None:
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    text = response.content.decode()
    assert "try again in a moment" in text.lower()
    for framework in ("Django", "Traceback", "Server Error", "OperationalError", "viewflow"):
        assert framework not in text


def test_with_the_database_down_every_page_is_a_plain_503_and_recovers_by_itself(
    practitioner: Any, lead: Any, case: Any, submitted: Any
) -> None:
    clients = {practitioner: signed_in(practitioner), lead: signed_in(lead)}
    pages = [
        (practitioner, url("case_list")),
        (practitioner, url("share_detail", submitted.pk)),
        (lead, url("review_queue")),
        (lead, url("lead_review", submitted.pk)),
    ]
    for client in clients.values():
        client.raise_request_exception = False  # as a browser gets it
    down = OperationalError('connection to server at "127.0.0.1", port 5432 failed')
    with mock.patch.object(type(connections["default"]), "ensure_connection", side_effect=down):
        for person, path in pages:
            assert_plain_503(clients[person].get(path))
        signing_in = Client(raise_request_exception=False, enforce_csrf_checks=False)
        assert_plain_503(
            signing_in.post("/accounts/login/", {"username": "priya", "password": "x"})
        )
    for person, path in pages:  # back: the same sessions carry on
        assert clients[person].get(path).status_code == 200


@pytest.mark.parametrize("error", [OperationalError("gone"), InterfaceError("closed")])
def test_a_database_error_in_a_view_is_a_503_and_any_other_error_is_not(error: Exception) -> None:
    middleware = DatabaseUnavailableMiddleware(lambda request: None)  # type: ignore[arg-type,return-value]
    request = RequestFactory().get("/")
    response = middleware.process_exception(request, error)
    assert response is not None
    assert_plain_503(response)
    wrapped = RuntimeError("while rendering")
    wrapped.__cause__ = error
    assert middleware.process_exception(request, wrapped) is not None
    assert middleware.process_exception(request, ValueError("a bug")) is None
