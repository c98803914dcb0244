"""Test settings: the site's own, made fast and self-contained."""

import os

os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key")

from config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
LOGGING = {"version": 1, "disable_existing_loggers": False}
# Tests never run collectstatic, so WhiteNoise would warn on every request that the
# collected files are missing; the pages under test need no static files.
MIDDLEWARE = [name for name in MIDDLEWARE if not name.startswith("whitenoise.")]  # noqa: F405
# Lets two runs share one PostgreSQL server without clashing over the test database.
if os.environ.get("TEST_DATABASE_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["TEST_DATABASE_NAME"]}  # noqa: F405
# Most tests sign people in with force_login, which gives no second factor, and seed the
# demo without one. The sign-in tests (tests/test_sign_in*.py, tests/e2e/) set the roles as
# deployed, and the browser tests run the site's own settings.
SAFESHARE_MFA_REQUIRED_ROLES: tuple[str, ...] = ()
# Tests move the clock by hours and days with one signed-in client; sessions outlast that
# here. tests/test_sessions.py sets the deployed limits.
SAFESHARE_SESSION_IDLE_MINUTES = 10 * 365 * 24 * 60
SAFESHARE_SESSION_MAX_HOURS = 10 * 365 * 24
SESSION_COOKIE_AGE = SAFESHARE_SESSION_MAX_HOURS * 3600
