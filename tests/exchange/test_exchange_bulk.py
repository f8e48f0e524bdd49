"""The bulk writer (first loads of rows that are all new) stores what the general path stores.

Rows it writes decrypt through the normal model fields, are found by blind index, are matched
by a later import as unchanged, are bound to their row; runs that mix it with the general path
(existing students, several batches) count and store exactly; the actor's scope still decides;
a bad row after bulk-written batches leaves nothing stored.
"""

from __future__ import annotations

import csv
import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from exchange_world import make_persona, school_codes, student_values, verified

from studentvault.audit.models import AuditEntry
from studentvault.core.actors import Actor
from studentvault.crypto.blind_index import index_for
from studentvault.crypto.errors import DecryptionFailed
from studentvault.crypto.fields import key_id_of
from studentvault.crypto.keysets import category_keys
from studentvault.exchange import bulk, engine, workers
from studentvault.exchange.models import ImportRun
from studentvault.exchange.services import import_files
from studentvault.records.district_files import FILES
from studentvault.records.models import (
    Disability,
    District,
    Enrollment,
    School,
    SpecialEducationService,
    Student,
)

pytestmark = pytest.mark.django_db

ORG_FILES = ("district.csv", "schools.csv", "courses.csv", "sections.csv", "assessments.csv")


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def keep_students(source: Path, target: Path, keep: set[str] | None) -> None:
    """A copy of the district with only the students whose SASID is in ``keep`` (all: None)."""
    target.mkdir()
    for spec in FILES:
        header, rows = read_csv(source / spec.file)
        if keep is not None and "sasid" in header and spec.file not in ORG_FILES:
            at = header.index("sasid")
            rows = [row for row in rows if row[at] in keep]
        write_csv(target / spec.file, header, rows)


def stored_values(obj: Any) -> dict[str, Any]:
    return {
        f.attname: getattr(obj, f.attname)
        for f in type(obj)._meta.concrete_fields
        if f.attname not in {"id", "row_uid"}
    }


def test_bulk_written_rows_read_like_bulk_create_rows_and_are_found_by_blind_index() -> None:
    district = District.objects.create(state_code="9999", name="Synthetic Test District")
    reference = [Student(**student_values(district, n)) for n in range(3)]
    Student.objects.bulk_create(reference)
    ids = bulk.write_new(Student, [student_values(district, n) for n in range(3, 6)], with_ids=True)
    assert len(ids) == 3 and len(set(ids)) == 3
    by_pk = {s.pk: s for s in Student.objects.filter(pk__in=ids)}  # decrypts in from_db
    uids = {s.row_uid for s in by_pk.values()}
    assert len(uids) == 3 and {u.version for u in uids} == {4}
    assert uids.isdisjoint(s.row_uid for s in reference)
    for n, pk in zip(range(3, 6), ids, strict=True):
        expected = stored_values(reference[n - 3])
        got = stored_values(by_pk[pk])
        # Same shape as bulk_create's rows: every element, same defaults; values of row n.
        assert got.keys() == expected.keys()
        for name in ("sasid_index", "local_id_index", "name_birth_index"):
            assert got.pop(name) and expected.pop(name)
        assert got == {**expected, **student_values(district, n)}
        assert Student.objects.get(sasid_index=index_for("sasid", f"99{n:08d}")).pk == pk
        assert Student.objects.get(local_id_index=index_for("local_id", f"l{n:06d}")).pk == pk
        found = Student.objects.filter(
            name_birth_index=index_for(
                "name_birth", f"QUILLFEATHER {n}", dt.date(2011, 1 + n % 12, 1 + n % 28)
            )
        )
        assert [s.pk for s in found] == [pk]
    primary = category_keys("demographics").primary_key_id
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_name FROM records_student WHERE id = %s", [ids[0]])
        (last_name,) = cursor.fetchone()
    assert key_id_of(bytes(last_name)) == primary
    assert b"Quillfeather" not in bytes(last_name)


def test_new_row_uids_are_uuid4_and_their_text_is_what_str_of_the_uuid_gives() -> None:
    raw, texts = bulk.new_row_uids(5000)
    assert len(raw) == len(texts) == 5000 and len(set(raw)) == 5000
    for b, text in zip(raw, texts, strict=True):
        u = uuid.UUID(bytes=b)
        assert len(b) == 16
        assert u.version == 4 and u.variant == uuid.RFC_4122
        assert text == str(u).encode()
    assert bulk.new_row_uids(0) == ([], [])


