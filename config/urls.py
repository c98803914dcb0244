from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import include, path

from permissions.passwords import ResetView

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # A forgotten password: a one-time link by email (Django's token mechanism).
    path("accounts/password-reset/", ResetView.as_view(), name="password_reset"),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    # Safeshare is added to this site exactly as to any other Django project.
    path("", include("workflows.site")),
]
