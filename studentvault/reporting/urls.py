"""Routes of reporting: the public list and pages of published reports, the staff run page."""

from django.urls import path

from . import views

app_name = "reporting"

urlpatterns = [
    path("reports/", views.published_list, name="published-list"),
    path("reports/<int:report_id>/", views.published, name="published"),
    path("reports/<int:report_id>.csv", views.published_csv, name="published-csv"),
    path("reports/<int:report_id>.json", views.published_json, name="published-json"),
    path("reporting/run/", views.run, name="run"),
]
