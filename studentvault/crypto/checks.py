"""System checks of the crypto layer (shown by `manage.py check`, and with --deploy)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


def field_encryption_on(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn when FIELD_ENCRYPTION is off: that switch exists only for the benchmark."""
    if getattr(settings, "FIELD_ENCRYPTION", True):
        return []
    return [
        checks.Warning(
            "FIELD_ENCRYPTION is off: identifying and sensitive fields are stored in plaintext.",
            hint="The switch exists only for the benchmark comparison; production must keep "
            "FIELD_ENCRYPTION=on (docs/adr/0010).",
            id="crypto.W001",
        )
    ]


def database_encryption_on(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn when the embedded SQLite file is not encrypted with SQLCipher."""
    engine = settings.DATABASES["default"]["ENGINE"]
    name = str(settings.DATABASES["default"].get("NAME", ""))
    if (
        engine == "django.db.backends.sqlite3"
        and ":memory:" not in name
        and "mode=memory" not in name
    ):
        return [
            checks.Warning(
                "The embedded SQLite database file is not encrypted (DATABASE_ENCRYPTION=off).",
                hint="Leave DATABASE_ENCRYPTION on so the file is encrypted with SQLCipher.",
                id="crypto.W002",
            )
        ]
    return []


def register() -> None:
    """Register the checks (called from CryptoConfig.ready)."""
    checks.register(field_encryption_on, checks.Tags.security, deploy=False)
    checks.register(database_encryption_on, checks.Tags.security, deploy=True)
