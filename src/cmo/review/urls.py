from django.urls import path

from cmo.review import views

app_name = "review"
urlpatterns = [
    path("", views.oppe, name="oppe"),
    path("oppe/<int:pk>/", views.profile, name="profile"),
    path("oppe/<int:pk>/value/", views.manual_value, name="manual_value"),
    path("oppe/<int:pk>/report/", views.report, name="report"),
    path("indicators/", views.indicators, name="indicators"),
    path("oppe/<int:pk>/report.pdf", views.report_pdf, name="report_pdf"),
    path("fppe/", views.fppe_list, name="fppe_list"),
    path("fppe/<int:pk>/", views.fppe, name="fppe"),
    path("fppe/<int:pk>/act/", views.fppe_act, name="fppe_act"),
    path("peer/", views.cases, name="cases"),
    path("peer/<int:pk>/", views.case, name="case"),
    path("peer/<int:pk>/act/", views.case_act, name="case_act"),
    path("practitioner/<str:code>/", views.timeline, name="timeline"),
]
