from django.urls import path

from cmo.board import views

app_name = "board"
urlpatterns = [
    path("", views.latest, name="latest"),
    path("reports/", views.reports, name="reports"),
    path("reports/<int:pk>/", views.report, name="report"),
    path("reports/<int:pk>/board.pdf", views.report_pdf, name="report_pdf"),
    path("reports/<int:pk>/board.html", views.report_html, name="report_html"),
    path("draft/", views.draft, name="draft"),
    path("draft/publish/", views.publish_view, name="publish"),
    path("department/", views.department, name="department"),
    path("export/scorecard.csv", views.scorecard_csv, name="scorecard_csv"),
    path("export/MeasureReport.ndjson", views.measure_report, name="measure_report"),
]
