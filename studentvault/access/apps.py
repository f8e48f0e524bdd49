from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "studentvault.access"
    label = "access"
    verbose_name = "Access: roles and grants"
