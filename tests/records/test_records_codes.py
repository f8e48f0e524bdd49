"""Code sets come from data files and drive the model's choices."""

from __future__ import annotations

import pytest

from studentvault.records.codes import UnknownCodeSet, all_code_set_names, code_set
from studentvault.records.models import Student
from studentvault.records.models.student import federal_race_ethnicity


def test_every_code_set_file_is_well_formed() -> None:
    names = all_code_set_names()
    assert "grade_level" in names and "gender" in names
    for name in names:
        codes = code_set(name)
        assert len(codes) > 0, name
        seen = [c.code for c in codes]
        assert len(seen) == len(set(seen)), f"duplicate code in {name}"
        assert all(c.label.strip() for c in codes), name


def test_unknown_code_set() -> None:
    with pytest.raises(UnknownCodeSet):
        code_set("no_such_set")


def test_state_codes_keep_leading_zeros() -> None:
    assert "01" in code_set("gender")
    assert code_set("grade_level").label("007") == "Kindergarten (full day)"
    assert Student._meta.get_field("gender").choices == code_set("gender").choices


@pytest.mark.parametrize(
    ("hispanic", "races", "expected"),
    [
        (True, {"white": True}, "04"),
        (False, {"white": True}, "05"),
        (False, {"asian": True}, "02"),
        (False, {"asian": True, "white": True}, "07"),
        (False, {"native_hawaiian_pacific_islander": True}, "06"),
        (False, {"american_indian_alaska_native": True}, "01"),
        (False, {"black_african_american": True}, "03"),
    ],
)
def test_federal_race_ethnicity(hispanic: bool, races: dict[str, bool], expected: str) -> None:
    assert federal_race_ethnicity(hispanic_latino=hispanic, races=races) == expected


def test_federal_race_ethnicity_needs_a_flag() -> None:
    with pytest.raises(ValueError, match="at least one"):
        federal_race_ethnicity(hispanic_latino=False, races={})
