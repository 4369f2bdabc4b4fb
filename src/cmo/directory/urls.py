from django.urls import path

from cmo.directory import views

app_name = "directory"
urlpatterns = [
    path("", views.practitioners, name="practitioners"),
    path("practitioner/<str:code>/", views.practitioner, name="practitioner"),
]
