"""Production settings from the environment: `check --deploy` passes with the variables the
README documents, and warns without them; every Safeshare page is kept out of caches."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cases.models import Case

from .http_helpers import url

REPO = Path(__file__).resolve().parent.parent

# README, "Running in production": what a setting sets behind its TLS-terminating proxy.
PRODUCTION = {
    "SECRET_KEY": "k7#Qm2!vR9zL0pXw4&Tn8cYb6@Hf1Jd5sGe3uAo-Wq_Zr.Ey+Ui=Pl^Kx*Mv%Nb$",
    "ALLOWED_HOSTS": "safeshare.school.example",
    "SITE_URL": "https://safeshare.school.example",
    "CSRF_TRUSTED_ORIGINS": "https://safeshare.school.example",
    "SECURE_PROXY_SSL_HEADER": "true",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}


def check_deploy(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # Only what production has: none of the test run's own settings or a developer's DEBUG.
    keep = ("PATH", "HOME", "LANG", "PYTHONPATH")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL="sqlite:///unused.sqlite3",
        DEBUG="false",
        **extra,
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_passes_with_the_documented_production_variables() -> None:
    done = check_deploy(PRODUCTION)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_check_deploy_warns_without_them() -> None:
    done = check_deploy({"SECRET_KEY": PRODUCTION["SECRET_KEY"], "ALLOWED_HOSTS": "x.example"})
    assert done.returncode != 0
    for warning in ("security.W004", "security.W008"):  # HSTS, the https redirect
        assert warning in done.stdout + done.stderr


@pytest.mark.django_db
def test_a_case_page_is_kept_out_of_every_cache(client: Any, case: Case, practitioner: Any) -> None:
    client.force_login(practitioner)
    response = client.get(url("case_detail", case.pk))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]
