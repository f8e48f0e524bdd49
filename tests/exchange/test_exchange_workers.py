"""Worker processes in a first load (exchange.workers): the record files parsed, checked and
sealed in forked children, their COPY data sent by the importer.

The outcome must be the serial one in every way: the same rows (compared decrypted), the same
report, all or nothing. A child must never use the inherited connection; one that needs the
database, or dies, hands its file back to the importer.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, models, transaction

from studentvault.audit.models import AuditEntry
from studentvault.core.actors import Actor
from studentvault.crypto.keysets import ensure_keysets
from studentvault.exchange import bulk, engine, workers
from studentvault.exchange.models import ImportRun
from studentvault.exchange.services import import_files
from studentvault.exchange.uploads import staging_root
from studentvault.records.district_files import FILES
from studentvault.records.models import Disability, District, ParentContact, Student

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="worker processes serve PostgreSQL first loads"
)
RECORD_FILES = {spec.file for spec in FILES if "student" in spec.links}
RECORD_MODELS = [spec.model for spec in FILES if "student" in spec.links]


class _Undo(Exception):
    """Rolls back one import inside the test's transaction."""


@pytest.fixture(autouse=True)
def one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in the command line's process. (pytest-xdist runs threads of its own, for its
    messages; they touch nothing a child uses.)"""
    monkeypatch.setattr(workers, "_threads", lambda: 1)


@pytest.fixture(autouse=True)
def keys() -> None:
    """Keysets made before the imports, which roll back: both use the same blind-index root."""
    ensure_keysets(actor=Actor.system("test-workers"))


def stored() -> dict[str, list[str]]:
    """Every stored student and student record, decrypted, with links shown by what they name
    (keys differ between two imports): the student's SASID, an organization's name and code."""
    sasid = {student.pk: student.sasid for student in Student.objects.all()}
    out: dict[str, list[str]] = {}
    for model in [Student, *RECORD_MODELS]:
        fields = [f for f in model._meta.concrete_fields if f.attname not in ("id", "row_uid")]
        links = [f.name for f in fields if isinstance(f, models.ForeignKey) and f.name != "student"]
        rows = []
        for obj in model.objects.select_related(*links):
            shown = []
            for f in fields:
                if f.attname == "student_id":
                    shown.append(sasid[obj.student_id])
                elif isinstance(f, models.ForeignKey):
                    shown.append(str(getattr(obj, f.name)))
                else:
                    shown.append(repr(getattr(obj, f.attname)))
            rows.append("|".join(shown))
        out[model.__name__] = sorted(rows)
    return out


def audited(run: ImportRun) -> tuple[list[str], list[str]]:
    """The SASIDs of the students the run's commit entries name, and their categories."""
    sasid = {student.pk: student.sasid for student in Student.objects.all()}
    entries = AuditEntry.objects.filter(action="exchange:import:commit", target=f"import:{run.pk}")
    students = sorted(sasid[pk] for entry in entries for pk in json.loads(entry.student_ids))
    return students, sorted({entry.categories for entry in entries})


def import_and_read(actor: Actor, folder: Path) -> dict[str, Any]:
    """Import ``folder`` as a first load, read the outcome, and roll it all back."""
    seen: dict[str, Any] = {}
    with pytest.raises(_Undo), transaction.atomic():
        run = import_files(actor=actor, format_name="district", paths=[folder])
        seen = {
            "status": run.status,
            "counts": (run.added, run.changed, run.unchanged, run.errors),
            "files": run.report["files"],
            "preview": run.report["preview"],
            "problems": run.report["problems"],
            "stored": stored() if run.status == ImportRun.Status.COMMITTED else None,
            "audited": audited(run),
        }
        raise _Undo
    assert not Student.objects.exists()
    return seen


def alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on the importer applies every file itself."""
    monkeypatch.setattr(workers, "worker_count", lambda: 0)


def handed_back(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "applied by the importer itself" in r.msg]


@postgres_only
def test_workers_store_and_report_exactly_what_the_importer_alone_does(
    alice: Actor,
    district_copy: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    started: list[str] = []
    start = workers._start

    def spy(loop_engine: Any, source: Any, folder: Path) -> Any:
        started.append(source.name)
        assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o700
        return start(loop_engine, source, folder)

    monkeypatch.setattr(workers, "_start", spy)
    # What the scope check is asked about (new students by category) must be the same too.
    checked: list[dict[str, int]] = []
    check = engine.Engine.check_new_students

    def recording(self: engine.Engine) -> None:
        checked.append({c.value: len(ids) for c, ids in self.new_student_categories.items()})
        check(self)

    monkeypatch.setattr(engine.Engine, "check_new_students", recording)
    caplog.set_level(logging.INFO, logger="studentvault.exchange.workers")
    with_workers = import_and_read(alice, district_copy)
    assert set(started) == RECORD_FILES and handed_back(caplog) == []
    assert with_workers["status"] == ImportRun.Status.COMMITTED
    assert not list(staging_root().glob("spool-*"))  # the spooled data is gone

    alone(monkeypatch)
    serial = import_and_read(alice, district_copy)
    assert len(started) == len(RECORD_FILES)  # no child this time
    assert with_workers == serial
    assert checked[0] == checked[1] and len(checked[0]) > 5
    students_and_records = RECORD_FILES | {"students.csv"}
    added = sum(f["added"] for f in serial["files"] if f["name"] in students_and_records)
    assert sum(len(rows) for rows in serial["stored"].values()) == added > 3000


@pytest.fixture
def both_ways(
    alice: Actor,
    district_copy: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> Callable[[], list[str]]:
    """Import with worker processes, then without; assert the two outcomes are the same and
    return the messages of the files handed back the first time."""

    def run() -> list[str]:
        caplog.set_level(logging.INFO, logger="studentvault.exchange.workers")
        outcome = import_and_read(alice, district_copy)
        back = handed_back(caplog)
        alone(monkeypatch)
        assert outcome == import_and_read(alice, district_copy)
        return back

    return run


@postgres_only
def test_a_worker_that_needs_the_database_hands_its_file_back(
    both_ways: Callable[[], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    importer = os.getpid()
    allowed = engine.Engine._allowed

    def asking(self: engine.Engine, category: Any, ids: set[int]) -> set[int]:
        if os.getpid() != importer:
            Student.objects.exists()  # refused in a child, before anything is sent
        return allowed(self, category, ids)

    monkeypatch.setattr(engine.Engine, "_allowed", asking)
    back = both_ways()
    assert len(back) == len(RECORD_FILES)
    assert all("needs the database (a statement)" in message for message in back)


@postgres_only
def test_a_worker_that_dies_hands_its_file_back(
    both_ways: Callable[[], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    importer = os.getpid()
    apply = engine.Engine.apply

    def dying(self: engine.Engine, source: Any) -> Any:
        if os.getpid() != importer and source.name == "parent_contacts.csv":
            os._exit(3)
        return apply(self, source)

    monkeypatch.setattr(engine.Engine, "apply", dying)
    assert both_ways() == [
        "parent_contacts.csv applied by the importer itself: its worker ended with status 768"
    ]


@postgres_only
def test_a_bad_row_in_a_workers_file_stores_nothing_and_names_the_row(
    alice: Actor, district_copy: Path
) -> None:
    path = district_copy / "disabilities.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    rows[-1][rows[0].index("disability_type")] = "not-a-code"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    run = import_files(actor=alice, format_name="district", paths=[district_copy])
    assert run.status == ImportRun.Status.REJECTED
    problems = run.report["problems"]
    assert problems[0]["file"] == "disabilities.csv" and problems[0]["line"] == len(rows)
    assert problems[0]["field"] == "disability_type"
    assert not Student.objects.exists() and not Disability.objects.exists()
    assert not ParentContact.objects.exists()
    assert not list(staging_root().glob("spool-*"))


@postgres_only
def test_spooled_rows_replay_as_the_rows_written_directly(tmp_path: Path) -> None:
    district = District.objects.create(state_code="9999", name="Synthetic Test District")
    model = District
    types = bulk.spool_types(model)
    streams = bulk.SpoolStreams(tmp_path, types)
    with streams.active():
        bulk.write_new(model, [{"state_code": "9998", "name": "Spooled"}], streams=streams)
    ((table, names, path),) = streams.spooled
    assert District.objects.count() == 1  # nothing was sent
    bulk.replay(table, names, path)
    spooled = District.objects.exclude(pk=district.pk).get()
    assert (spooled.state_code, spooled.name) == ("9998", "Spooled")


@postgres_only
def test_a_spool_refuses_every_statement_and_key_before_anything_is_sent(tmp_path: Path) -> None:
    sent: list[str] = []

    def watch(execute: Any, sql: Any, params: Any, many: Any, context: Any) -> Any:
        sent.append(sql)
        return execute(sql, params, many, context)

    streams = bulk.SpoolStreams(tmp_path, {})
    # ``watch`` is inside the spool's own wrapper: it sees what would reach the connection.
    with streams.active(), connection.execute_wrapper(watch):
        with pytest.raises(bulk.NeedsDatabase):
            Student.objects.count()
        with pytest.raises(bulk.NeedsDatabase):
            streams.ids("records_student", 3)
        with pytest.raises(bulk.NeedsDatabase, match="column types of records_district"):
            bulk.write_new(District, [{"state_code": "9997", "name": "X"}], streams=streams)
    assert sent == []
    assert Student.objects.count() == 0  # the connection is as it was


def test_workers_only_on_postgresql_in_a_process_of_one_thread(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.IMPORT_WORKERS = 2
    expected = 2 if connection.vendor == "postgresql" else 0
    assert workers.worker_count() == expected
    settings.IMPORT_WORKERS = 0
    assert workers.worker_count() == 0
    settings.IMPORT_WORKERS = 2
    monkeypatch.setattr(workers, "_threads", threading.active_count)
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert workers.worker_count() == 0  # a lock that thread holds would stay held in a child
    finally:
        release.set()
        other.join()


def test_merged_results_are_what_one_engine_would_have_kept() -> None:
    """A worker starts from empty results; the merge keeps the engine's limits and order."""
    from studentvault.core.categories import DataCategory
    from studentvault.exchange.engine import MAX_PROBLEMS, PREVIEW_LIMIT, FileCounts, Problem

    merged = engine.Engine(actor=Actor.system("test-workers"))
    merged.preview = [{"line": n} for n in range(PREVIEW_LIMIT - 3)]
    merged.touched_students = {1, 2}
    merged.new_student_categories = {DataCategory.DEMOGRAPHICS: {1, 2}}
    worker = engine.Engine(actor=Actor.system("test-workers"))
    worker.for_worker(bulk.CopyStreams())
    assert (worker.preview, worker.problems, worker.counts) == ([], [], [])
    worker.counts = [FileCounts(name="programs.csv", model="ProgramParticipation", added=9)]
    worker.preview = [{"line": 1000 + n} for n in range(10)]
    worker.problems = [Problem("programs.csv", n, None, "bad") for n in range(MAX_PROBLEMS)]
    worker.touched_students = {2, 3}
    worker.new_student_categories = {
        DataCategory.DEMOGRAPHICS: {3},
        DataCategory.PROGRAMS: {2},
    }
    merged.merge(worker.results())
    assert [p["line"] for p in merged.preview[-4:]] == [PREVIEW_LIMIT - 4, 1000, 1001, 1002]
    assert len(merged.preview) == PREVIEW_LIMIT and len(merged.problems) == MAX_PROBLEMS
    assert [c.name for c in merged.counts] == ["programs.csv"]
    assert merged.touched_students == {1, 2, 3}
    assert merged.new_student_categories == {
        DataCategory.DEMOGRAPHICS: {1, 2, 3},
        DataCategory.PROGRAMS: {2},
    }
