"""Done-when of issue 3: after loading a synthetic district, no student's name, SASID or birth
date (in any usual format) is found in any table read through SQL, nor in the raw bytes of the
database (the SQLite file; PostgreSQL's relation files and current WAL segment)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from crypto_world import pii_needles, synthetic_district
from django.db import connection

from studentvault.crypto.blind_index import index_for
from studentvault.records.models import ParentContact, Student


def sql_dump() -> bytes:
    """Every value of every table, as the database returns it (text, or raw bytes)."""
    parts: list[bytes] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from introspection
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, memoryview | bytes):
                        parts.append(bytes(value))
                    else:
                        parts.append(str(value).encode("utf-8"))
    return b"\x1f".join(parts)


def wal_position() -> str | None:
    """PostgreSQL's current write-ahead log position (None elsewhere)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        position: str = cursor.fetchone()[0]
        return position


def raw_database_bytes(tmp_path: Path, wal_since: str | None) -> bytes:
    """The bytes the database keeps on disk for this test database: SQLite's file, or
    PostgreSQL's relation files and the write-ahead log written since ``wal_since``.

    Only the log written since then: a segment file PostgreSQL recycles keeps, past the current
    position, whatever an earlier use of it held (on a developer's machine, say, the plain COPY
    of ``make bench``), which is not this test's to judge."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            # The test database lives in memory: write it out as a plain SQLite file (the
            # container stays unencrypted here, so this checks the field level alone).
            target = tmp_path / "copy.db"
            cursor.execute("VACUUM INTO %s", [str(target)])
            return target.read_bytes()
        cursor.execute("CHECKPOINT")
        cursor.execute(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname IN ('public', 'pg_toast') AND c.relkind IN ('r', 'i', 't') "
            "AND pg_relation_filepath(c.oid) IS NOT NULL"
        )
        paths = [row[0] for row in cursor.fetchall()]
        chunks = []
        for path in paths:
            cursor.execute("SELECT pg_read_binary_file(%s)", [path])
            found = cursor.fetchone()[0]
            if found is not None:
                chunks.append(bytes(found))
        # Each log segment from the one holding ``wal_since`` to the current one, from the
        # first position to the last.
        cursor.execute(
            "SELECT f.file_name, f.file_offset, d.setting::bigint"
            " FROM pg_settings d, generate_series(%s::pg_lsn - '0/0'::pg_lsn,"
            " pg_current_wal_lsn() - '0/0'::pg_lsn, d.setting::bigint) AS at,"
            " pg_walfile_name_offset('0/0'::pg_lsn + at) AS f"
            " WHERE d.name = 'wal_segment_size'",
            [wal_since],
        )
        segments = cursor.fetchall()
        cursor.execute("SELECT file_name, file_offset FROM pg_walfile_name_offset("
                       "pg_current_wal_lsn())")  # fmt: skip
        last_name, last_offset = cursor.fetchone()
        for name, offset, size in segments:
            start = offset if name == segments[0][0] else 0
            end = last_offset if name == last_name else size
            cursor.execute(
                "SELECT pg_read_binary_file(%s, %s, %s)", ["pg_wal/" + name, start, end - start]
            )
            chunks.append(bytes(cursor.fetchone()[0]))
        if last_name not in {name for name, _, _ in segments}:
            cursor.execute(
                "SELECT pg_read_binary_file(%s, 0, %s)", ["pg_wal/" + last_name, last_offset]
            )
            chunks.append(bytes(cursor.fetchone()[0]))
        return b"".join(chunks)


def hits(needles: list[str], haystack: bytes) -> list[str]:
    lowered = haystack.lower()
    return [n for n in needles if n.encode("utf-8").lower() in lowered]


@pytest.mark.django_db(transaction=True)
def test_no_plaintext_pii_in_tables_or_raw_database_bytes(tmp_path: Path) -> None:
    since = wal_position()
    district: dict[str, Any] = synthetic_district(12)
    needles = pii_needles(district)
    assert len(needles) > 100

    dump = sql_dump()
    # Positive control: a plain (directory) value is found, so the search itself works.
    assert district["school_name"].encode() in dump
    assert hits(needles, dump) == []

    raw = raw_database_bytes(tmp_path, since)
    assert district["school_name"].encode() in raw
    assert hits(needles, raw) == []

    # And the data is all there: read back through the model and the blind indexes.
    for student in district["students"]:
        found = Student.objects.get(sasid_index=index_for("sasid", student.sasid))
        assert (found.first_name, found.last_name, found.birth_date) == (
            student.first_name,
            student.last_name,
            student.birth_date,
        )
        by_name = Student.objects.get(
            name_birth_index=index_for("name_birth", student.last_name, student.birth_date)
        )
        assert by_name.pk == student.pk
    assert {c.name for c in ParentContact.objects.all()} == {c.name for c in district["contacts"]}
