"""What a student's record holds, category by category, read from the field metadata.

``category_sections(student, categories)`` gathers, for each requested data category, the
student's own fields of that category and the rows of every other model that points at the
student, showing only the fields of that category. Which models and fields belong where is read
from the data elements, so a new model or field appears here without code.

This module only assembles; it never decides who may see what. Callers (the selectors in
``records.selectors``) authorize every category through the access module and audit the read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import models

from studentvault.core.categories import DataCategory
from studentvault.core.elements import data_element_of

from . import models as m
from .codes import code_set


@dataclass(frozen=True)
class Fact:
    """One field of one row, ready to show: label and displayed value."""

    field: str
    label: str
    value: str


@dataclass
class Section:
    """One category of a record: the student's own facts and the rows of related records."""

    category: DataCategory
    facts: list[Fact] = field(default_factory=list)
    tables: dict[str, list[list[Fact]]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.facts and not any(self.tables.values())


def _display(value: Any, code_set_name: str | None) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if code_set_name:
        codes = code_set(code_set_name)
        if isinstance(value, list):
            return ", ".join(codes.label(v) if v in codes else v for v in value) or "—"
        return codes.label(value) if value in codes else str(value)
    if isinstance(value, models.Model):
        return str(value)
    return str(value)


def _fields_of(model: type[models.Model], category: DataCategory) -> list[models.Field[Any, Any]]:
    found = []
    for f in model._meta.concrete_fields:
        element = data_element_of(f)
        if element is None or element.category != category:
            continue
        if element.value_kind == "link" and f.name == "student":
            continue
        found.append(f)
    return found


def _facts(row: models.Model, fields: list[models.Field[Any, Any]]) -> list[Fact]:
    facts = []
    for f in fields:
        element = data_element_of(f)
        assert element is not None
        value = getattr(row, f.name)
        label = element.description.split(" (")[0]
        facts.append(Fact(f.name, label, _display(value, element.code_set)))
    return facts


def student_models() -> list[type[models.Model]]:
    """Models whose rows belong to one student (they have a ``student`` link)."""
    return [
        model
        for model in m.Student._meta.apps.get_app_config("records").get_models()
        if any(f.name == "student" for f in model._meta.concrete_fields)
    ]


def category_sections(student: m.Student, categories: list[DataCategory]) -> list[Section]:
    """The student's record cut to ``categories`` (already authorized by the caller)."""
    sections = []
    for category in categories:
        section = Section(category)
        section.facts = _facts(student, _fields_of(m.Student, category))
        for model in student_models():
            fields = _fields_of(model, category)
            if not fields:
                continue
            rows = model._default_manager.filter(student=student).order_by("pk")
            title = str(model._meta.verbose_name_plural).capitalize()
            section.tables[title] = [_facts(row, fields) for row in rows]
        sections.append(section)
    return sections
