from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "studentvault.records"
    label = "records"
    verbose_name = "Student records"
