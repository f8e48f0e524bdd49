"""Django app of the REST API."""

from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The REST API under /api/v1 (top layer, beside the staff UI)."""

    name = "studentvault.api"
    label = "api"
    verbose_name = "REST API"

    def ready(self) -> None:
        from . import schema  # noqa: F401 - registers the OpenAPI authentication extensions
