from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from cmo.web import views
from cmo.web.api import api

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            template_name="web/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", views.PasswordChange.as_view(), name="password_change"),
    path("quality/", include("cmo.quality.urls")),
    path("safety/", include("cmo.safety.urls")),
    path("status/", views.data_status, name="data_status"),
    path("access-log/", views.access_log, name="access_log"),
    path("healthz", views.healthz, name="healthz"),
    path("api/", api.urls),
    path("admin/", admin.site.urls),
]