def test_nulls_stay_null_and_defaults_fill_what_a_row_does_not_give() -> None:
    district = District.objects.create(state_code="9999", name="Synthetic Test District")
    (pk,) = bulk.write_new(Student, [student_values(district, 1)], with_ids=True)
    student = Student.objects.get(pk=pk)
    assert student.preferred_name == ""  # blank is sealed like any value, as save() does
    assert not Student.objects.filter(pk=pk, preferred_name__isnull=True).exists()
    assert student.directory_opt_out is False  # not given: the model's default
    values = {
        "student_id": pk,
        "service_type": "01",
        "provider": "Synthetic Therapy Group",
        "minutes_per_week": 90,
        "begin_date": dt.date(2026, 9, 1),
        "end_date": None,
    }
    assert bulk.write_new(SpecialEducationService, [values]) == []
    service = SpecialEducationService.objects.get(student_id=pk)
    assert (service.minutes_per_week, service.end_date) == (90, None)
    assert SpecialEducationService.objects.filter(end_date__isnull=True).count() == 1
    assert service.begin_date == dt.date(2026, 9, 1)


def test_columns_of_different_lengths_are_refused_before_anything_is_written() -> None:
    district = District.objects.create(state_code="9999", name="Synthetic Test District")
    (pk,) = bulk.write_new(Student, [student_values(district, 1)], with_ids=True)
    columns = {
        "student_id": [pk, pk],
        "disability_type": ["SLI", "SLI"],
        "is_primary": [True],  # one value short
    }
    with pytest.raises(ValueError, match=r"columns \['is_primary'\] do not have 2 values"):
        bulk.write_columns(Disability, columns, 2)
    assert not Disability.objects.exists()
    columns["is_primary"].append(False)
    assert bulk.write_columns(Disability, columns, 2) == []
    assert sorted(d.is_primary for d in Disability.objects.all()) == [False, True]


