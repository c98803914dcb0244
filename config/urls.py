from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    # Signing in and out, second factor, passwords, and the person's own sign-in page.
    path("accounts/", include("permissions.accounts.urls")),
    # Safeshare is added to this site exactly as to any other Django project.
    path("", include("workflows.site")),
]
