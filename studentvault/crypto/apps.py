from django.apps import AppConfig


class CryptoConfig(AppConfig):
    name = "studentvault.crypto"
    label = "crypto"
    verbose_name = "Encryption and keys"

    def ready(self) -> None:
        from . import checks

        checks.register()
