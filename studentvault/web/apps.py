from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "studentvault.web"
    label = "web"
    verbose_name = "Staff web UI"
