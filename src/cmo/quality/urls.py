from django.urls import path

from cmo.quality import pages, target_views, views

app_name = "quality"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("measure/<slug:measure_id>/", views.measure, name="measure"),
    path("measure/<slug:measure_id>/patients/", views.patients, name="patients"),
    path("practitioners/<str:unit_id>/", pages.practitioner, name="practitioner"),
    path("departments/<str:unit_id>/", pages.department, name="department"),
    path("units/<str:unit_id>/", pages.unit, name="unit"),
    path("my-department/", pages.my_department, name="my_department"),
    path("targets/", target_views.targets, name="targets"),
]
