"""The synthetic district looks like a real one: rates near published figures, consistent
demographics, scores consistent with levels, and subgroups of every size."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import statistics
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from studentvault.records.codes import code_set
from studentvault.records.models.student import RACE_FLAGS, federal_race_ethnicity
from studentvault.records.synthetic import generate

STUDENTS = 20_000
YEAR = 2026  # the school year (2025-26) of the district these tests generate


def read(folder: Path, name: str) -> list[dict[str, str]]:
    with open(folder / name, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("realism") / "out"
    generate(seed=2026, students=STUDENTS, out=out, workers=2, school_year=YEAR)
    return out


@pytest.fixture(scope="module")
def students(district: Path) -> list[dict[str, str]]:
    return read(district, "students.csv")


@pytest.fixture(scope="module")
def current(district: Path) -> dict[str, dict[str, str]]:
    """Each student's current (YEAR, not transferred away) enrollment."""
    rows = read(district, "enrollments.csv")
    return {r["sasid"]: r for r in rows if r["school_year"] == str(YEAR) and r["exit_type"] != "11"}


def share(count: int, total: int = STUDENTS) -> float:
    return count / total


def test_race_ethnicity_is_colorado_like(students: list[dict[str, str]]) -> None:
    labels = {c.code: c.label for c in code_set("federal_race_ethnicity")}
    counts = Counter(labels[s["federal_race_ethnicity"]] for s in students)
    bounds = {
        "Hispanic or Latino": (0.30, 0.38),
        "White": (0.46, 0.56),
        "Black or African American": (0.035, 0.065),
        "Asian": (0.02, 0.04),
        "American Indian or Alaska Native": (0.005, 0.016),
        "Native Hawaiian or Other Pacific Islander": (0.001, 0.006),
        "Two or More Races": (0.04, 0.065),
    }
    for label, (low, high) in bounds.items():
        assert low <= share(counts[label]) <= high, (label, share(counts[label]))


def test_federal_category_agrees_with_the_flags(students: list[dict[str, str]]) -> None:
    for s in students:
        expected = federal_race_ethnicity(
            hispanic_latino=s["hispanic_latino"] == "1",
            races={flag: s[flag] == "1" for flag in RACE_FLAGS},
        )
        assert s["federal_race_ethnicity"] == expected


def test_gender_has_a_small_non_binary_share(students: list[dict[str, str]]) -> None:
    counts = Counter(s["gender"] for s in students)
    assert 0.002 <= share(counts["03"]) <= 0.01
    assert 0.46 <= share(counts["01"]) <= 0.52


def test_birth_dates_fit_the_grade(
    students: list[dict[str, str]], current: dict[str, dict[str, str]]
) -> None:
    ordinal = {k: int(v) for k, v in code_set("grade_level").column("ordinal").items()}
    cutoff = dt.date(YEAR - 1, 10, 1)
    retained = 0
    for s in students:
        born = dt.date.fromisoformat(s["birth_date"])
        age = cutoff.year - born.year - ((cutoff.month, cutoff.day) < (born.month, born.day))
        expected = ordinal[current[s["sasid"]]["grade_level"]] + 5
        assert age in (expected, expected + 1), (expected, age)
        retained += age == expected + 1
    assert 0.01 < share(retained) < 0.08


def test_program_rates_are_near_published_ones(district: Path) -> None:
    programs = read(district, "programs.csv")
    by_program: dict[str, set[str]] = defaultdict(set)
    for row in programs:
        by_program[row["program"]].add(row["sasid"])
        if row["program"] != "free_reduced_lunch":
            assert row["lunch_eligibility"] == ""
        if row["program"] != "gifted":
            assert row["gifted_areas"] == ""
    bounds = {
        "free_reduced_lunch": (0.33, 0.47),
        "special_education": (0.10, 0.145),
        "gifted": (0.06, 0.10),
        "english_learner": (0.10, 0.15),
        "migrant": (0.002, 0.009),
        "homeless": (0.008, 0.022),
        "section_504": (0.02, 0.04),
        "title_i": (0.05, 0.6),
    }
    for program, (low, high) in bounds.items():
        assert low <= share(len(by_program[program])) <= high, (
            program,
            share(len(by_program[program])),
        )
    assert by_program["special_education"] == {r["sasid"] for r in read(district, "ieps.csv")}
    assert by_program["special_education"] == {
        r["sasid"] for r in read(district, "disabilities.csv") if r["is_primary"] == "1"
    }
    assert by_program["migrant"] == {
        r["sasid"] for r in read(district, "migrant_eligibilities.csv")
    }


def test_english_learners_have_profiles_and_proficiency_results(district: Path) -> None:
    profiles = read(district, "english_learner_profiles.csv")
    learners = {r["sasid"] for r in profiles if r["proficiency_level"] in {"NEP", "LEP"}}
    assert 0.11 <= share(len(learners)) <= 0.15
    results = read(district, "english_proficiency_results.csv")
    assert {r["sasid"] for r in results} <= learners
    assert len(results) > 0.9 * len(learners)
    for r in results:
        assert 1.0 <= float(r["proficiency_level"]) <= 6.0
        assert 100 <= int(r["composite_score"]) <= 600


