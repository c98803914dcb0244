"""The host project's URLs: its own pages, and Safeshare under a prefix of its choosing."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Northshire Schools intranet")


urlpatterns = [
    path("", home, name="home"),
    path("admin/", admin.site.urls),
    path("accounts/", include("permissions.accounts.urls")),
    path("child-protection/", include("workflows.site")),
]
