"""The public data dictionary, generated from the field metadata of the student data model.

Nothing here is typed by hand: each entry is read from the ``DataElement`` attached to a model
field (see ``studentvault.core.elements``). ``missing_metadata()`` lists fields that have none;
a test keeps that list empty.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass

from django.apps import apps
from django.db import models

from studentvault.core.categories import DataCategory
from studentvault.core.elements import data_element_of

from .codes import code_set

# Columns every student data model has that describe storage, not the student.
_SYSTEM_FIELDS = {"id", "row_uid"}


@dataclass(frozen=True)
class DictionaryEntry:
    """One data element as the public dictionary shows it."""

    category: str
    category_label: str
    model: str
    field: str
    sensitivity: str
    description: str
    code_set: str | None
    codes: list[dict[str, str]]
    state_name: str | None
    edfi_name: str | None
    retention: str
    retention_label: str
    encrypted: bool
    plain_reason: str | None


def student_data_models() -> list[type[models.Model]]:
    """Every concrete model of the records app (the student data model)."""
    return list(apps.get_app_config("records").get_models())


def _concrete_fields(model: type[models.Model]) -> Iterator[models.Field]:  # type: ignore[type-arg]
    for field in model._meta.get_fields():
        if not isinstance(field, models.Field) or field.auto_created:
            continue
        if field.name in _SYSTEM_FIELDS or field.name.endswith("_index"):
            continue
        yield field


def missing_metadata() -> list[str]:
    """``model.field`` names of student data fields that carry no data element."""
    return [
        f"{model.__name__}.{field.name}"
        for model in student_data_models()
        for field in _concrete_fields(model)
        if data_element_of(field) is None
    ]


def entries() -> list[DictionaryEntry]:
    """Every data element, by category in policy order, then as declared in the models."""
    retention = code_set("retention_class")
    order = {category: position for position, category in enumerate(DataCategory)}
    found: list[DictionaryEntry] = []
    for model in student_data_models():
        for field in _concrete_fields(model):
            element = data_element_of(field)
            if element is None:
                continue
            codes = (
                [{"code": c.code, "label": c.label} for c in code_set(element.code_set)]
                if element.code_set
                else []
            )
            found.append(
                DictionaryEntry(
                    category=element.category.value,
                    category_label=element.category.label,
                    model=model.__name__,
                    field=field.name,
                    sensitivity=element.sensitivity.value,
                    description=element.description,
                    code_set=element.code_set,
                    codes=codes,
                    state_name=element.state_name,
                    edfi_name=element.edfi_name,
                    retention=element.retention,
                    retention_label=retention.label(element.retention),
                    encrypted=element.encrypted,
                    plain_reason=element.plain_reason,
                )
            )
    found.sort(key=lambda e: order[DataCategory(e.category)])  # stable: model order kept
    return found


def as_json() -> str:
    """The dictionary as JSON: categories in policy order, each with its fields."""
    grouped: dict[str, dict[str, object]] = {}
    for entry in entries():
        category = grouped.setdefault(
            entry.category,
            {"category": entry.category, "label": entry.category_label, "fields": []},
        )
        fields = category["fields"]
        assert isinstance(fields, list)
        fields.append({k: v for k, v in entry.__dict__.items() if k not in {"category_label"}})
    return json.dumps({"categories": list(grouped.values())}, indent=2)


_CSV_COLUMNS = [
    "category",
    "model",
    "field",
    "sensitivity",
    "description",
    "code_set",
    "state_name",
    "edfi_name",
    "retention",
    "encrypted",
    "plain_reason",
]


def as_csv() -> str:
    """The dictionary as CSV, one row per data element (code lists are in the JSON form)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_CSV_COLUMNS)
    for entry in entries():
        writer.writerow(
            ["" if getattr(entry, c) is None else getattr(entry, c) for c in _CSV_COLUMNS]
        )
    return out.getvalue()


def as_markdown() -> str:
    """The dictionary as Markdown: one section per category, one table row per element."""
    lines = ["# Student data dictionary", ""]
    lines.append(
        "Generated from the field metadata of the student data model "
        "(`studentvault dictionary --format md`). Do not edit by hand."
    )
    current = None
    for entry in entries():
        if entry.category != current:
            current = entry.category
            lines += [
                "",
                f"## {entry.category_label} (`{entry.category}`)",
                "",
                "| record | field | description | sensitivity | stored | code set | "
                "state file name | Ed-Fi name | retention |",
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            ]
        stored = "encrypted" if entry.encrypted else "plain"
        cells = [
            entry.model,
            entry.field,
            entry.description,
            entry.sensitivity,
            stored,
            entry.code_set or "",
            entry.state_name or "",
            entry.edfi_name or "",
            entry.retention_label,
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
