"""CSV cells that spreadsheets will not run as formulas (OWASP "CSV Injection").

Invariant: a text cell that begins with = + - @ TAB CR or LF is prefixed with a single quote,
so Excel, LibreOffice and Google Sheets show it as text. Numbers (int, float, not bool) are
written as they are: they cannot hold a formula, and "-3" must stay a number. Quoting of commas,
quotes and newlines is left to the ``csv`` module, which every export uses.
"""

from __future__ import annotations

from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def safe_cell(value: object) -> str:
    """``value`` as CSV cell text that a spreadsheet will not evaluate."""
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def safe_row(values: Iterable[object]) -> list[str]:
    """Every cell of a row through ``safe_cell``."""
    return [safe_cell(v) for v in values]
