"""Routes of the REST API (mounted at /api/)."""

from django.urls import path, re_path

from . import views

app_name = "api"

urlpatterns = [
    path("v1/schema/", views.SchemaView.as_view(), name="schema"),
    path("v1/students/", views.StudentListView.as_view(), name="students"),
    path("v1/students/<int:student_id>/", views.StudentDetailView.as_view(), name="student"),
    *[
        path(f"v1/students/<int:student_id>/{slug}/", view.as_view(), name=f"student-{slug}")
        for slug, view in views.CATEGORY_VIEWS.items()
    ],
    re_path(r"^(?P<rest>.*)$", views.NotFoundView.as_view(), name="not-found"),
]
