"""Routes of the staff UI."""

from django.urls import path

from . import imports, views

app_name = "web"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("students/", views.students, name="students"),
    path("students/<int:student_id>/", views.student, name="student"),
    path("keys/", views.keys, name="keys"),
    path("imports/", imports.imports, name="imports"),
    path("imports/<int:run_id>/", imports.import_run, name="import_run"),
    path("imports/<int:run_id>/commit/", imports.import_commit, name="import_commit"),
    path("imports/<int:run_id>/discard/", imports.import_discard, name="import_discard"),
]
