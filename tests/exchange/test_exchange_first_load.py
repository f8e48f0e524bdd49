"""A first load checks each foreign key and builds each index of the student tables once, and
leaves them as they were.

The constraints and indexes are dropped only inside the import's transaction and only when no
student is stored; they come back with the same names and definitions; a row that breaks a
foreign key, or two rows with one unique key, reject the import and name the table and
constraint; a table another session is using makes the import go the usual way instead of
waiting.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection, transaction
from exchange_world import student_values

from studentvault.core.actors import Actor
from studentvault.crypto.blind_index import index_for
from studentvault.exchange import bulk, first_load, workers
from studentvault.exchange.errors import ImportRejected
from studentvault.exchange.models import ImportRun
from studentvault.exchange.services import import_files
from studentvault.records.codes import code_set
from studentvault.records.models import Disability, District, School, Student

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="foreign keys are dropped on PostgreSQL only"
)


def constraints(kind: str) -> set[tuple[str, str, str]]:
    """(table, name, definition) of every constraint of ``kind`` (pg_constraint.contype: f for
    foreign keys, u for unique) of the student tables."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
            " FROM pg_constraint WHERE contype = %s AND conrelid = ANY (%s::regclass[])",
            [kind, first_load.student_tables()],
        )
        return set(cursor.fetchall())


def foreign_keys() -> set[tuple[str, str, str]]:
    return constraints("f")


def unique_constraints() -> set[tuple[str, str, str]]:
    return constraints("u")


