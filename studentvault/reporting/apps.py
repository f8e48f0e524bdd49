from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "studentvault.reporting"
    label = "reporting"
    verbose_name = "Aggregate reports"
