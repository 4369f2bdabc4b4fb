from django.urls import path

from cmo.quality import views

app_name = "quality"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("measure/<slug:measure_id>/", views.measure, name="measure"),
    path("measure/<slug:measure_id>/patients/", views.patients, name="patients"),
]
