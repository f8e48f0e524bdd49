"""Blind-index columns in byte order ("C" collation) on PostgreSQL (docs/adr/0081).

``BlindIndexField.db_parameters`` gives new databases the collation when the columns are
created; this changes it in databases created before. PostgreSQL rebuilds the columns' indexes
with the change. Other databases are left as they are.
"""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

COLUMNS = ("sasid_index", "local_id_index", "name_birth_index")


def _collate(schema_editor: BaseDatabaseSchemaEditor, collation: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(
            f"ALTER TABLE records_student ALTER COLUMN {column} TYPE varchar(64) COLLATE {collation}"
        )


def byte_order(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    _collate(schema_editor, '"C"')


def database_order(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    _collate(schema_editor, 'pg_catalog."default"')


class Migration(migrations.Migration):
    dependencies = [("records", "0002_fewer_redundant_indexes")]

    operations = [migrations.RunPython(byte_order, database_order, elidable=False)]