def indexes() -> set[tuple[str, str, str]]:
    """(table, name, definition) of every index of the student tables, primary keys included."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes"
            " WHERE tablename = ANY (%s) AND schemaname = current_schema()",
            [first_load.student_tables()],
        )
        return set(cursor.fetchall())


def schema() -> tuple[set[tuple[str, str, str]], ...]:
    return foreign_keys(), unique_constraints(), indexes()


def a_student() -> Student:
    district = District.objects.create(state_code="9999", name="Synthetic Test District")
    return Student.objects.create(**student_values(district, 1))


def test_the_student_tables_are_the_students_and_every_table_that_names_one() -> None:
    tables = first_load.student_tables()
    assert "records_student" in tables
    assert {"records_disability", "records_sectionenrollment", "records_parentcontact"} <= set(
        tables
    )
    assert "records_school" not in tables and "records_section" not in tables


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the SQLite behaviour")
def test_elsewhere_than_postgresql_it_does_nothing() -> None:
    with transaction.atomic(), first_load.checked_once() as dropped:
        assert dropped is None


@postgres_only
def test_a_first_load_drops_the_foreign_keys_and_adds_back_exactly_the_same() -> None:
    before = foreign_keys()
    assert len(before) > 20  # every link of every student table
    with transaction.atomic():
        with first_load.checked_once() as dropped:
            assert dropped is not None
            assert foreign_keys() == set()
        assert foreign_keys() == before
    assert foreign_keys() == before
    deferrable = [d for _, _, d in before if "DEFERRABLE INITIALLY DEFERRED" in d]
    assert len(deferrable) == len(before)


@postgres_only
def test_a_first_load_drops_the_indexes_but_primary_keys_and_builds_exactly_the_same() -> None:
    before = schema()
    _, unique_before, indexes_before = before
    row_uids = {f"{table}_row_uid_key" for table in first_load.student_tables()}
    assert row_uids < {name for _, name, _ in unique_before}
    assert any(name == "student_sasid_index" for _, name, _ in indexes_before)
    with transaction.atomic():
        with first_load.checked_once() as dropped:
            assert dropped is not None
            assert unique_constraints() == set()
            left = {name for _, name, _ in indexes()}
            assert left == {f"{table}_pkey" for table in first_load.student_tables()}
        assert schema() == before
    assert schema() == before


def memory_settings() -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('maintenance_work_mem'), current_setting('work_mem')"
        )
        found: tuple[str, str] = cursor.fetchone()
        return found


@postgres_only
def test_the_add_back_runs_with_more_memory_and_gives_the_settings_back() -> None:
    before = memory_settings()
    during: list[tuple[str, str]] = []

    def watch(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if "ADD CONSTRAINT" in sql or sql.startswith("CREATE"):
            during.append(memory_settings())
        return execute(sql, params, many, context)

    with transaction.atomic():
        with connection.execute_wrapper(watch), first_load.checked_once() as dropped:
            assert dropped
        assert memory_settings() == before
    assert len(during) > 40 and set(during) == {("256MB", "256MB")}
    assert before != ("256MB", "256MB")


@postgres_only
def test_two_rows_with_one_unique_key_reject_and_name_the_constraint_not_the_key() -> None:
    before = schema()
    district = District.objects.create(state_code="9999", name="Synthetic Test District")
    with (
        pytest.raises(ImportRejected) as rejected,
        transaction.atomic(),
        first_load.checked_once() as dropped,
    ):
        assert dropped
        (pk,) = bulk.write_new(Student, [student_values(district, 1)], with_ids=True)
        columns = ", ".join(
            str(f.column) for f in Student._meta.concrete_fields if not f.primary_key
        )
        with connection.cursor() as cursor:  # a copy of the row: the same row_uid
            cursor.execute(
                f"INSERT INTO records_student ({columns})"  # noqa: S608 - the model's own columns
                f" SELECT {columns} FROM records_student WHERE id = %s",
                [pk],
            )
    (problem,) = rejected.value.problems
    assert problem.file == "records_student"
    assert "unique constraint records_student_row_uid_key" in problem.problem
    assert "9900000001" not in str(rejected.value)
    assert schema() == before
    assert not Student.objects.exists()


@postgres_only
def test_a_unique_constraint_a_foreign_key_elsewhere_depends_on_is_kept() -> None:
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE first_load_test_referrer (disability uuid"
                " REFERENCES records_disability (row_uid))"
            )
        with first_load.checked_once() as dropped:
            assert dropped
            kept = {name for _, name, _ in unique_constraints()}
            assert kept == {"records_disability_row_uid_key"}
        transaction.set_rollback(True)


@postgres_only
def test_with_a_student_stored_nothing_is_dropped_or_locked() -> None:
    a_student()
    before = schema()
    with transaction.atomic(), first_load.checked_once() as dropped:
        assert dropped is None
        assert schema() == before
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid()"
                " AND mode = 'AccessExclusiveLock' AND relation = 'records_disability'::regclass"
            )
            assert cursor.fetchone()[0] == 0


@postgres_only
def test_a_row_that_breaks_a_foreign_key_rejects_and_names_table_and_constraint() -> None:
    before = foreign_keys()
    with (
        pytest.raises(ImportRejected) as rejected,
        transaction.atomic(),
        first_load.checked_once() as dropped,
    ):
        assert dropped
        row = {"student_id": 987654321, "disability_type": "SLI", "is_primary": True}
        bulk.write_new(Disability, [row])  # no such student
    (problem,) = rejected.value.problems
    assert problem.file == "records_disability"
    assert "foreign key records_disability_student_id_" in problem.problem
    assert "987654321" not in str(rejected.value)
    assert foreign_keys() == before  # the transaction rolled back, drop included
    assert not Disability.objects.exists()


@postgres_only
def test_an_error_inside_the_block_adds_nothing_back_and_the_rollback_restores_all() -> None:
    before = foreign_keys()
    with pytest.raises(RuntimeError), transaction.atomic(), first_load.checked_once() as dropped:
        assert dropped
        raise RuntimeError("a problem in the middle of the load")
    assert foreign_keys() == before


@postgres_only
def test_a_table_in_use_elsewhere_makes_the_load_go_the_usual_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(first_load, "LOCK_TIMEOUT", "150ms")
    before = foreign_keys()
    settings = connection.settings_dict
    other = psycopg.connect(
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
    )
    try:
        other.execute("LOCK TABLE records_parentcontact IN ACCESS SHARE MODE")  # a reader
        with transaction.atomic(), first_load.checked_once() as dropped:
            assert dropped is None
            assert foreign_keys() == before
            with connection.cursor() as cursor:  # the savepoint rolled back; the run goes on
                cursor.execute("SELECT current_setting('lock_timeout')")
                assert cursor.fetchone()[0] != "150ms"
            assert not Student.objects.exists()
    finally:
        other.close()


@postgres_only
def test_rows_this_transaction_wrote_before_make_the_load_go_the_usual_way() -> None:
    before = foreign_keys()
    with transaction.atomic():
        district = District.objects.create(state_code="9999", name="Synthetic Test District")
        School.objects.create(
            district=district,
            state_code="9001",
            name="Synthetic Test School",
            level=code_set("school_level").codes[0].code,
            low_grade=code_set("grade_level").codes[0].code,
            high_grade=code_set("grade_level").codes[-1].code,
        )
        # The school's check of its district is pending until commit: PostgreSQL refuses to
        # alter its table before.
        with first_load.checked_once() as dropped:
            assert dropped is None
            assert foreign_keys() == before
        assert School.objects.count() == 1


@postgres_only
def test_an_import_into_an_empty_installation_is_a_first_load_and_stores_it_all(
    alice: Actor, district_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = schema()
    foreign, unique, _ = before
    added_back: list[Any] = []
    add_back = first_load._add_back

    def spy(dropped: Any) -> None:
        added_back.append({(c.table, c.name, c.definition) for c in dropped})
        add_back(dropped)

    monkeypatch.setattr(first_load, "_add_back", spy)
    monkeypatch.setattr(workers, "_threads", lambda: 1)  # as on the command line (xdist: more)
    run = import_files(actor=alice, format_name="district", paths=[district_copy])
    assert run.status == ImportRun.Status.COMMITTED
    # Added back once each: some while worker processes may still read the last files
    # (exchange.workers; how many depends on timing), the rest when the block ended.
    rebuilt = set().union(*added_back)
    assert sum(len(part) for part in added_back) == len(rebuilt)
    assert foreign | unique <= rebuilt
    assert schema() == before
    students_file = next(f for f in run.report["files"] if f["name"] == "students.csv")
    assert Student.objects.count() == students_file["added"] > 0

    calls = len(added_back)
    again = import_files(actor=alice, format_name="district", paths=[district_copy])
    assert again.status == ImportRun.Status.COMMITTED
    assert again.added == again.changed == 0
    assert len(added_back) == calls  # students were stored: the usual way, nothing dropped
    assert schema() == before


def test_a_student_named_in_another_spelling_of_the_same_sasid_is_found_in_any_load(
    alice: Actor, district_copy: Path
) -> None:
    """A later file may write a SASID as the blind index reads it (``12345-67890``): the run
    finds the student it created, from its own records in a first load (PostgreSQL) and by
    blind index otherwise (SQLite), with the same outcome."""
    path = district_copy / "disabilities.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    sasid = rows[1][0]
    rows[1][0] = f" {sasid[:5]}-{sasid[5:]} "
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    run = import_files(actor=alice, format_name="district", paths=[district_copy])
    assert run.status == ImportRun.Status.COMMITTED, run.report["problems"][:1]
    student = Student.objects.get(sasid_index=index_for("sasid", sasid))
    expected = sum(1 for row in rows[1:] if row[0].strip().replace("-", "") == sasid)
    assert Disability.objects.filter(student=student).count() == expected >= 1
    assert Student.objects.filter(sasid_index=index_for("sasid", sasid)).count() == 1


@postgres_only
def test_a_table_added_back_early_gets_all_of_its_own_and_nothing_else() -> None:
    before = schema()
    with transaction.atomic():
        with first_load.checked_once() as rebuild:
            assert rebuild is not None
            while rebuild.add_back_one({"records_disability"}):
                pass
            assert not rebuild.add_back_one({"records_disability"})
            foreign, unique, index = schema()
            everything = before[0] | before[1] | before[2]
            disability = {c for c in everything if c[0] == "records_disability"}
            assert disability <= foreign | unique | index  # all of its own, as they were
            others = {c for c in foreign | unique | index if c[0] != "records_disability"}
            assert {name for _, name, _ in others} == {
                f"{t}_pkey" for t in first_load.student_tables() if t != "records_disability"
            }
        assert schema() == before  # the rest when the block ended, each once
    assert schema() == before


@postgres_only
def test_a_row_that_breaks_a_constraint_added_back_early_rejects_the_load() -> None:
    with (
        pytest.raises(ImportRejected) as rejected,
        transaction.atomic(),
        first_load.checked_once() as rebuild,
    ):
        assert rebuild is not None
        row = {"student_id": 987654321, "disability_type": "SLI", "is_primary": True}
        bulk.write_new(Disability, [row])  # no such student
        while rebuild.add_back_one({"records_disability"}):
            pass
    (problem,) = rejected.value.problems
    assert problem.file == "records_disability" and "foreign key" in problem.problem
    assert not Disability.objects.exists()
