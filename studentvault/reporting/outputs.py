"""Report outputs: CSV, JSON and HTML (tables and server-side SVG bar charts).

Every output is made from a report *document* (``ReportResult.document``): display texts, and
reason codes only in the internal (staff) document. So an output cannot show a true value of a
suppressed cell: it never has one. Charts are drawn from the display texts too; a suppressed
bar is an empty outline marked "*".

Invariants: CSV cells pass through ``studentvault.core.csv_safe`` (no formula injection);
HTML has no script and no inline style (the CSP forbids both): the SVG uses attributes only.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string

from studentvault.core.csv_safe import safe_row

FORMATS = ("csv", "html", "json")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?%?$")
CHART_WIDTH = 640
BAR_HEIGHT = 22
BAR_GAP = 6
LABEL_WIDTH = 230
VALUE_WIDTH = 70


def document_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def document_csv(document: dict[str, Any]) -> str:
    """One row per cell: the table, up to three (dimension, code, label) triples, the value."""
    internal = any("reason" in table["columns"] for table in document["tables"])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["report", "school_year", "rule_set", "table", "title", "measure"]
    for i in (1, 2, 3):
        header += [f"dimension_{i}", f"code_{i}", f"label_{i}"]
    header.append("value")
    if internal:
        header.append("reason")
    writer.writerow(header)
    for table in document["tables"]:
        dims = table["dimensions"]
        for row in table["rows"]:
            codes = row[: len(dims)]
            cells: list[object] = [
                document["report"],
                document["school_year"],
                document["rule_set"],
                table["id"],
                table["title"],
                table["measure"],
            ]
            for i in range(3):
                if i < len(dims):
                    cells += [dims[i]["name"], codes[i], dims[i]["labels"].get(codes[i], codes[i])]
                else:
                    cells += ["", "", ""]
            cells.append(row[len(dims)])
            if internal:
                cells.append(row[len(dims) + 1] if len(row) > len(dims) + 1 else "")
            writer.writerow(safe_row(cells))
    return out.getvalue()


@dataclass(frozen=True)
class Bar:
    label: str
    display: str
    suppressed: bool
    y: int
    width: int
    text_y: int


@dataclass(frozen=True)
class Chart:
    title: str
    height: int
    bars: tuple[Bar, ...]
    label_width: int = LABEL_WIDTH
    bar_area: int = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH
    width: int = CHART_WIDTH


def _number(display: str) -> float | None:
    if not _NUMBER.match(display):
        return None
    return float(display.rstrip("%"))


def chart_for(table: dict[str, Any], mark: str) -> Chart | None:
    """Bars over the last dimension, every other dimension at its total (district view)."""
    dims = table["dimensions"]
    if not dims:
        return None
    last = dims[-1]
    totals = tuple(d["codes"][0] for d in dims[:-1])
    shown = {tuple(row[: len(dims)]): row[len(dims)] for row in table["rows"]}
    entries = [(code, shown.get((*totals, code), "")) for code in last["codes"][1:]]
    numbers = [_number(text) for _, text in entries]
    top = max([n for n in numbers if n is not None] or [0.0])
    if table["measure"] in ("percent met", "median"):
        top = 100.0
    area = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH
    bars = []
    for position, ((code, text), number) in enumerate(zip(entries, numbers, strict=True)):
        y = position * (BAR_HEIGHT + BAR_GAP)
        width = 0 if number is None or top <= 0 else max(1, round(area * number / top))
        bars.append(
            Bar(
                label=str(last["labels"].get(code, code))[:40],
                display=text,
                suppressed=text == mark,
                y=y,
                width=width if text != mark else area // 8,
                text_y=y + BAR_HEIGHT - 6,
            )
        )
    title = f"{table['title']} — {', '.join(d['labels'][d['codes'][0]] for d in dims[:-1])}"
    return Chart(title=title, height=len(bars) * (BAR_HEIGHT + BAR_GAP), bars=tuple(bars))


@dataclass(frozen=True)
class TableView:
    """A table laid out for HTML: row headers, column headers, cells (display, reason)."""

    id: str
    title: str
    measure: str
    group_label: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
    chart: Chart | None


def table_view(table: dict[str, Any], mark: str) -> TableView:
    dims = table["dimensions"]
    width = len(dims)
    cells = {
        tuple(row[:width]): (row[width], row[width + 1] if len(row) > width + 1 else "")
        for row in table["rows"]
    }
    column_dim = dims[-1]
    row_dims = dims[:-1]
    row_keys: list[tuple[str, ...]] = [()]
    for dim in row_dims:
        row_keys = [(*key, code) for key in row_keys for code in dim["codes"]]
    rows = []
    for key in row_keys:
        label = " · ".join(row_dims[i]["labels"].get(code, code) for i, code in enumerate(key))
        rows.append(
            (label, tuple(cells.get((*key, code), ("", "")) for code in column_dim["codes"]))
        )
    return TableView(
        id=table["id"],
        title=table["title"],
        measure=table["measure"],
        group_label=" · ".join(d["label"] for d in row_dims),
        columns=tuple(column_dim["labels"].get(code, code) for code in column_dim["codes"]),
        rows=tuple(rows),
        chart=chart_for(table, mark),
    )


def report_context(document: dict[str, Any], *, internal: bool) -> dict[str, Any]:
    mark = str(document.get("suppressed_mark", "*"))
    return {
        "document": document,
        "internal": internal,
        "mark": mark,
        "tables": [table_view(t, mark) for t in document["tables"]],
    }


def document_html(document: dict[str, Any], *, internal: bool) -> str:
    """A standalone HTML file of the report (no script, no inline style)."""
    return render_to_string(
        "reporting/report_file.html", report_context(document, internal=internal)
    )


def render(document: dict[str, Any], fmt: str, *, internal: bool) -> str:
    if fmt == "csv":
        return document_csv(document)
    if fmt == "json":
        return document_json(document)
    if fmt == "html":
        return document_html(document, internal=internal)
    raise ValueError(f"unknown format {fmt!r}; choose one of {FORMATS}")
