"""Settings for the Safeshare site, read from the environment with safe local defaults."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", default=False)
_DEV_SECRET = "insecure-local-development-key-never-use-in-production"
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Set SECRET_KEY (or SECRET_KEY_FILE), or DEBUG=true for local use."
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_filters",
    "guardian",
    # The second factor at sign-in (an authenticator app's codes; single-use recovery codes)
    # and the lockout after failed sign-ins.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    # Before viewflow, so that our templates (sign-in page, menus) take precedence.
    "cases",
    "permissions",
    "workflows",
    "viewflow",
    "viewflow.workflow",
]

MIDDLEWARE = [
    # First, so that a database that is down is a plain 503 from anywhere on the request path.
    "workflows.unavailable.DatabaseUnavailableMiddleware",
    # A malformed request (unknown Host, a body not in UTF-8) is a plain 400, never 500.
    "workflows.bad_input.BadInputMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The Content-Security-Policy header (CONTENT_SECURITY_POLICY below) on every response.
    "csp.middleware.CSPMiddleware",
    # Serves the collected static files under gunicorn, with no CDN and no other server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # viewflow's Material site: menus and Turbo form responses (AUTOREGISTER is off).
    "viewflow.middleware.SiteMiddleware",
    "viewflow.middleware.HotwireTurboMiddleware",
    # Turns a lockout that some other sign-in page met into Safeshare's lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

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

# Widgets drawn by Django's Jinja2 templates of them (the same HTML): a share's form renders
# dozens of fields and choices, and Jinja2 draws them in a fraction of the time.
FORM_RENDERER = "django.forms.renderers.Jinja2"

WSGI_APPLICATION = "config.wsgi.application"

# SQLite is the embedded default; PostgreSQL when DATABASE_URL is set.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"), conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Two people acting at once: every transaction takes SQLite's write lock when it begins
    # (a deferred one that tries to upgrade later fails at once with "database is locked"),
    # and a writer waits up to 20 s for another to finish instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username or address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# No anonymous guardian user: nobody who has not signed in may hold a permission.
ANONYMOUS_USER_NAME = None
GUARDIAN_LEGACY_GLOBAL_PERMS_GROUP_UNION = False

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# Lockout (django-axes): after SIGN_IN_FAILURE_LIMIT failed attempts, wrong passwords and
# wrong codes alike, on one username (or SIGN_IN_ADDRESS_FAILURE_LIMIT from one address, over
# all usernames: permissions.accounts.lockout), sign-in is refused for
# SIGN_IN_COOL_OFF_MINUTES. The count lives in the database, shared by every web process.
AXES_FAILURE_LIMIT = env_int("SIGN_IN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SIGN_IN_COOL_OFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username"]
SAFESHARE_SIGN_IN_ADDRESS_FAILURE_LIMIT = env_int("SIGN_IN_ADDRESS_FAILURE_LIMIT", 50)
# Axes warns when it does not count by address itself; Safeshare counts addresses with a limit
# of their own (above), so that staff behind one school address are not paused together.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
# Sign-ins are recorded in the audit chain; axes keeps only what it counts with.
AXES_DISABLE_ACCESS_LOG = True
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "code"]
AXES_CLIENT_IP_CALLABLE = "permissions.accounts.lockout.client_ip"
AXES_LOCKOUT_CALLABLE = "permissions.accounts.lockout.lockout_response"
# How many proxies in front of the site append to X-Forwarded-For (1 behind one reverse
# proxy): the address counted is the one the nearest trusted proxy saw.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
# django-otp's own back-off after a wrong code is off: lockout counts wrong codes with the
# passwords, so there is one rule and one message.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
# A code from one step either side of now is accepted (a phone's clock a little out), without
# moving the window for later codes.
OTP_TOTP_SYNC = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    # Child-protection data: 12 characters at least (NCSC's three random words pass).
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# How long an emailed link to choose a new password works (it works once, whatever this).
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3 * 24 * 3600)

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

SESSION_COOKIE_HTTPONLY = True
# Sessions: SAFESHARE_SESSION_IDLE_MINUTES without a request or SAFESHARE_SESSION_MAX_HOURS
# after signing in ends one (permissions.accounts.sessions); closing the browser does too.
SAFESHARE_SESSION_IDLE_MINUTES = env_int("SESSION_IDLE_MINUTES", 30)
SAFESHARE_SESSION_MAX_HOURS = env_int("SESSION_MAX_HOURS", 12)
SESSION_COOKIE_AGE = SAFESHARE_SESSION_MAX_HOURS * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Off only for trying the production processes locally over plain http.
SECURE_COOKIES = env_bool("SECURE_COOKIES", default=not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
X_FRAME_OPTIONS = "DENY"
# Content Security Policy (django-csp): the browser loads and runs only the site's own files.
# Nothing is fetched from another host, no inline script or event handler runs, no inline
# style applies, and no page may be framed, change its base URL or post a form elsewhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        # Anything not named below (frames, media, workers, manifests...) is refused.
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        # Our static stylesheets, and two inline <style> elements, each allowed by the hash
        # of its exact text (so no other inline style applies, and no style attribute):
        "style-src": [
            "'self'",
            # the rules for the progress bar that Turbo (bundled with viewflow) inserts
            # into every page when it starts; they change only with viewflow's Turbo;
            "'sha256-WAyOw4V+FqDc35lQPyRADLBWbuNK8ahvYEaQIYF1+Ps='",
            # the rules inside the share workflow's diagram, an SVG image, for when it is
            # opened on its own (cases/templates/viewflow/workflow/graph.svg).
            "'sha256-8l6wyclht3Ro3xZHuRkiPUzyHTr6gD84v/4OuGrZ3eg='",
        ],
        # tests/test_csp.py checks that both hashes still match those texts.
        "img-src": ["'self'"],
        "font-src": ["'self'"],
        # Turbo fetches pages and submits forms with fetch().
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# Behind a TLS-terminating proxy (the usual production set-up): trust its X-Forwarded-Proto
# header, so Django knows the request was https (a sign-in POST then passes the CSRF
# origin check), and name the address people use in CSRF_TRUSTED_ORIGINS.
if env_bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Off by default so the embedded server works over plain http; production turns them on
# (README, "Running in production"); `manage.py check --deploy` then passes.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)

VIEWFLOW = {"AUTOREGISTER": False}

# A mail server (EMAIL_HOST) means SMTP unless EMAIL_BACKEND says otherwise; without one
# emails are printed to the console (the embedded default).
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_BACKEND = env_str("EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend"
    if env_str("EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")  # or EMAIL_HOST_PASSWORD_FILE
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)  # STARTTLS, usually port 587
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", default=False)  # TLS from the start, usually 465
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("Set EMAIL_USE_TLS or EMAIL_USE_SSL, not both.")
# Seconds each step of talking to the mail server may take, so a stalled server never holds
# a worker for ever. A delivery keeps its claim on the notification alive while it is
# sending (workflows.tasks), however slow the server, so this is not what stops a second send.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "safeshare@localhost")
# Where the file-based EMAIL_BACKEND writes its messages (the integration tests read them).
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH") or None

SAFESHARE_SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")
if env_str("SAFESHARE_NOTIFICATION_CLAIM_SECONDS"):  # else cases.app_settings' default
    SAFESHARE_NOTIFICATION_CLAIM_SECONDS = int(env_str("SAFESHARE_NOTIFICATION_CLAIM_SECONDS"))

REDIS_URL = env_str("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL or "memory://"
# With no broker the tasks run in-process (the embedded default).
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
# How often beat fires due timers (deadlines, escalation), and re-sends what a lost message or
# a killed worker left unsent. A run not started before the next is due is dropped (expires).
TIMER_SWEEP_SECONDS = max(env_int("TIMER_SWEEP_SECONDS", 30), 2)
PENDING_MAIL_SECONDS = max(env_int("PENDING_MAIL_SECONDS", 60), 2)
CELERY_BEAT_SCHEDULE = {
    "sweep-workflow-timers": {
        "task": "workflows.tasks.sweep_timers",
        "schedule": float(TIMER_SWEEP_SECONDS),
        "options": {"expires": TIMER_SWEEP_SECONDS - 1},
    },
    "deliver-pending-notifications": {
        "task": "workflows.tasks.deliver_pending_notifications",
        "schedule": float(PENDING_MAIL_SECONDS),
        "options": {"expires": PENDING_MAIL_SECONDS - 1},
    },
}
# Shared between processes: Redis. Only the timer-sweep lock on databases other than
# PostgreSQL lives here (workflows.tasks); no page depends on it.
CACHES = {
    "default": (
        {
            # Redis being down is a cache miss, not an error on every page (issue 11).
            "BACKEND": "workflows.cache.ForgivingRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# Without a worker and beat (the embedded default) the development server sweeps timers
# itself in a background thread, so deadlines and escalation work on one laptop.
SAFESHARE_EMBEDDED_TIMERS = not REDIS_URL and "runserver" in sys.argv

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
