from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    name = "studentvault.exchange"
    label = "exchange"
    verbose_name = "Data exchange"
    default_auto_field = "django.db.models.BigAutoField"