def test_cmas_levels_match_published_shares_and_scores_match_levels(district: Path) -> None:
    results = read(district, "assessment_results.csv")
    ela = Counter(
        r["performance_level"]
        for r in results
        if r["assessment_code"].startswith("CMAS-ELA") and r["performance_level"]
    )
    math = Counter(
        r["performance_level"]
        for r in results
        if r["assessment_code"].startswith("CMAS-MATH") and r["performance_level"]
    )
    met_ela = (ela["4"] + ela["5"]) / sum(ela.values())
    met_math = (math["4"] + math["5"]) / sum(math.values())
    assert 0.38 <= met_ela <= 0.50
    assert 0.27 <= met_math <= 0.38
    assert set(ela) == set(math) == {"1", "2", "3", "4", "5"}
    ranges: dict[tuple[str, str], list[int]] = defaultdict(list)
    for r in results:
        if r["performance_level"]:
            family = r["assessment_code"].rsplit("-", 1)[0]
            ranges[(family, r["performance_level"])].append(int(r["scale_score"]))
    for family in ("CMAS-ELA", "CMAS-MATH", "CMAS-SCI", "COALT-ELA"):
        levels = sorted(level for f, level in ranges if f == family)
        for lower, upper in itertools.pairwise(levels):
            assert max(ranges[(family, lower)]) < min(ranges[(family, upper)]), (family, lower)


def test_not_tested_and_alternate_rates(district: Path, current: dict[str, dict[str, str]]) -> None:
    results = read(district, "assessment_results.csv")
    untested = [r for r in results if r["not_tested_reason"]]
    assert 0.02 <= len(untested) / len(results) <= 0.06
    for r in untested:
        assert r["scale_score"] == r["performance_level"] == r["growth_percentile"] == ""
        assert r["accommodations"] == ""
    alternate = {r["sasid"] for r in results if r["assessment_code"].startswith("COALT")}
    tested_students = {r["sasid"] for r in results}
    assert 0.004 <= len(alternate) / len(tested_students) <= 0.02
    accommodated = [r for r in results if r["accommodations"]]
    assert 0.05 <= len(accommodated) / len(results) <= 0.25


def test_growth_percentiles_are_uniform_ish_in_the_right_grades(district: Path) -> None:
    results = read(district, "assessment_results.csv")
    growth = [r for r in results if r["growth_percentile"]]
    assert {r["grade_level"] for r in growth} == {"040", "050", "060", "070", "080", "100"}
    values = [int(r["growth_percentile"]) for r in growth]
    assert min(values) == 1 and max(values) == 99
    assert 45 <= statistics.median(values) <= 55
    deciles = Counter(min(v // 10, 9) for v in values)
    assert all(0.06 <= deciles[d] / len(values) <= 0.14 for d in range(10)), deciles


def test_schools_have_very_different_sizes(
    district: Path, current: dict[str, dict[str, str]]
) -> None:
    schools = read(district, "schools.csv")
    assert 12 <= len(schools) <= 40
    sizes = Counter(r["school_code"] for r in current.values())
    assert set(sizes) == {s["state_code"] for s in schools}
    assert min(sizes.values()) < 200
    assert max(sizes.values()) > 10 * min(sizes.values())
    assert {s["level"] for s in schools} >= {"EL", "MS", "HS", "K8", "EC"}


def test_small_district_has_about_five_schools(tmp_path: Path) -> None:
    generate(seed=3, students=2_000, out=tmp_path / "small", school_year=YEAR)
    levels = Counter(r["level"] for r in read(tmp_path / "small", "schools.csv"))
    assert 5 <= sum(levels.values()) <= 7
    assert levels["HS"] >= 2  # a high school and a tiny alternative school


def test_some_subgroup_cells_are_small(
    students: list[dict[str, str]], current: dict[str, dict[str, str]]
) -> None:
    cells: Counter[tuple[str, str, str]] = Counter()
    for s in students:
        enrollment = current[s["sasid"]]
        cells[
            (enrollment["school_code"], enrollment["grade_level"], s["federal_race_ethnicity"])
        ] += 1
    sizes = list(cells.values())
    assert any(n < 16 for n in sizes)
    assert any(n < 5 for n in sizes)
    assert any(n >= 100 for n in sizes)


def test_contacts_discipline_and_secondary_courses(
    district: Path, current: dict[str, dict[str, str]]
) -> None:
    contacts = Counter(r["sasid"] for r in read(district, "parent_contacts.csv"))
    assert set(contacts) == set(current)
    assert set(contacts.values()) == {1, 2}
    rows = read(district, "parent_contacts.csv")
    assert any(r["contact_restrictions"] for r in rows)
    for r in rows:
        if r["phone"]:
            assert r["phone"][3:].startswith("-555-01"), "phone outside the fictional range"
        if r["email"]:
            assert r["email"].endswith("@example.org")
    disciplined = {r["sasid"] for r in read(district, "discipline_incidents.csv")}
    assert 0.01 <= share(len(disciplined)) <= 0.06
    secondary = {
        s for s, r in current.items() if r["grade_level"] >= "060" and r["grade_level"] != "004"
    }
    rostered = Counter(r["sasid"] for r in read(district, "section_enrollments.csv"))
    assert set(rostered) <= secondary
    assert len(rostered) > 0.97 * len(secondary)
    assert 5 <= sum(rostered.values()) / len(rostered) <= 6
    cte = {r["sasid"] for r in read(district, "cte_participations.csv")}
    assert all(current[s]["grade_level"] in {"090", "100", "110", "120"} for s in cte)
    preschool = {s for s, r in current.items() if r["grade_level"] == "004"}
    assert preschool == {r["sasid"] for r in read(district, "early_childhood_enrollments.csv")}
    assert {r["sasid"] for r in read(district, "early_childhood_assessments.csv")} <= preschool
