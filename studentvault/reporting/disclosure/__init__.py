"""Disclosure control for aggregate student tables: what of a table of counts may be published.

Plain Python on numpy/scipy (HiGHS); no Django, so it can be reused and tested alone.

Terms. A table has 1 to 3 dimensions, each a tree of codes whose root is its total (one may
be a hierarchy such as district > school); it holds every cell, totals included. A cell is
*sensitive* when the rule set says its count may not be published (0 < n < minimum for the
table's kind: student 16, performance level 4, staff 5 under the default Colorado rules).

Invariants (docs/adr/0007-disclosure-control.md gives the reasons):
- Every sensitive cell is suppressed (reason ``primary``).
- Protection: for every sensitive cell the attacker's interval [lo, hi] -- the smallest and
  largest value consistent with every published cell and total, nonnegative counts and the
  table's additivity, computed by linear programming and rounded to whole numbers -- has
  hi - lo >= the rule set's protection width (by default the minimum n itself). Complementary
  cells (reason ``complementary``) are added until this holds.
- Nothing is published unless the audit passed: ``publication()`` raises otherwise. The audit
  is run on the final pattern whatever method produced it.
- Rates: a rate is suppressed with its base; rates near 0/100 % are coded per the rule set.
- ``to_dict()`` is the confidential working record (true values, reasons, intervals); only
  ``publication()`` is for the public, and it never shows a reason code.
"""

from .audit import AttackerIntervals, PatternAudit, attacker_intervals, audit_pattern
from .engine import Method, build_problem, protect_table
from .rates import RateCell, RateResult, protect_rates
from .result import (
    SUPPRESSED,
    AuditCell,
    AuditReport,
    CellStatus,
    DisclosureNotPublishable,
    DisclosureResult,
    Reason,
)
from .rules import CellKind, RuleSet, RuleSetError, ZeroCells, get_rule_set, rule_set_names
from .table import CountTable, Dimension, TableError

__all__ = [
    "SUPPRESSED",
    "AttackerIntervals",
    "AuditCell",
    "AuditReport",
    "CellKind",
    "CellStatus",
    "CountTable",
    "Dimension",
    "DisclosureNotPublishable",
    "DisclosureResult",
    "Method",
    "PatternAudit",
    "RateCell",
    "RateResult",
    "Reason",
    "RuleSet",
    "RuleSetError",
    "TableError",
    "ZeroCells",
    "attacker_intervals",
    "audit_pattern",
    "build_problem",
    "get_rule_set",
    "protect_rates",
    "protect_table",
    "rule_set_names",
]
