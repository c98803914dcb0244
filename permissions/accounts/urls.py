"""The sign-in pages, at the project's level (``path("accounts/", include(...))``): Django's
auth views reverse these names unprefixed (``login``, ``password_reset_done``...).

Pages for a signed-in person are wrapped like every Safeshare page (``signed_in_page``); the
pages before signing in are open, and are what the sign-in steps themselves guard.
"""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import path
from django.views.decorators.cache import never_cache

from .passwords import ResetConfirmView, ResetView
from .sessions import signed_in_page
from .signin import CodeView, SetUpView, SignInView, SignOutView
from .views import CarryOnView, PasswordChangeView, ProfileView

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
    # Signed in: the person's own sign-in (viewflow's menu links "profile" as "Profile").
    path("profile/", signed_in_page(ProfileView.as_view()), name="profile"),
    path(
        "profile/password/",
        signed_in_page(PasswordChangeView.as_view()),
        name="password_change",
    ),
    path(
        "profile/authenticator/",
        signed_in_page(SetUpView.as_view(signed_in=True)),
        name="authenticator_change",
    ),
    path("carry-on/", signed_in_page(CarryOnView.as_view()), name="carry_on"),
]
