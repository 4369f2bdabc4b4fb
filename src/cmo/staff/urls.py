from django.urls import path

from cmo.staff import views

app_name = "staff"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("file/<int:pk>/", views.file, name="file"),
    path("file/<int:pk>/verify/", views.verify, name="verify"),
    path("file/<int:pk>/packet/", views.packet, name="packet"),
    path("file/<int:pk>/packet.pdf", views.packet_pdf, name="packet_pdf"),
    path("file/<int:pk>/add/<slug:kind>/", views.add_element, name="add"),
    path("hold/<int:pk>/", views.decide_hold, name="hold"),
    path("applications/", views.applications, name="applications"),
    path("applications/<int:pk>/move/", views.move, name="move"),
    path("screening/", views.screening, name="screening"),
    path("screening/run/", views.run, name="run"),
    path("screening/match/<int:pk>/", views.review, name="review"),
    path("privileges/<str:code>/", views.privileges, name="privileges"),
]
