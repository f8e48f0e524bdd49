"""Named disclosure-control rule sets, read from ``rulesets.toml`` beside this module.

A rule set says which cells are sensitive (a minimum count per kind of cell), how wide the
attacker's interval around a sensitive cell must stay (the protection width), what to do with
zero cells, and how percentages near 0 and 100 are coded. The numbers live in the data file so
that a data steward can read and change them without reading code.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt


class CellKind(StrEnum):
    """What a table counts; each kind has its own minimum n."""

    STUDENT = "student"
    PERFORMANCE_LEVEL = "performance_level"
    STAFF = "staff"


class ZeroCells(StrEnum):
    """How zero counts are treated."""

    PUBLISH = "publish"
    SENSITIVE = "sensitive"


class RuleSetError(ValueError):
    """A rule set is missing or malformed."""


@dataclass(frozen=True)
class RateBand:
    """Top/bottom coding of a percentage for bases of at least ``min_base``."""

    min_base: int
    top_percent: float
    bottom_percent: float
    inclusive: bool
    top_label: str
    bottom_label: str

    def is_top(self, percent: float) -> bool:
        return percent >= self.top_percent if self.inclusive else percent > self.top_percent

    def is_bottom(self, percent: float) -> bool:
        return percent <= self.bottom_percent if self.inclusive else percent < self.bottom_percent


@dataclass(frozen=True)
class RuleSet:
    """One named rule set. ``minimum[kind]`` is the smallest count published as is."""

    name: str
    description: str
    source: str
    minimum: dict[CellKind, int]
    zero_cells: ZeroCells
    zeros_as_complements: bool
    protection_fraction_of_minimum: float
    protection_percent_of_value: float
    rate_coding: tuple[RateBand, ...]

    def is_sensitive(self, value: int, kind: CellKind) -> bool:
        """True when a count must not be published (primary suppression)."""
        if value == 0:
            return self.zero_cells is ZeroCells.SENSITIVE
        return 0 < value < self.minimum[kind]

    def sensitive_mask(
        self, values: npt.NDArray[np.int64], kind: CellKind
    ) -> npt.NDArray[np.bool_]:
        """``is_sensitive`` for every value of an array at once."""
        mask: npt.NDArray[np.bool_] = (values > 0) & (values < self.minimum[kind])
        if self.zero_cells is ZeroCells.SENSITIVE:
            mask |= values == 0
        return mask

    def protection_widths(
        self, values: npt.NDArray[np.int64], kind: CellKind
    ) -> npt.NDArray[np.int64]:
        """``protection_width`` for every value of an array at once (same arithmetic)."""
        by_minimum = math.ceil(self.protection_fraction_of_minimum * self.minimum[kind])
        by_value = np.ceil(self.protection_percent_of_value / 100.0 * values.astype(np.float64))
        return np.maximum(max(1, by_minimum), by_value).astype(np.int64)

    def protection_width(self, value: int, kind: CellKind) -> int:
        """The narrowest attacker interval [lo, hi] (hi - lo) allowed for a sensitive cell."""
        by_minimum = math.ceil(self.protection_fraction_of_minimum * self.minimum[kind])
        by_value = math.ceil(self.protection_percent_of_value / 100.0 * value)
        return max(1, by_minimum, by_value)

    def rate_band(self, base: int) -> RateBand | None:
        """The coding band for a base of this size, or None below the smallest band."""
        chosen: RateBand | None = None
        for band in self.rate_coding:
            if base >= band.min_base:
                chosen = band
        return chosen


DEFAULT_RULE_SET_FILE = "rulesets.toml"


def _parse_rule_set(name: str, raw: dict[str, Any]) -> RuleSet:
    try:
        minimum = {CellKind(kind): int(value) for kind, value in raw["minimum"].items()}
        missing = set(CellKind) - set(minimum)
        if missing:
            raise RuleSetError(f"rule set {name!r}: no minimum for {sorted(missing)}")
        if any(value < 1 for value in minimum.values()):
            raise RuleSetError(f"rule set {name!r}: every minimum must be at least 1")
        bands = tuple(
            sorted(
                (
                    RateBand(
                        min_base=int(band["min_base"]),
                        top_percent=float(band["top_percent"]),
                        bottom_percent=float(band["bottom_percent"]),
                        inclusive=bool(band["inclusive"]),
                        top_label=str(band["top_label"]),
                        bottom_label=str(band["bottom_label"]),
                    )
                    for band in raw.get("rate_coding", [])
                ),
                key=lambda band: band.min_base,
            )
        )
        return RuleSet(
            name=name,
            description=str(raw["description"]),
            source=str(raw["source"]),
            minimum=minimum,
            zero_cells=ZeroCells(raw["zero_cells"]),
            zeros_as_complements=bool(raw["zeros_as_complements"]),
            protection_fraction_of_minimum=float(raw["protection_fraction_of_minimum"]),
            protection_percent_of_value=float(raw["protection_percent_of_value"]),
            rate_coding=bands,
        )
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, RuleSetError):
            raise
        raise RuleSetError(f"rule set {name!r} is malformed: {error!r}") from error


def parse_rule_sets(text: str) -> tuple[str, dict[str, RuleSet]]:
    """Parse a rule-set TOML document; returns (default name, rule sets by name)."""
    data = tomllib.loads(text)
    rule_sets = {
        name: _parse_rule_set(name, raw) for name, raw in data.get("rule_sets", {}).items()
    }
    default = str(data.get("default", ""))
    if default not in rule_sets:
        raise RuleSetError(f"default rule set {default!r} is not defined")
    return default, rule_sets


@cache
def _bundled() -> tuple[str, dict[str, RuleSet]]:
    text = resources.files(__package__).joinpath(DEFAULT_RULE_SET_FILE).read_text("utf-8")
    return parse_rule_sets(text)


def rule_set_names() -> list[str]:
    """Names of the bundled rule sets."""
    return sorted(_bundled()[1])


def get_rule_set(name: str | None = None) -> RuleSet:
    """A bundled rule set by name; the default (Colorado) when name is None."""
    default, rule_sets = _bundled()
    key = default if name is None else name
    try:
        return rule_sets[key]
    except KeyError:
        raise RuleSetError(f"unknown rule set {key!r}; known: {sorted(rule_sets)}") from None
