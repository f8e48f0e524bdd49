"""Result objects of the engine, convertible to plain JSON-ready dicts for storage.

``DisclosureResult.to_dict()`` holds the confidential working record (true values of the
suppressed cells, reason codes, attacker intervals): it is for staff and the audit trail,
never for the public. The only public view is ``DisclosureResult.publication()``, which
raises unless the audit passed and shows a suppressed cell as ``SUPPRESSED`` without a reason
(a reason such as "primary" would itself tell the reader the count is small).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

SUPPRESSED = "*"


class Reason(StrEnum):
    """Why a cell is not shown as its exact value."""

    PRIMARY = "primary"  # below the rule set's minimum n (or a zero under zero_cells=sensitive)
    COMPLEMENTARY = "complementary"  # hidden so that primary cells cannot be recomputed
    BASE_SUPPRESSED = "base_suppressed"  # a rate whose base (denominator) is suppressed
    TOP_CODED = "top_coded"  # a rate shown as e.g. ">95%"
    BOTTOM_CODED = "bottom_coded"  # a rate shown as e.g. "<5%"


class DisclosureNotPublishable(RuntimeError):
    """The audit failed: nothing of this table may be published."""


def _number(value: float) -> float | int | None:
    """JSON has no infinity: an unbounded interval end is None."""
    if math.isinf(value) or math.isnan(value):
        return None
    return int(value) if float(value).is_integer() else float(value)


@dataclass(frozen=True)
class CellStatus:
    """One cell: its true value, whether it is published and how it is shown."""

    key: tuple[str, ...]
    value: int
    published: bool
    reason: Reason | None
    display: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": list(self.key),
            "value": self.value,
            "published": self.published,
            "reason": None if self.reason is None else self.reason.value,
            "display": self.display,
        }


@dataclass(frozen=True)
class AuditCell:
    """What an attacker can infer about one suppressed cell."""

    key: tuple[str, ...]
    value: int
    lo: float
    hi: float  # inf when unbounded
    exact: bool  # False: the attacker's interval is proven to contain [lo, hi] (fast audit)
    required_width: int
    protected: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": list(self.key),
            "value": self.value,
            "lo": _number(self.lo),
            "hi": _number(self.hi),
            "exact": self.exact,
            "required_width": self.required_width,
            "protected": self.protected,
        }


@dataclass(frozen=True)
class AuditReport:
    """Pass/fail and the intervals of every suppressed cell."""

    passed: bool
    cells: tuple[AuditCell, ...]
    components: int
    largest_component: int
    linear_programs: int
    integer: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "integer": self.integer,
            "components": self.components,
            "largest_component": self.largest_component,
            "linear_programs": self.linear_programs,
            "cells": [cell.to_dict() for cell in self.cells],
        }


@dataclass(frozen=True)
class DisclosureResult:
    """The engine's decision for one table under one rule set."""

    rule_set: str
    kind: str
    method: str
    dimensions: tuple[tuple[str, tuple[str, ...]], ...]
    cells: tuple[CellStatus, ...]
    audit: AuditReport
    seconds_protect: float
    seconds_audit: float

    @property
    def publishable(self) -> bool:
        return self.audit.passed

    @property
    def suppressed(self) -> tuple[CellStatus, ...]:
        return tuple(cell for cell in self.cells if not cell.published)

    def count(self, reason: Reason) -> int:
        return sum(1 for cell in self.cells if cell.reason is reason)

    def publication(self) -> dict[tuple[str, ...], str]:
        """What may be shown to the public: each cell's display text, or SUPPRESSED."""
        if not self.audit.passed:
            raise DisclosureNotPublishable(
                f"{len([c for c in self.audit.cells if not c.protected])} suppressed cell(s) "
                "can be narrowed below the required protection; nothing is published"
            )
        return {
            cell.key: (
                cell.display
                if cell.published or cell.reason in (Reason.TOP_CODED, Reason.BOTTOM_CODED)
                else SUPPRESSED
            )
            for cell in self.cells
        }

    def to_dict(self) -> dict[str, Any]:
        suppressed = self.suppressed
        return {
            "rule_set": self.rule_set,
            "kind": self.kind,
            "method": self.method,
            "publishable": self.publishable,
            "dimensions": [{"name": name, "codes": list(codes)} for name, codes in self.dimensions],
            "summary": {
                "cells": len(self.cells),
                "suppressed_cells": len(suppressed),
                "suppressed_count_total": sum(cell.value for cell in suppressed),
                "by_reason": {
                    reason.value: self.count(reason) for reason in Reason if self.count(reason)
                },
                "seconds_protect": round(self.seconds_protect, 4),
                "seconds_audit": round(self.seconds_audit, 4),
            },
            "cells": [cell.to_dict() for cell in self.cells],
            "audit": self.audit.to_dict(),
        }
