"""Importing the synthetic district: counts match, re-import is a no-op, all or nothing."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from studentvault.audit.models import AuditEntry
from studentvault.core.actors import Actor
from studentvault.exchange.models import ImportRun
from studentvault.exchange.services import import_files
from studentvault.records.district_files import FILES
from studentvault.records.models import Student

pytestmark = pytest.mark.django_db


def data_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def test_first_import_adds_every_row_then_reimport_changes_nothing(
    alice: Actor, district_copy: Path
) -> None:
    run = import_files(actor=alice, format_name="district", paths=[district_copy])
    assert run.status == ImportRun.Status.COMMITTED, run.report["problems"]
    by_file = {f["name"]: f for f in run.report["files"]}
    for spec in FILES:
        expected = data_rows(district_copy / spec.file)
        assert by_file[spec.file]["rows"] == expected, spec.file
        assert spec.model.objects.count() == expected, spec.file
    assert run.added == sum(data_rows(district_copy / s.file) for s in FILES)
    commit = AuditEntry.objects.filter(action="exchange:import:commit").order_by("seq").first()
    assert commit is not None and commit.actor_username == "alice"
    assert len(commit.student_list) == Student.objects.count() == 300

    again = import_files(actor=alice, format_name="district", paths=[district_copy])
    assert again.status == ImportRun.Status.COMMITTED
    assert (again.added, again.changed) == (0, 0)
    assert again.unchanged == run.added


def test_files_apply_organizations_then_students_then_records_largest_first(
    district_copy: Path,
) -> None:
    from studentvault.exchange.formats import FormatOptions, get_format
    from studentvault.exchange.intake import receive

    fmt = get_format("district")
    received = [receive(p, text=fmt.text) for p in fmt.expand([district_copy])]
    order = [c.name for c in fmt.canonical_files(received, FormatOptions())]
    specs = {spec.file: spec for spec in FILES}
    organizations = [s.file for s in FILES if "student" not in s.links and s.file != "students.csv"]
    records = [name for name in order if "student" in specs[name].links]
    assert order == [*organizations, "students.csv", *records]
    sizes = [(district_copy / name).stat().st_size for name in records]
    assert sizes == sorted(sizes, reverse=True) and len(records) == len(FILES) - 6
