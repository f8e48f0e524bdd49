from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "studentvault.core"
    label = "core"
    verbose_name = "Core"
