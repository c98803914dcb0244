"""A Django project that is not Safeshare's own, with Safeshare added to it as a plugin.

Nothing here comes from ``config``: this is what a host project writes to add the apps,
following the README's "Adding Safeshare to your Django project". The core tests run
against it too (``make test``), so the apps cannot come to depend on ``config``.
"""

import os

import dj_database_url

SECRET_KEY = "host-project-tests-only"
DEBUG = True
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # What Safeshare needs beside itself.
    "django_filters",
    "guardian",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    # Safeshare's apps, before viewflow so that their templates take precedence.
    "cases",
    "permissions",
    "workflows",
    "viewflow",
    "viewflow.workflow",
    "tests.host_project",
]

MIDDLEWARE = [
    "workflows.unavailable.DatabaseUnavailableMiddleware",
    # A malformed request (unknown Host, a body not in UTF-8) is a plain 400, never 500.
    "workflows.bad_input.BadInputMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "viewflow.middleware.SiteMiddleware",
    "viewflow.middleware.HotwireTurboMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tests.host_project.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "permissions.context_processors.access",
                "workflows.context_processors.notifications",
            ],
        },
    },
]

DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL", "sqlite://:memory:"))}
if os.environ.get("TEST_DATABASE_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["TEST_DATABASE_NAME"]}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None
GUARDIAN_LEGACY_GLOBAL_PERMS_GROUP_UNION = False

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
USE_TZ = True
TIME_ZONE = "Europe/London"
LANGUAGE_CODE = "en-gb"
STATIC_URL = "static/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

VIEWFLOW = {"AUTOREGISTER": False}
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = "memory://"

# The host's own choices for Safeshare's settings (defaults in cases/app_settings.py).
SAFESHARE_SITE_TITLE = "Northshire Schools Safeguarding"
SAFESHARE_SITE_URL = "https://schools.northshire.example"

# The core tests run here sign people in with force_login (no second factor) and move the
# clock by days: the same allowances as tests/settings.py.
SAFESHARE_MFA_REQUIRED_ROLES: tuple[str, ...] = ()
SAFESHARE_SESSION_IDLE_MINUTES = 10 * 365 * 24 * 60
SAFESHARE_SESSION_MAX_HOURS = 10 * 365 * 24
SESSION_COOKIE_AGE = SAFESHARE_SESSION_MAX_HOURS * 3600
