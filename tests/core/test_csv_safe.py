"""Formula-injection-safe CSV cells (OWASP)."""

from __future__ import annotations

import pytest

from studentvault.core.csv_safe import safe_cell, safe_row


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("\nx", "'\nx"),
        ("plain text", "plain text"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (-3, "-3"),
        (2.5, "2.5"),
        (True, "True"),
    ],
)
def test_cells(value: object, expected: str) -> None:
    assert safe_cell(value) == expected


def test_rows() -> None:
    assert safe_row(["=x", 1, "y"]) == ["'=x", "1", "y"]
