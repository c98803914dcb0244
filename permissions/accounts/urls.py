"""The sign-in pages, at the project's level (``path("accounts/", include(...))``): Django's
auth views reverse these names unprefixed (``login``, ``password_reset_done``...).

These are the pages before signing in, open to anyone and guarded by the sign-in steps
themselves; a signed-in person's own pages (``views``) are Safeshare pages like any other,
in the Safeguarding application (workflows/urls.py).
"""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.generic import RedirectView

from .passwords import ResetConfirmView, ResetView
from .sessions import signed_in_page
from .signin import CodeView, SetUpView, SignInView, SignOutView

urlpatterns = [
    path("login/", SignInView.as_view(), name="login"),
    # Between the password and the code nobody is signed in yet: these pages guard themselves.
    # Never kept by a browser or proxy cache, like the password page: set-up shows the new
    # app's secret and then the recovery codes, which a shared computer must not show again.
    path("login/code/", login_not_required(never_cache(CodeView.as_view())), name="sign_in_code"),
    path(
        "login/set-up/",
        login_not_required(never_cache(SetUpView.as_view())),
        name="sign_in_set_up",
    ),
    path("logout/", SignOutView.as_view(), name="logout"),
    # A forgotten password, or a first password: a one-time link (Django's token mechanism).
    path("password-reset/", ResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path("reset/<uidb64>/<token>/", ResetConfirmView.as_view(), name="password_reset_confirm"),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    # Each person's own sign-in page lives in the Safeguarding application (with its menu);
    # viewflow's account menu links to the project's "profile".
    path(
        "profile/",
        signed_in_page(RedirectView.as_view(pattern_name="safeguarding:profile")),
        name="profile",
    ),
]