def test_a_bulk_written_ciphertext_moved_to_another_row_fails_closed() -> None:
    district = District.objects.create(state_code="9999", name="Synthetic Test District")
    first, second = bulk.write_new(
        Student, [student_values(district, 1), student_values(district, 2)], with_ids=True
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_name FROM records_student WHERE id = %s", [first])
        (sealed,) = cursor.fetchone()
        cursor.execute(
            "UPDATE records_student SET last_name = %s WHERE id = %s", [bytes(sealed), second]
        )
    assert Student.objects.get(pk=first).last_name == "Quillfeather1"
    with pytest.raises(DecryptionFailed):
        Student.objects.get(pk=second)


def count_bulk_writes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The model of every batch the bulk writer stores (``write_new`` goes through
    ``write_columns``; the engine calls either). Every file is applied in this process: the spy
    does not see a worker process's calls (tests/exchange/test_exchange_workers.py)."""
    monkeypatch.setattr(workers, "worker_count", lambda: 0)
    calls: list[str] = []
    original = bulk.write_columns

    def spy(model: Any, *args: Any, **kwargs: Any) -> list[int]:
        calls.append(model.__name__)
        return original(model, *args, **kwargs)

    monkeypatch.setattr(bulk, "write_columns", spy)
    return calls


def test_runs_mixing_bulk_and_general_paths_store_and_count_exactly(
    alice: Actor, district_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "BATCH", 37)  # many batches per file, some of each kind
    calls = count_bulk_writes(monkeypatch)
    header, students = read_csv(district_copy / "students.csv")
    first_half = {row[header.index("sasid")] for row in students[: len(students) // 2]}
    half = tmp_path / "half"
    keep_students(district_copy, half, first_half)
    run = import_files(actor=alice, format_name="district", paths=[half])
    assert run.status == ImportRun.Status.COMMITTED, run.report["problems"]
    assert Student.objects.count() == len(first_half)
    assert "Student" in calls and "Enrollment" in calls
    # New organization rows (the general path's adds) are stored by the bulk writer too.
    assert {"District", "School", "Course", "Section", "Assessment"} <= set(calls)

    calls.clear()
    run = import_files(actor=alice, format_name="district", paths=[district_copy])
    assert run.status == ImportRun.Status.COMMITTED, run.report["problems"]
    assert "Student" in calls  # batches of new students only
    by_file = {f["name"]: f for f in run.report["files"]}
    for spec in FILES:
        _, rows = read_csv(district_copy / spec.file)
        _, kept = read_csv(half / spec.file)
        assert spec.model.objects.count() == len(rows), spec.file
        assert by_file[spec.file]["rows"] == len(rows), spec.file
        assert by_file[spec.file]["added"] == len(rows) - len(kept), spec.file
        assert by_file[spec.file]["changed"] == 0, spec.file
    added = set(Student.objects.values_list("pk", flat=True))
    audited: set[int] = set()
    for entry in AuditEntry.objects.filter(
        action="exchange:import:commit", target=f"import:{run.pk}"
    ):
        audited |= set(entry.student_list)
    assert len(audited) == len(students) - len(first_half) and audited <= added

    # Everything either path wrote compares equal (decrypted) with the file: a no-op.
    calls.clear()
    again = import_files(actor=alice, format_name="district", paths=[district_copy])
    assert (again.added, again.changed) == (0, 0)
    assert again.unchanged == sum(len(read_csv(district_copy / s.file)[1]) for s in FILES)
    assert calls == []


def test_a_bad_row_after_bulk_written_batches_leaves_nothing_stored(
    alice: Actor, district_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "BATCH", 25)
    calls = count_bulk_writes(monkeypatch)
    header, rows = read_csv(district_copy / "parent_contacts.csv")
    rows[-1][header.index("relationship")] = "not-a-code"
    write_csv(district_copy / "parent_contacts.csv", header, rows)
    run = import_files(actor=alice, format_name="district", paths=[district_copy])
    assert run.status == ImportRun.Status.REJECTED
    assert "ParentContact" in calls  # earlier batches of the file were written in bulk
    (problem,) = run.report["problems"]
    assert problem["file"] == "parent_contacts.csv"
    assert problem["line"] == len(rows) + 1
    assert problem["field"] == "relationship"
    assert "not-a-code" not in str(problem)
    for spec in FILES:
        assert not spec.model.objects.exists(), spec.file


def test_students_outside_a_school_scoped_actors_scope_are_refused_by_line(
    alice: Actor, district_copy: Path, tmp_path: Path
) -> None:
    orgs = tmp_path / "orgs"
    orgs.mkdir()
    for name in ORG_FILES:
        (orgs / name).write_bytes((district_copy / name).read_bytes())
    assert import_files(actor=alice, format_name="district", paths=[orgs]).status == "committed"
    codes = school_codes()
    school_a = School.objects.get(state_code=codes["school_a"])
    dave = verified(make_persona("dave", school_codes=codes, scope_ids={"school_a": school_a.pk}))

    people = tmp_path / "people"
    people.mkdir()
    for name in ("students.csv", "enrollments.csv"):
        (people / name).write_bytes((district_copy / name).read_bytes())
    run = import_files(actor=dave, format_name="district", paths=[people])
    assert run.status == ImportRun.Status.REJECTED
    assert not Student.objects.exists() and not Enrollment.objects.exists()
    problem = run.report["problems"][0]
    assert problem["file"] == "students.csv" and problem["line"] >= 2
    assert "outside your change scope" in problem["problem"]

    # Only students enrolled at dave's school this year: the same bulk path, accepted.
    header, enrollments = read_csv(district_copy / "enrollments.csv")
    year = max(int(row[header.index("school_year")]) for row in enrollments)
    at_a = [
        row
        for row in enrollments
        if row[header.index("school_code")] == school_a.state_code
        and int(row[header.index("school_year")]) == year
        and row[header.index("exit_date")] == ""
    ]
    mine = {row[header.index("sasid")] for row in at_a}
    assert mine
    write_csv(people / "enrollments.csv", header, at_a)
    s_header, students = read_csv(district_copy / "students.csv")
    sasid = s_header.index("sasid")
    write_csv(people / "students.csv", s_header, [r for r in students if r[sasid] in mine])
    run = import_files(actor=dave, format_name="district", paths=[people])
    assert run.status == ImportRun.Status.COMMITTED, run.report["problems"]
    assert Student.objects.count() == len(mine)


def test_identical_rows_of_a_new_student_split_between_a_bulk_and_a_general_batch(
    alice: Actor, district_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows of models without a unique key are a multiset: the second of two identical rows is
    added even when the first was written in bulk and the second goes the general way."""
    monkeypatch.setattr(engine, "BATCH", 2)
    header, students = read_csv(district_copy / "students.csv")
    sasid = header.index("sasid")
    half = tmp_path / "half"
    keep_students(district_copy, half, {row[sasid] for row in students[:10]})
    assert import_files(actor=alice, format_name="district", paths=[half]).status == "committed"
    existing, new_s, new_t = students[0][sasid], students[20][sasid], students[21][sasid]

    d_header, disabilities = read_csv(district_copy / "disabilities.csv")
    template = disabilities[0]
    at = d_header.index("sasid")

    def row(of: str) -> list[str]:
        return [of if i == at else cell for i, cell in enumerate(template)]

    second = tmp_path / "second"
    second.mkdir()
    (second / "students.csv").write_bytes((district_copy / "students.csv").read_bytes())
    # batch 1: only new students (bulk); batch 2: a new and an existing student (general)
    write_csv(
        second / "disabilities.csv",
        d_header,
        [row(new_s), row(new_t), row(new_s), row(existing)],
    )
    before = Disability.objects.filter(student__in=Student.objects.all()).count()
    calls = count_bulk_writes(monkeypatch)
    run = import_files(actor=alice, format_name="district", paths=[second])
    assert run.status == ImportRun.Status.COMMITTED, run.report["problems"]
    assert "Disability" in calls
    counts = {f["name"]: f for f in run.report["files"]}["disabilities.csv"]
    stored_for_s = Disability.objects.filter(student__in=[run_student(new_s)]).count()
    assert stored_for_s == 2
    assert counts["added"] + counts["unchanged"] == 4
    assert Disability.objects.count() == before + counts["added"]


def run_student(sasid: str) -> int:
    return Student.objects.get(sasid_index=index_for("sasid", sasid)).pk


def test_the_lean_parse_gives_exactly_the_reference_parse(
    alice: Actor, district_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every file of the district, parsed by the lean pass and by the reference loop (the lean
    pass switched off), gives equal rows: values, provided elements, linked students, keys."""
    assert import_files(actor=alice, format_name="district", paths=[district_copy]).status == (
        "committed"
    )
    from studentvault.core.elements import data_element_of
    from studentvault.exchange.formats import FormatOptions, get_format
    from studentvault.exchange.intake import receive
    from studentvault.records.district_files import value_fields

    fmt = get_format("district")
    received = [receive(p, text=True) for p in fmt.expand([district_copy])]
    results: dict[str, list[Any]] = {}
    lean_answers: list[bool] = []
    original = engine.Engine._parse_valid

    def recorded(self: engine.Engine, *args: Any) -> Any:
        answer = original(self, *args)
        lean_answers.append(answer is not None)
        return answer

    monkeypatch.setattr(engine.Engine, "_parse_valid", recorded)
    for lean in (True, False):
        if not lean:
            monkeypatch.setattr(engine.Engine, "_parse_valid", lambda *args: None)
        runner = engine.Engine(actor=alice)
        runner._load_orgs()
        for canonical in fmt.canonical_files(received, FormatOptions()):
            fields = [(f, data_element_of(f)) for f in value_fields(canonical.spec.model)]
            seen: set[Any] = set()
            texts = engine._Texts(list(canonical.rows), canonical.header)
            parsed = runner._parse_batch(canonical, fields, texts, seen).rows
            results.setdefault(canonical.name, []).append((parsed, seen))
            assert not runner.problems, canonical.name
    assert len(lean_answers) == len(results) and all(lean_answers)  # the lean pass answered
    for name, ((lean_rows, lean_seen), (reference_rows, reference_seen)) in results.items():
        assert len(lean_rows) == len(reference_rows) > 0, name
        assert lean_rows == reference_rows, name
        assert lean_seen == reference_seen, name


def test_the_lean_parse_leaves_a_bad_batch_to_the_reference_parse(
    alice: Actor, district_copy: Path
) -> None:
    header, rows = read_csv(district_copy / "students.csv")
    rows[3] = rows[3][:]
    rows[3][header.index("birth_date")] = "31/12/2011"
    rows[7][header.index("sasid")] = rows[5][header.index("sasid")]
    write_csv(district_copy / "students.csv", header, rows)
    run = import_files(actor=alice, format_name="district", paths=[district_copy])
    assert run.status == ImportRun.Status.REJECTED
    found = {(p["line"], p["field"]) for p in run.report["problems"]}
    assert found == {(5, "birth_date"), (9, "sasid")}
    assert not Student.objects.exists()


postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="COPY streams exist on PostgreSQL only"
)


def disability_rows(count: int) -> list[dict[str, Any]]:
    """Disability rows of ``count`` synthetic students stored for them in a new district."""
    district = District.objects.create(state_code="9999", name="Synthetic Test District")
    ids = bulk.write_new(
        Student, [student_values(district, n) for n in range(count)], with_ids=True
    )
    return [{"student_id": pk, "disability_type": "SLI", "is_primary": True} for pk in ids]


@postgres_only
def test_an_open_copy_stream_is_finished_before_any_other_statement() -> None:
    rows = disability_rows(4)
    streams = bulk.CopyStreams()
    with streams.active():
        bulk.write_new(Disability, rows[:2], streams=streams)
        bulk.write_new(Disability, rows[2:], streams=streams)
        assert streams._open is not None  # still streaming: nothing else ran yet
        assert Disability.objects.count() == 4  # the query finished the stream first
        assert streams._open is None
        bulk.write_new(Disability, rows[:1], streams=streams)
    assert streams._open is None  # leaving the block finishes it
    assert Disability.objects.count() == 5
    assert {d.disability_type for d in Disability.objects.all()} == {"SLI"}


@postgres_only
def test_the_stream_dumps_bytea_with_the_compiled_bytes_dumper_on_its_own_cursor_only() -> None:
    from psycopg.pq import Format

    rows = disability_rows(2)
    streams = bulk.CopyStreams()
    with streams.active():
        bulk.write_new(Disability, rows, streams=streams)
        assert streams._open is not None
        _, cursor, _, _ = streams._open
        ours = cursor.cursor.adapters.get_dumper_by_oid(17, Format.BINARY)
        with connection.cursor() as other:
            theirs = other.cursor.adapters.get_dumper_by_oid(17, Format.BINARY)
    assert ours.__name__ == "BytesBinaryDumper" and ours.__module__ == "psycopg_binary._psycopg"
    assert theirs.__name__ == "BinaryBinaryDumper"  # psycopg's DB-API default, left alone
    assert [d.student_id for d in Disability.objects.order_by("pk")] == [
        r["student_id"] for r in rows
    ]


@postgres_only
def test_students_stream_with_keys_taken_ahead_in_growing_blocks() -> None:
    district = District.objects.create(state_code="9999", name="Synthetic Test District")
    streams = bulk.CopyStreams()
    with streams.active():
        first = bulk.write_new(
            Student, [student_values(district, n) for n in range(3)], with_ids=True, streams=streams
        )
        assert streams._open is not None  # the rows are still on their way
        second = bulk.write_new(
            Student,
            [student_values(district, n) for n in range(3, 6)],
            with_ids=True,
            streams=streams,
        )
        # The second batch's keys came from the block taken with the first (3, then 6 keys):
        # no question was asked in between, or the stream would have been finished.
        assert streams._open is not None
        assert first + second == sorted(first + second) and len(set(first + second)) == 6
        stored = dict(Student.objects.values_list("pk", "sasid_index"))  # finishes the stream
        assert streams._open is None
    assert sorted(stored) == first + second
    for n, pk in enumerate(first + second):
        assert stored[pk] == index_for("sasid", f"99{n:08d}")
        assert Student.objects.get(pk=pk).last_name == f"Quillfeather{n}"


@postgres_only
def test_keys_are_taken_in_blocks_that_double_up_to_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bulk, "_ID_BLOCK", 8)
    asked: list[int] = []
    next_ids = bulk._next_ids

    def counting(connection: Any, table: str, count: int) -> list[int]:
        asked.append(count)
        return next_ids(connection, table, count)

    monkeypatch.setattr(bulk, "_next_ids", counting)
    streams = bulk.CopyStreams()
    taken = [streams.ids("records_student", 3) for _ in range(8)]
    assert asked == [3, 6, 8, 8]
    flat = [pk for batch in taken for pk in batch]
    assert len(flat) == 24 and flat == sorted(flat) and len(set(flat)) == 24
    assert streams.ids("records_student", 20) and asked[-1] == 20 - 1  # one key was left


@postgres_only
def test_an_error_inside_the_block_abandons_the_stream_and_nothing_is_stored() -> None:
    from django.db import transaction

    rows = disability_rows(3)
    streams = bulk.CopyStreams()
    with pytest.raises(RuntimeError), transaction.atomic(), streams.active():
        bulk.write_new(Disability, rows, streams=streams)
        raise RuntimeError("a problem in the middle of a file")
    assert streams._open is None
    assert Disability.objects.count() == 0
    assert Student.objects.count() == 3


def test_organization_rows_are_looked_up_by_their_keys_not_by_reading_every_row() -> None:
    from studentvault.records.models import Section

    def row(**values: Any) -> Any:
        return engine._Parsed(2, values, list(values), [])

    rows = [
        row(school_id=1, school_year=2027, section_code="A1"),
        row(school_id=2, school_year=2027, section_code="B7"),
    ]
    assert engine._narrowing(Section, engine._unique_key(Section), rows) == {
        "school_id__in": {1, 2},
        "school_year__in": {2027},
        "section_code__in": {"A1", "B7"},
    }
    # An element some row does not give (or gives as nothing) cannot narrow: every value counts.
    rows.append(row(school_id=3, school_year=None))
    assert engine._narrowing(Section, engine._unique_key(Section), rows) == {
        "school_id__in": {1, 2, 3}
    }
    assert engine._narrowing(Student, engine._unique_key(Student), rows) == {}
