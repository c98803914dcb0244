from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path
from viewflow.urls import Site

from workflows.urls import SafeguardingApp
from workflows.viewsets import ShareFlowViewset

site = Site(
    title="Safeshare",
    viewsets=[SafeguardingApp(), ShareFlowViewset(icon="assignment", title="Share workflow")],
)

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", site.urls),
]
