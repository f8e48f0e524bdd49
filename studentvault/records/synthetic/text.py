"""Fast CSV text building for the synthetic district generator.

Values are drawn as numpy arrays of small integers (day numbers, code indexes, scores) and turned
into text through lookup tables of ready-made strings, then joined a chunk at a time. This is
what lets a million students be written in well under two minutes.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
TextArray = npt.NDArray[np.object_]

# Day numbers count from EPOCH; the table covers every date a supported school year writes
# (birth dates about 20 years before the year, eligibility ends a few years after it).
EPOCH = np.datetime64("1970-01-01", "D")
_DATE_COUNT = int((np.datetime64("2110-01-01", "D") - EPOCH).astype(np.int64))
# Day number -> "YYYY-MM-DD"; index -1 (NO_DATE) -> "" (a null date).
DATE_TEXT: TextArray = np.empty(_DATE_COUNT + 1, dtype=object)
DATE_TEXT[:-1] = np.datetime_as_string(EPOCH + np.arange(_DATE_COUNT), unit="D").astype(object)
DATE_TEXT[-1] = ""
NO_DATE = -1

_INT_COUNT = 20_001
# Whole number 0..20000 -> its text; index -1 (NO_NUMBER) -> "" (a null number).
INT_TEXT: TextArray = np.array([str(i) for i in range(_INT_COUNT)] + [""], dtype=object)
NO_NUMBER = -1
# Tenths 0..600 -> "0.0".."60.0"; hundredths as "0.00".."60.00" (decimal columns).
TENTHS_TEXT: TextArray = np.array([f"{i / 10:.1f}" for i in range(601)] + [""], dtype=object)
HUNDREDTHS_TEXT: TextArray = np.array([f"{i / 100:.2f}" for i in range(6001)] + [""], dtype=object)
PAD3_TEXT: TextArray = np.array([f"{i:03d}" for i in range(1000)], dtype=object)


def day(text: str) -> int:
    """The day number (days since EPOCH, 1970-01-01) of an ISO date."""
    return int((np.datetime64(text, "D") - EPOCH).astype(np.int64))


def dates(days: IntArray) -> list[str]:
    """ISO dates for day numbers; NO_DATE gives an empty string."""
    return list(DATE_TEXT[days].tolist())


def numbers(values: IntArray) -> list[str]:
    """Text of whole numbers 0..20000; NO_NUMBER gives an empty string."""
    if values.size and (values.max() >= _INT_COUNT or values.min() < NO_NUMBER):
        raise ValueError("number out of the generator's 0..20000 range")
    return list(INT_TEXT[values].tolist())


def pick(table: Sequence[str] | TextArray, index: IntArray) -> list[str]:
    """Entries of a table of strings at the given positions."""
    array = table if isinstance(table, np.ndarray) else np.array(list(table), dtype=object)
    return list(array[index].tolist())


def flags(values: BoolArray) -> list[str]:
    """Booleans as 1/0."""
    return list(np.where(values, "1", "0").astype(object).tolist())


def rows(columns: Sequence[Sequence[str]]) -> str:
    """CSV rows (no header) from equally long columns of ready-quoted text."""
    if not columns or not len(columns[0]):
        return ""
    length = len(columns[0])
    for column in columns:
        if len(column) != length:
            raise ValueError("columns of one file must have the same length")
    return "\n".join(map(",".join, zip(*columns, strict=True))) + "\n"


def quoted(values: Sequence[str]) -> list[str]:
    """RFC 4180 quoting for values that may hold a comma (addresses, free text)."""
    return ['"' + v.replace('"', '""') + '"' if ("," in v or '"' in v) else v for v in values]


def word_list(name: str) -> tuple[str, ...]:
    """A word list shipped in ``records/synthetic_data/<name>.txt``."""
    folder = resources.files("studentvault.records") / "synthetic_data"
    text = (folder / f"{name}.txt").read_text("utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def choose(rng: np.random.Generator, probabilities: Sequence[float], size: int) -> IntArray:
    """Independent draws of category indexes with the given (relative) probabilities."""
    cumulative = np.cumsum(np.asarray(probabilities, dtype=np.float64))
    cumulative /= cumulative[-1]
    drawn = np.searchsorted(cumulative, rng.random(size), side="right")
    return np.minimum(drawn, len(cumulative) - 1).astype(np.int64)
