"""Audit test helpers: actors, and tampering "as a database superuser" (triggers lifted)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection

from studentvault.core.actors import Actor, ActorKind

AUDIT_TABLES = ("audit_auditentry", "audit_auditentrystudent")


def staff(number: int = 7, **extra: Any) -> Actor:
    """A staff actor with a browser, a device cookie and a district address."""
    values: dict[str, Any] = {
        "kind": ActorKind.STAFF,
        "id": f"user:{number}",
        "username": f"alice{number}",
        "role": "teacher",
        "client_ip": "10.20.1.5",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "device_id": f"device-{number}",
    }
    values.update(extra)
    return Actor(**values)


def tamper(statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
    """Run SQL against the audit tables with their triggers lifted, as a superuser could."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Foreign-key checks are deferred in tests' open transaction; run them first.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table in AUDIT_TABLES:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            for sql, params in statements:
                cursor.execute(sql, params)
            for table in AUDIT_TABLES:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        else:
            cursor.execute("SELECT name, sql, tbl_name FROM sqlite_master WHERE type='trigger'")
            saved = [(n, s) for n, s, t in cursor.fetchall() if t in AUDIT_TABLES]
            for name, _ in saved:
                cursor.execute(f'DROP TRIGGER "{name}"')
            for sql, params in statements:
                cursor.execute(sql, params)
            for _, sql in saved:
                cursor.execute(sql)
