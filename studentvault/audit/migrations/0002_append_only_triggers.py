"""The database refuses UPDATE, DELETE and TRUNCATE on the audit log and its student index.

PostgreSQL: row triggers BEFORE UPDATE OR DELETE and a statement trigger BEFORE TRUNCATE raise.
SQLite: BEFORE UPDATE and BEFORE DELETE triggers RAISE(ABORT) (SQLite has no TRUNCATE; a DELETE
without WHERE fires the row triggers). The SQL is written here, frozen, not imported.
"""

from django.db import migrations

TABLES = ("audit_auditentry", "audit_auditentrystudent")

POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION studentvault_audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""

POSTGRES_TRIGGERS = """
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION studentvault_audit_refuse_change();
CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION studentvault_audit_refuse_change();
"""

SQLITE_TRIGGERS = (
    "CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: UPDATE on {table} refused'); END",
    "CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: DELETE on {table} refused'); END",
)


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_FUNCTION, params=None)
        for table in TABLES:
            schema_editor.execute(POSTGRES_TRIGGERS.format(table=table), params=None)
    elif vendor == "sqlite":
        for table in TABLES:
            for statement in SQLITE_TRIGGERS:
                schema_editor.execute(statement.format(table=table))
    else:
        raise RuntimeError(f"no append-only triggers written for database {vendor!r}")


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        elif vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS studentvault_audit_refuse_change()")


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_audit_log_disclosures_alerts")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
