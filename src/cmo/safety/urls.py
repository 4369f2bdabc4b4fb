from django.urls import path

from cmo.safety import views

app_name = "safety"
urlpatterns = [
    path("", views.report, name="report"),
    path("thanks/", views.thanks, name="thanks"),
    path("mine/", views.mine, name="mine"),
    path("queue/", views.queue, name="queue"),
    path("event/<int:pk>/", views.event, name="event"),
    path("event/<int:pk>/triage/", views.triage, name="triage"),
    path("event/<int:pk>/rca/", views.investigation, name="investigation"),
    path("action/<int:pk>/", views.action, name="action"),
    path("analytics/", views.analytics_page, name="analytics"),
    path("referrals/", views.referrals, name="referrals"),
]
