"""The student data tables carry no index that another index already serves.

Every index costs work on every row written (an import of 100,000 students writes 1.2 million
rows). An index is redundant when another index of the same table starts with the same columns
(a foreign key's own index beside a unique constraint that starts with that key, say). A
``LIKE`` index (``varchar_pattern_ops``) is redundant here too: blind indexes and codes are
searched by equality.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="reads PostgreSQL's catalog"
)


def catalog(sql: str) -> list[tuple[Any, ...]]:
    """The rows of a query of PostgreSQL's catalog (fixed SQL, no parameters)."""
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def record_indexes() -> list[tuple[str, str, bool, list[str], list[str]]]:
    """(table, index, unique, key columns, operator classes) of every records_* index."""
    found = catalog(
        """
            SELECT t.relname, i.relname, ix.indisunique,
                   array(SELECT a.attname FROM unnest(ix.indkey) WITH ORDINALITY k(n, o)
                         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n
                         ORDER BY k.o),
                   array(SELECT c.opcname FROM unnest(ix.indclass) WITH ORDINALITY k(n, o)
                         JOIN pg_opclass c ON c.oid = k.n ORDER BY k.o)
            FROM pg_index ix
            JOIN pg_class i ON i.oid = ix.indexrelid
            JOIN pg_class t ON t.oid = ix.indrelid
            WHERE t.relname LIKE 'records\\_%%' AND ix.indpred IS NULL
            """
    )
    return [(t, i, u, list(cols), list(ops)) for t, i, u, cols, ops in found]


@postgres_only
def test_no_index_of_a_student_data_table_repeats_the_start_of_another() -> None:
    indexes = record_indexes()
    assert len(indexes) > 40  # the query sees the tables
    redundant = []
    for table, name, unique, columns, opclasses in indexes:
        if unique:
            continue  # a unique index is a rule, not only a way in
        for other_table, other, _, other_columns, other_opclasses in indexes:
            if other_table != table or other == name or len(other_columns) < len(columns):
                continue
            same_start = (
                other_columns[: len(columns)] == columns
                and other_opclasses[: len(columns)] == opclasses
            )
            # A longer index serves this one; of two equal ones, the first by name stays.
            if same_start and (len(other_columns) > len(columns) or other < name):
                redundant.append(f"{table}.{name} (served by {other})")
    assert redundant == []


@postgres_only
def test_no_student_data_table_has_a_like_index() -> None:
    like = [
        f"{table}.{name}"
        for table, name, _, _, opclasses in record_indexes()
        if any(op.endswith("_pattern_ops") for op in opclasses)
    ]
    assert like == []


@postgres_only
def test_each_blind_index_and_each_link_can_still_be_searched_by_an_index() -> None:
    leading = {(table, columns[0]) for table, _, _, columns, _ in record_indexes() if columns}
    for column in ("sasid_index", "local_id_index", "name_birth_index", "district_id"):
        assert ("records_student", column) in leading
    links = set(
        catalog(
            "SELECT conrelid::regclass::text, a.attname FROM pg_constraint c"
            " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]"
            " WHERE c.contype = 'f' AND conrelid::regclass::text LIKE 'records\\_%%'"
        )
    )
    assert len(links) > 20
    assert links - leading == set()  # every link leads some index: deletes and joins stay fast


@postgres_only
def test_blind_index_columns_compare_bytes() -> None:
    """Hexadecimal digests in byte order: the "C" collation, which builds and keeps their indexes
    cheapest (docs/adr/0081); set for new databases and by migration records.0003."""
    collations = dict(
        catalog(
            "SELECT a.attname, c.collname FROM pg_attribute a"
            " JOIN pg_collation c ON c.oid = a.attcollation"
            " WHERE a.attrelid = 'records_student'::regclass AND a.attname LIKE '%%_index'"
        )
    )
    assert collations == {"sasid_index": "C", "local_id_index": "C", "name_birth_index": "C"}
