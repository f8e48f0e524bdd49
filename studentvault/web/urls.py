"""Routes of the staff UI."""

from django.urls import path

from . import views

app_name = "web"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("students/", views.students, name="students"),
    path("students/<int:student_id>/", views.student, name="student"),
    path("keys/", views.keys, name="keys"),
]
