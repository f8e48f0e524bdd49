"""Routes of the audit pages (mounted at /audit/)."""

from django.urls import path

from . import views

app_name = "audit"

urlpatterns = [
    path("checkpoint/", views.checkpoint_view, name="checkpoint"),
    path("alerts/", views.alert_list_view, name="alerts"),
    path(
        "students/<int:student_id>/disclosures/",
        views.student_disclosures_view,
        name="student-disclosures",
    ),
]
