from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "studentvault.people"
    label = "people"
    verbose_name = "People, vendors and contracts"

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects session and password receivers
