"""The synthetic district's files: the layout contract, determinism, codes and integrity."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from studentvault.core.elements import data_element_of
from studentvault.records import models
from studentvault.records import synthetic as synthetic_package
from studentvault.records.codes import code_set
from studentvault.records.models.base import Record
from studentvault.records.synthetic import FILES, GenerationError, generate
from studentvault.records.synthetic import students as synthetic_students

YEAR = 2026  # the school year (2025-26) of the districts these tests generate
MODEL_OF_FILE: dict[str, type[Record]] = {
    "district.csv": models.District,
    "schools.csv": models.School,
    "students.csv": models.Student,
    "enrollments.csv": models.Enrollment,
    "courses.csv": models.Course,
    "sections.csv": models.Section,
    "section_enrollments.csv": models.SectionEnrollment,
    "course_completions.csv": models.CourseCompletion,
    "programs.csv": models.ProgramParticipation,
    "early_childhood_enrollments.csv": models.EarlyChildhoodEnrollment,
    "early_childhood_assessments.csv": models.EarlyChildhoodAssessment,
    "disabilities.csv": models.Disability,
    "special_education_services.csv": models.SpecialEducationService,
    "ieps.csv": models.IndividualizedEducationProgram,
    "discipline_incidents.csv": models.DisciplineIncident,
    "parent_contacts.csv": models.ParentContact,
    "english_learner_profiles.csv": models.EnglishLearnerProfile,
    "english_proficiency_results.csv": models.EnglishProficiencyResult,
    "migrant_eligibilities.csv": models.MigrantEligibility,
    "migrant_services.csv": models.MigrantService,
    "concurrent_enrollments.csv": models.ConcurrentEnrollment,
    "cte_participations.csv": models.CareerTechnicalParticipation,
    "assessments.csv": models.Assessment,
    "assessment_results.csv": models.AssessmentResult,
}
# A foreign key is written as the natural key of the row it points to.
NATURAL_KEY = {
    models.District: ["district_code"],
    models.School: ["school_code"],
    models.Student: ["sasid"],
    models.Course: ["course_code"],
    models.Assessment: ["assessment_code"],
    models.Section: ["school_code", "school_year", "section_code"],
}


def model_columns(model: type[Record]) -> list[str]:
    """The model's data fields in model order, links replaced by natural keys (no system
    fields: the row id, ``row_uid`` and blind indexes carry no data element)."""
    columns: list[str] = []
    for field in model._meta.concrete_fields:
        if data_element_of(field) is None:
            continue
        if field.is_relation:
            columns += [c for c in NATURAL_KEY[field.related_model] if c not in columns]
        else:
            columns.append(field.name)
    return columns


def read(folder: Path, name: str) -> list[dict[str, str]]:
    with open(folder / name, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("district") / "out"
    generate(seed=7, students=3_000, out=out, workers=1, school_year=YEAR)
    return out


def test_every_student_model_has_a_file_with_the_model_columns() -> None:
    record_models = {m for m in MODEL_OF_FILE.values()}
    from django.apps import apps

    concrete = {m for m in apps.get_app_config("records").get_models() if issubclass(m, Record)}
    assert concrete == record_models, "a records model has no synthetic file (or vice versa)"
    assert set(FILES) == set(MODEL_OF_FILE)
    for name, model in MODEL_OF_FILE.items():
        assert list(FILES[name]) == model_columns(model), name


def test_the_layout_is_the_one_the_district_loader_reads() -> None:
    from studentvault.records.district_files import FILES as LOADER_FILES
    from studentvault.records.district_files import columns_of

    assert [spec.file for spec in LOADER_FILES] == list(FILES)
    for spec in LOADER_FILES:
        assert columns_of(spec) == list(FILES[spec.file]), spec.file


def test_written_headers_are_the_model_columns(district: Path) -> None:
    for name, model in MODEL_OF_FILE.items():
        first = (district / name).read_text("utf-8").split("\n", 1)[0]
        assert first.split(",") == model_columns(model), name


def test_same_seed_same_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    generate(seed=11, students=600, out=tmp_path / "a", school_year=YEAR)
    generate(seed=11, students=600, out=tmp_path / "b", school_year=YEAR)
    generate(seed=12, students=600, out=tmp_path / "c", school_year=YEAR)
    a, b, c = (file_bytes(tmp_path / x) for x in "abc")
    assert a == b
    assert a["students.csv"] != c["students.csv"]
    assert a["assessment_results.csv"] != c["assessment_results.csv"]


def test_output_does_not_depend_on_the_number_of_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small chunks so that 1 900 students make several chunks, the last one short.
    monkeypatch.setattr(synthetic_students, "CHUNK_STUDENTS", 700)
    monkeypatch.setattr(synthetic_package, "CHUNK_STUDENTS", 700)
    one = generate(seed=5, students=1_900, out=tmp_path / "one", workers=1, school_year=YEAR)
    two = generate(seed=5, students=1_900, out=tmp_path / "two", workers=2, school_year=YEAR)
    assert two.workers == 2
    assert file_bytes(tmp_path / "one") == file_bytes(tmp_path / "two")
    assert one.rows["students.csv"] == 1_900


def test_manifest_has_seed_counts_and_hashes(district: Path) -> None:
    manifest = json.loads((district / "manifest.json").read_text("utf-8"))
    assert manifest["seed"] == 7
    assert manifest["school_year"] == YEAR
    assert manifest["students"] == 3_000
    assert set(manifest["files"]) == set(FILES)
    for name, facts in manifest["files"].items():
        data = (district / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == facts["sha256"], name
        assert data.count(b"\n") - 1 == facts["rows"], name


def test_files_are_utf8_with_newline_endings(district: Path) -> None:
    for name in FILES:
        data = (district / name).read_bytes()
        data.decode("utf-8")
        assert b"\r" not in data, name
        assert data.endswith(b"\n"), name


def test_every_code_is_in_its_code_set(district: Path) -> None:
    checked = 0
    for name, model in MODEL_OF_FILE.items():
        rows = read(district, name)
        for field in model._meta.concrete_fields:
            facts = data_element_of(field)
            if facts is None or facts.code_set is None:
                continue
            allowed = {c.code for c in code_set(facts.code_set)}
            for row in rows:
                value = row[field.name]
                if facts.value_kind == "codes":  # a list of codes joined by |
                    parts = value.split("|") if value else []
                    assert all(p in allowed for p in parts), (name, field.name, value)
                    assert len(parts) == len(set(parts)), (name, field.name, value)
                elif value == "":
                    assert field.blank, (name, field.name, "blank value in a required code")
                else:
                    assert value in allowed, (name, field.name, value)
                checked += 1
    assert checked > 10_000


def test_dates_booleans_and_numbers_are_well_formed(district: Path) -> None:
    import datetime

    for name, model in MODEL_OF_FILE.items():
        rows = read(district, name)
        for field in model._meta.concrete_fields:
            if field.name not in FILES[name]:
                continue
            values = [row[field.name] for row in rows]
            kind = field.get_internal_type()
            for value in values:
                if value == "":
                    assert field.null or field.blank, (name, field.name)
                elif kind == "DateField":
                    datetime.date.fromisoformat(value)
                elif kind == "BooleanField":
                    assert value in {"0", "1"}, (name, field.name, value)
                elif kind in {"IntegerField", "PositiveSmallIntegerField"}:
                    assert value.isdigit(), (name, field.name, value)
                elif kind == "CharField":
                    assert len(value) <= field.max_length, (name, field.name)


def test_referential_integrity(district: Path) -> None:
    sasids = {row["sasid"] for row in read(district, "students.csv")}
    schools = {row["state_code"] for row in read(district, "schools.csv")}
    courses = {row["code"] for row in read(district, "courses.csv")}
    assessments = {row["code"] for row in read(district, "assessments.csv")}
    sections = {
        (row["school_code"], row["school_year"], row["section_code"])
        for row in read(district, "sections.csv")
    }
    for name, header in FILES.items():
        if name == "students.csv":
            continue
        rows = read(district, name)
        if "sasid" in header:
            assert {r["sasid"] for r in rows} <= sasids, name
        if "school_code" in header:
            assert {r["school_code"] for r in rows} <= schools, name
        if "district_code" in header:
            assert {r["district_code"] for r in rows} == {"9999"}, name
    for row in read(district, "sections.csv"):
        assert row["course_code"] in courses
    for name in ("section_enrollments.csv", "course_completions.csv"):
        for row in read(district, name):
            assert (row["school_code"], row["school_year"], row["section_code"]) in sections
    for row in read(district, "assessment_results.csv"):
        assert row["assessment_code"] in assessments


def test_keys_are_unique(district: Path) -> None:
    students = read(district, "students.csv")
    sasids = [r["sasid"] for r in students]
    assert len(set(sasids)) == len(sasids)
    assert all(len(s) == 10 and s.isdigit() and s[0] != "0" for s in sasids)
    local = [r["local_id"] for r in students]
    assert len(set(local)) == len(local)
    schools = [r["state_code"] for r in read(district, "schools.csv")]
    assert len(set(schools)) == len(schools)
    assert all(len(code) == 4 and code.isdigit() for code in schools)
    sections = [(r["school_code"], r["section_code"]) for r in read(district, "sections.csv")]
    assert len(set(sections)) == len(sections)
    results = [(r["sasid"], r["assessment_code"]) for r in read(district, "assessment_results.csv")]
    assert len(set(results)) == len(results)
    rosters = [
        (r["school_code"], r["section_code"], r["sasid"])
        for r in read(district, "section_enrollments.csv")
    ]
    assert len(set(rosters)) == len(rosters)


def test_every_student_has_exactly_one_open_or_closed_current_enrollment(district: Path) -> None:
    current: dict[str, int] = {}
    for row in read(district, "enrollments.csv"):
        if row["school_year"] == str(YEAR) and row["exit_type"] != "11":
            current[row["sasid"]] = current.get(row["sasid"], 0) + 1
        if row["exit_date"]:
            assert row["exit_date"] > row["entry_date"]
    assert set(current.values()) == {1}
    assert len(current) == 3_000


def test_refuses_a_folder_with_other_files_and_keeps_them(tmp_path: Path) -> None:
    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me", "utf-8")
    with pytest.raises(GenerationError, match="did not write"):
        generate(seed=1, students=100, out=folder)
    assert (folder / "notes.txt").read_text("utf-8") == "keep me"
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


def test_refuses_to_replace_a_district_without_overwrite(tmp_path: Path) -> None:
    folder = tmp_path / "district"
    generate(seed=1, students=100, out=folder)
    before = file_bytes(folder)
    with pytest.raises(GenerationError, match="--overwrite"):
        generate(seed=2, students=100, out=folder)
    assert file_bytes(folder) == before
    generate(seed=2, students=100, out=folder, overwrite=True)
    assert file_bytes(folder) != before


@pytest.mark.parametrize(
    ("students", "seed", "message"),
    [(10, 1, "--students must be between"), (100, -1, "--seed must be")],
)
def test_bad_arguments_are_named(tmp_path: Path, students: int, seed: int, message: str) -> None:
    with pytest.raises(GenerationError, match=message):
        generate(seed=seed, students=students, out=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_command_writes_the_district_and_a_summary(tmp_path: Path) -> None:
    from io import StringIO

    out, err = StringIO(), StringIO()
    report = tmp_path / "report.json"
    call_command(
        "generate",
        students=150,
        seed=3,
        out=tmp_path / "d",
        school_year=YEAR,
        workers=1,
        report_json=report,
        stdout=out,
        stderr=err,
    )
    assert "students.csv" in out.getvalue()
    assert "for 150 students (seed 3, school year 2026)" in out.getvalue()
    assert json.loads(report.read_text("utf-8"))["rows"]["students.csv"] == 150
    direct = tmp_path / "direct"
    generate(seed=3, students=150, out=direct, school_year=YEAR)
    assert file_bytes(tmp_path / "d") == file_bytes(direct)


def test_command_reports_bad_input_as_a_command_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="--students must be between"):
        call_command("generate", students=5, out=tmp_path / "d")
    with pytest.raises(CommandError, match="--workers"):
        call_command("generate", students=100, out=tmp_path / "d", workers=0)


def test_format_document_lists_every_file_and_column_as_the_models_say() -> None:
    from studentvault.records.synthetic.reference import column_reference, file_columns

    root = Path(__file__).resolve().parents[2]
    text = (root / "docs" / "formats" / "synthetic-district.md").read_text("utf-8")
    begin = "<!-- BEGIN column reference: generated, do not edit by hand -->\n"
    end = "<!-- END column reference -->"
    generated = text.split(begin, 1)[1].split(end, 1)[0]
    assert generated == column_reference(), "regenerate the column reference of the document"
    for name, header in FILES.items():
        assert f"### {name}\n" in generated
        assert [c for c, _, _, _ in file_columns(name)] == list(header), name
