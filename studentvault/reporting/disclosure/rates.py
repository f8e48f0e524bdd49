"""Percentages and rates (numerator / base), e.g. percent proficient by school x subgroup.

Publishing a rate together with its base publishes the numerator, so a rate is protected as
two count tables that share the same dimensions:

1. the bases (denominators) are protected as counts (``protect_table``, student minimum);
   a rate whose base is suppressed is suppressed too (reason ``base_suppressed``);
2. a rate near 0 or 100 % is top/bottom coded by the rule set's band for the size of its base
   (">95%", "<5%"): the reader learns only that the numerator lies in an interval;
3. a rate that is neither coded nor with a suppressed base, whose numerator or complement
   (base - numerator) is sensitive (below the minimum for the numerator's kind, or 0 / 100 %
   with no band to code it), is suppressed (reason ``primary``);
4. complementary suppression and the audit then run on the numerator table, where a coded
   rate is a published interval and a hidden numerator is bounded above by what the attacker
   knows of its base.

Invariant: no rate is shown unless the numerator audit passes (the base audit is separate
and must pass as well; ``RateResult.publishable`` requires both).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .engine import (
    EXACT_INTERVALS_MAX_CELLS,
    Method,
    audit_report,
    build_problem,
    protect_table,
    solve_problem,
)
from .result import SUPPRESSED, AuditReport, DisclosureNotPublishable, DisclosureResult, Reason
from .rules import CellKind, RuleSet, get_rule_set
from .table import CountTable, TableError


@dataclass(frozen=True)
class RateCell:
    """One rate: its true parts, and how it is shown."""

    key: tuple[str, ...]
    numerator: int
    base: int
    shown: bool  # the exact percentage is shown
    reason: Reason | None
    display: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": list(self.key),
            "numerator": self.numerator,
            "base": self.base,
            "shown": self.shown,
            "reason": None if self.reason is None else self.reason.value,
            "display": self.display,
        }


@dataclass(frozen=True)
class RateResult:
    """Rates with the base decision and the numerator audit."""

    rule_set: str
    bases: DisclosureResult
    cells: tuple[RateCell, ...]
    audit: AuditReport

    @property
    def publishable(self) -> bool:
        return self.audit.passed and self.bases.publishable

    def publication(self) -> dict[tuple[str, ...], str]:
        """What may be shown: each rate's text (percent, coded label or SUPPRESSED)."""
        if not self.publishable:
            raise DisclosureNotPublishable("the rate table or its bases failed the audit")
        return {cell.key: cell.display for cell in self.cells}

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_set": self.rule_set,
            "publishable": self.publishable,
            "cells": [cell.to_dict() for cell in self.cells],
            "audit": self.audit.to_dict(),
            "bases": self.bases.to_dict(),
        }


def _format_percent(numerator: int, base: int, decimals: int) -> str:
    return f"{100.0 * numerator / base:.{decimals}f}%"


def protect_rates(
    numerators: CountTable,
    bases: CountTable,
    *,
    rule_set: RuleSet | str | None = None,
    numerator_kind: CellKind = CellKind.PERFORMANCE_LEVEL,
    base_kind: CellKind = CellKind.STUDENT,
    method: Method = Method.AUTO,
    decimals: int = 0,
) -> RateResult:
    """Decide which rates numerators/bases may be shown, and how (see module docstring)."""
    rules = rule_set if isinstance(rule_set, RuleSet) else get_rule_set(rule_set)
    if numerators.shape != bases.shape or any(
        a.codes != b.codes for a, b in zip(numerators.dimensions, bases.dimensions, strict=True)
    ):
        raise TableError("numerators and bases must have the same dimensions and codes")
    above = np.flatnonzero(numerators.flat_values > bases.flat_values)
    if above.size:
        raise TableError(f"numerator above its base at cell {numerators.key(int(above[0]))}")

    base_result = protect_table(bases, rule_set=rules, kind=base_kind, method=method)
    base_hidden = np.array([not cell.published for cell in base_result.cells])
    base_hi = np.full(bases.size, np.inf)
    for audit_cell in base_result.audit.cells:
        if audit_cell.exact:
            base_hi[bases.flat_index(audit_cell.key)] = audit_cell.hi

    k = numerators.flat_values
    d = bases.flat_values
    size = k.size
    coded: list[Reason | None] = [None] * size
    labels = [""] * size
    pub_lo = k.astype(np.float64)
    pub_hi = k.astype(np.float64)
    sensitive = np.zeros(size, dtype=bool)
    for i in range(size):
        if base_hidden[i] or d[i] == 0:
            continue
        percent = 100.0 * k[i] / d[i]
        band = rules.rate_band(int(d[i]))
        if band is not None and band.is_top(percent):
            coded[i], labels[i] = Reason.TOP_CODED, band.top_label
            limit = band.top_percent * d[i] / 100.0
            pub_lo[i] = math.ceil(limit) if band.inclusive else math.floor(limit) + 1
            pub_hi[i] = d[i]
        elif band is not None and band.is_bottom(percent):
            coded[i], labels[i] = Reason.BOTTOM_CODED, band.bottom_label
            limit = band.bottom_percent * d[i] / 100.0
            pub_lo[i] = 0
            pub_hi[i] = math.floor(limit) if band.inclusive else math.ceil(limit) - 1
        else:
            part_small = rules.is_sensitive(int(k[i]), numerator_kind) and k[i] > 0
            rest_small = rules.is_sensitive(int(d[i] - k[i]), numerator_kind) and d[i] > k[i]
            everyone = k[i] == 0 or k[i] == d[i]  # "0 %" or "100 %": a group attribute
            sensitive[i] = part_small or rest_small or everyone
    hidden_upper = np.where(base_hidden, base_hi, d.astype(np.float64))
    forced = base_hidden.copy()
    problem = build_problem(
        numerators,
        rules,
        numerator_kind,
        forced=forced,
        published_lo=pub_lo,
        published_hi=pub_hi,
        sensitive=sensitive,
    )
    is_coded = np.array([reason is not None for reason in coded])
    problem = type(problem)(
        matrix=problem.matrix,
        values=problem.values,
        sensitive=problem.sensitive,
        required_width=problem.required_width,
        eligible=problem.eligible & ~is_coded & (d > 0),
        forced=problem.forced,
        published_lo=pub_lo,
        published_hi=pub_hi,
        dimensions=problem.dimensions,
        hidden_upper=hidden_upper,
    )
    hidden, _ = solve_problem(problem, method)
    exact_intervals = numerators.size <= EXACT_INTERVALS_MAX_CELLS
    audit = problem.audit(hidden, fast=not exact_intervals)
    report = audit_report(numerators, problem, hidden, audit)

    cells = []
    for i in range(size):
        reason: Reason | None = None
        display = SUPPRESSED
        if base_hidden[i]:
            reason = Reason.BASE_SUPPRESSED
        elif sensitive[i]:
            reason = Reason.PRIMARY
        elif hidden[i]:
            reason = Reason.COMPLEMENTARY
        elif coded[i] is not None:
            reason, display = coded[i], labels[i]
        elif d[i] == 0:
            display = "n/a"
        else:
            display = _format_percent(int(k[i]), int(d[i]), decimals)
        cells.append(
            RateCell(
                key=numerators.key(i),
                numerator=int(k[i]),
                base=int(d[i]),
                shown=bool(reason is None and d[i] > 0),
                reason=reason,
                display=display,
            )
        )
    return RateResult(rule_set=rules.name, bases=base_result, cells=tuple(cells), audit=report)
