"""The URL root: the shell's own pages, then every registered domain at ``/<name>/``."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from cmo.web import views
from cmo.web.api import api
from cmo.web.home import home
from cmo.web.overview import overview
from cmo.web.registry import domains

urlpatterns = [
    path("", home, name="home"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            template_name="web/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", views.PasswordChange.as_view(), name="password_change"),
    path("overview/", overview, name="overview"),
    path("status/", views.data_status, name="data_status"),
    path("access-log/", views.access_log, name="access_log"),
    path("healthz", views.healthz, name="healthz"),
    path("api/", api.urls),
    path("admin/", admin.site.urls),
]
# Each domain's URL module declares ``app_name = <name>``, so its names are "<name>:<page>".
urlpatterns += [path(f"{d.name}/", include(d.urls)) for d in domains() if d.urls]
