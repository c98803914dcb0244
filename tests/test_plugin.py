"""Safeshare as a plugin: its apps stand alone, and its settings have one home and one prefix."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django_otp.oath import totp

from cases import app_settings
from workflows.demo import DEMO_PASSWORD, demo_authenticator_key, seed_demo

ROOT = Path(__file__).resolve().parent.parent
APPS = ("cases", "permissions", "workflows")


def _sources(app: str) -> list[Path]:
    return [path for path in (ROOT / app).rglob("*.py") if "migrations" not in path.parts]


@pytest.mark.parametrize("app", APPS)
def test_the_apps_never_import_the_site_project(app):
    # A host project has no `config`: the apps may not reach for it.
    for path in _sources(app):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom | ast.Import):
                names = (
                    [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else [alias.name for alias in node.names]
                )
                assert not any(name.split(".")[0] == "config" for name in names), path


def test_every_safeshare_setting_the_apps_read_has_a_documented_default():
    used = set()
    for app in APPS:
        for path in _sources(app):
            used |= set(re.findall(r"SAFESHARE_[A-Z_]+", path.read_text()))
    assert used <= set(app_settings.DEFAULTS), used - set(app_settings.DEFAULTS)
    readme = (ROOT / "README.md").read_text()
    for name in app_settings.DEFAULTS:
        assert f"`{name}`" in readme, f"{name} is missing from the README's settings table"


def test_a_host_setting_overrides_the_default(settings):
    settings.SAFESHARE_BREAK_GLASS_HOURS = 4
    assert app_settings.get("SAFESHARE_BREAK_GLASS_HOURS") == 4
    del settings.SAFESHARE_BREAK_GLASS_HOURS
    assert app_settings.get("SAFESHARE_BREAK_GLASS_HOURS") == 24


def test_the_pages_live_wherever_the_project_mounts_them(client, db):
    """Under the host project's prefix, or at the root of Safeshare's own site."""
    seed_demo()
    root = "/child-protection/" if settings.ROOT_URLCONF == "tests.host_project.urls" else "/"
    prefix = f"{root}safeguarding/"
    cases = reverse("safeguarding:case_list")
    assert cases == f"{prefix}cases/"
    signed_out = client.get(cases)
    assert signed_out.status_code == 302
    assert signed_out["Location"].startswith(reverse("login"))
    # Signing in through the host's own mounting of Safeshare's sign-in pages: the password,
    # then (where the lead's role needs one, as by default) the demo authenticator's code.
    signing_in = client.post(reverse("login"), {"username": "lead", "password": DEMO_PASSWORD})
    if signing_in["Location"] == reverse("sign_in_code"):
        code = f"{totp(bytes.fromhex(demo_authenticator_key())):06d}"
        signing_in = client.post(reverse("sign_in_code"), {"code": code})
    assert signing_in.status_code == 302
    page = client.get(cases)
    assert page.status_code == 200
    # The menu's links carry the prefix too, and the host's title is shown.
    assert f'href="{prefix}review/"' in page.content.decode()
    assert app_settings.get("SAFESHARE_SITE_TITLE") in page.content.decode()
