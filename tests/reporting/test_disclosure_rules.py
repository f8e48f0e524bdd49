"""Rule sets load from the bundled TOML and say what the issue and the reference say."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from studentvault.reporting.disclosure import CellKind, RuleSetError, get_rule_set, rule_set_names
from studentvault.reporting.disclosure.rules import ZeroCells, parse_rule_sets


def test_default_is_colorado_with_its_minimums() -> None:
    rules = get_rule_set()
    assert rules.name == "colorado"
    assert rules.minimum == {
        CellKind.STUDENT: 16,
        CellKind.PERFORMANCE_LEVEL: 4,
        CellKind.STAFF: 5,
    }
    assert rules.zero_cells is ZeroCells.PUBLISH


def test_nces_rule_set_uses_ten() -> None:
    rules = get_rule_set("nces")
    assert set(rules.minimum.values()) == {10}
    assert {"colorado", "nces"} <= set(rule_set_names())


@pytest.mark.parametrize(
    ("value", "kind", "sensitive"),
    [
        (0, CellKind.STUDENT, False),
        (1, CellKind.STUDENT, True),
        (15, CellKind.STUDENT, True),
        (16, CellKind.STUDENT, False),
        (3, CellKind.PERFORMANCE_LEVEL, True),
        (4, CellKind.PERFORMANCE_LEVEL, False),
        (4, CellKind.STAFF, True),
        (5, CellKind.STAFF, False),
    ],
)
def test_primary_thresholds(value: int, kind: CellKind, sensitive: bool) -> None:
    assert get_rule_set("colorado").is_sensitive(value, kind) is sensitive


def test_protection_width_is_the_minimum_by_default() -> None:
    rules = get_rule_set()
    assert rules.protection_width(3, CellKind.STUDENT) == 16
    assert rules.protection_width(2, CellKind.PERFORMANCE_LEVEL) == 4


def test_rate_bands_follow_base_size() -> None:
    nces = get_rule_set("nces")
    assert nces.rate_band(5) is None
    band = nces.rate_band(150)
    assert band is not None and band.top_label == "≥98%" and band.is_top(98.0)
    colorado = get_rule_set("colorado").rate_band(20)
    assert colorado is not None and colorado.is_top(95.5) and not colorado.is_top(95.0)


def test_unknown_and_malformed_rule_sets_are_refused() -> None:
    with pytest.raises(RuleSetError, match="unknown rule set"):
        get_rule_set("nowhere")
    with pytest.raises(RuleSetError, match="default rule set"):
        parse_rule_sets('default = "x"\n')
    with pytest.raises(RuleSetError, match="no minimum"):
        parse_rule_sets(
            'default = "x"\n[rule_sets.x]\ndescription = ""\nsource = ""\n'
            'zero_cells = "publish"\nzeros_as_complements = false\n'
            "protection_fraction_of_minimum = 1.0\nprotection_percent_of_value = 0.0\n"
            "[rule_sets.x.minimum]\nstudent = 10\n"
        )


@pytest.mark.parametrize("name", ["colorado", "nces"])
@pytest.mark.parametrize("kind", list(CellKind))
@pytest.mark.parametrize("zeros", list(ZeroCells))
@pytest.mark.parametrize("percent", [0.0, 12.5, 30.0])
def test_array_rules_match_the_scalar_rules(
    name: str, kind: CellKind, zeros: ZeroCells, percent: float
) -> None:
    """build_problem uses the array forms; they must decide exactly as the per-cell rules."""
    rules = dataclasses.replace(
        get_rule_set(name), zero_cells=zeros, protection_percent_of_value=percent
    )
    values = np.arange(0, 400, dtype=np.int64)
    mask = rules.sensitive_mask(values, kind)
    widths = rules.protection_widths(values, kind)
    for value in values.tolist():
        assert bool(mask[value]) is rules.is_sensitive(value, kind)
        assert int(widths[value]) == rules.protection_width(value, kind)
