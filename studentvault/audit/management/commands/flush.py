"""``flush`` that empties the append-only audit tables too (Django's test runner calls it).

Django's transactional tests and ``manage.py flush`` empty every table; the audit tables refuse
that by trigger. This command lifts the triggers for the length of its own transaction only:
on PostgreSQL ``ALTER TABLE ... DISABLE TRIGGER USER`` (allowed only to the table owner or a
superuser, never to the application role of a production install), on SQLite the triggers are
dropped and recreated from their own stored SQL. DDL is transactional on both, so no other
session ever sees the log unguarded, and a failure leaves the triggers in place.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands.flush import Command as DjangoFlush
from django.db import connections, transaction

AUDIT_TABLES = ("audit_auditentry", "audit_auditentrystudent")


class Command(DjangoFlush):
    help = DjangoFlush.help + " The audit log is emptied too (its triggers lifted meanwhile)."

    def handle(self, **options: Any) -> None:
        database = options["database"]
        connection = connections[database]
        present = set(connection.introspection.table_names()) & set(AUDIT_TABLES)
        if not present:
            super().handle(**options)
            return
        with transaction.atomic(using=database), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                for table in sorted(present):
                    cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
                super().handle(**options)
                for table in sorted(present):
                    cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            elif connection.vendor == "sqlite":
                cursor.execute(
                    "SELECT name, sql, tbl_name FROM sqlite_master WHERE type = 'trigger'"
                )
                triggers = [
                    (name, sql) for name, sql, table in cursor.fetchall() if table in present
                ]
                for name, _ in triggers:
                    cursor.execute(f'DROP TRIGGER "{name}"')
                super().handle(**options)
                for _, sql in triggers:
                    cursor.execute(sql)
            else:
                super().handle(**options)
