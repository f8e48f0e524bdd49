"""Builders for the fields of the student data model, each carrying its data element.

A models module declares its category and default retention class once::

    E = Elements(DataCategory.MIGRANT, retention="migrant_records")
    signature_date = E.date("Date the certificate of eligibility was signed",
                            sensitivity=Sensitivity.SENSITIVE, edfi_name="...")

and every builder returns an ordinary Django field with a ``data_element`` attached (see
``studentvault.core.elements``). Whether a field is stored encrypted follows from its element:
the builders ask :func:`field_class_for` which class to use, and the crypto module registers
encrypted classes there, so no model names an encrypted field type itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import models

from studentvault.core.categories import DataCategory
from studentvault.core.elements import DataElement, Sensitivity, element
from studentvault.crypto.fields import ENCRYPTED_FIELD_CLASSES

from .codes import code_set

# Kind of value -> builder of the encrypted Django field for that kind, filled here from
# studentvault.crypto.fields (crypto sits below records and cannot register itself).
ENCRYPTED_FIELD_BUILDERS: dict[str, Callable[..., models.Field[Any, Any]]] = dict(
    ENCRYPTED_FIELD_CLASSES
)


def field_class_for(
    kind: str, plain: Callable[..., models.Field[Any, Any]], facts: DataElement
) -> Callable[..., models.Field[Any, Any]]:
    """The Django field class to use for a value of ``kind`` with these facts."""
    if facts.encrypted and kind in ENCRYPTED_FIELD_BUILDERS:
        return ENCRYPTED_FIELD_BUILDERS[kind]
    return plain


class Elements:
    """Field builders bound to one data category and a default retention class."""

    def __init__(self, category: DataCategory, *, retention: str) -> None:
        self.category = category
        self.retention = retention

    def _facts(self, description: str, sensitivity: Sensitivity, **more: Any) -> dict[str, Any]:
        facts = {
            "category": self.category,
            "sensitivity": sensitivity,
            "description": description,
            "retention": more.pop("retention", None) or self.retention,
        }
        for key in ("value_kind", "code_set", "state_name", "edfi_name", "plain_reason"):
            if more.get(key) is not None:
                facts[key] = more.pop(key)
            else:
                more.pop(key, None)
        if more:
            raise TypeError(f"unknown data element facts: {sorted(more)}")
        return facts

    def _build(
        self,
        kind: str,
        plain: Callable[..., models.Field[Any, Any]],
        description: str,
        sensitivity: Sensitivity,
        facts_kw: dict[str, Any],
        field_kw: dict[str, Any],
    ) -> Any:
        facts = self._facts(description, sensitivity, **{"value_kind": kind, **facts_kw})
        field_cls = field_class_for(kind, plain, DataElement(**facts))
        return element(field_cls(**field_kw), **facts)

    def text(
        self,
        description: str,
        *,
        sensitivity: Sensitivity,
        max_length: int = 100,
        blank: bool = False,
        **facts: Any,
    ) -> Any:
        """Free text, such as a name or a provider."""
        return self._build(
            "text",
            models.CharField,
            description,
            sensitivity,
            {**facts, "value_kind": "text"},
            {"max_length": max_length, "blank": blank, "default": ""}
            if blank
            else {"max_length": max_length},
        )

    def code(
        self,
        code_set_name: str,
        description: str,
        *,
        sensitivity: Sensitivity,
        blank: bool = False,
        **facts: Any,
    ) -> Any:
        """A value from a code set (codesets/<name>.csv)."""
        codes = code_set(code_set_name)
        width = max(len(c.code) for c in codes)
        field_kw: dict[str, Any] = {"max_length": max(width, 2), "choices": codes.choices}
        if blank:
            field_kw.update(blank=True, default="")
        return self._build(
            "text",
            models.CharField,
            description,
            sensitivity,
            {**facts, "code_set": code_set_name, "value_kind": "code"},
            field_kw,
        )

    def codes(
        self, code_set_name: str, description: str, *, sensitivity: Sensitivity, **facts: Any
    ) -> Any:
        """A list of values from one code set, such as accommodations used."""
        return self._build(
            "json",
            models.JSONField,
            description,
            sensitivity,
            {**facts, "code_set": code_set_name, "value_kind": "codes"},
            {"default": list, "blank": True},
        )

    def date(
        self, description: str, *, sensitivity: Sensitivity, null: bool = False, **facts: Any
    ) -> Any:
        """A calendar date."""
        field_kw: dict[str, Any] = {"null": null, "blank": null}
        return self._build(
            "date",
            models.DateField,
            description,
            sensitivity,
            {**facts, "value_kind": "date"},
            field_kw,
        )

    def flag(self, description: str, *, sensitivity: Sensitivity, **facts: Any) -> Any:
        """A yes/no fact."""
        return self._build(
            "flag", models.BooleanField, description, sensitivity, facts, {"default": False}
        )

    def number(
        self, description: str, *, sensitivity: Sensitivity, null: bool = True, **facts: Any
    ) -> Any:
        """A whole number (minutes, days, scores, percentiles)."""
        return self._build(
            "number",
            models.IntegerField,
            description,
            sensitivity,
            facts,
            {"null": null, "blank": null},
        )

    def decimal(
        self, description: str, *, sensitivity: Sensitivity, null: bool = True, **facts: Any
    ) -> Any:
        """A number with two decimal places (credits)."""
        return self._build(
            "decimal",
            models.DecimalField,
            description,
            sensitivity,
            facts,
            {"max_digits": 6, "decimal_places": 2, "null": null, "blank": null},
        )

    def link(
        self,
        to: str,
        description: str,
        *,
        related_name: str,
        sensitivity: Sensitivity = Sensitivity.DIRECTORY,
        null: bool = False,
        db_index: bool = True,
        **facts: Any,
    ) -> Any:
        """A reference to another record (the student, a school, a course...).

        ``db_index=False`` where a unique constraint or index of the model starts with this link:
        that one serves look-ups by it, and a second index would only slow every write.
        """
        facts = self._facts(description, sensitivity, value_kind="link", **facts)
        field = models.ForeignKey(
            to,
            on_delete=models.PROTECT,
            related_name=related_name,
            null=null,
            blank=null,
            db_index=db_index,
        )
        return element(field, **facts)

    def year(self, description: str, *, db_index: bool = True, **facts: Any) -> Any:
        """A school year, named by the calendar year in which it ends (2026 = 2025-26).

        ``db_index=False`` where an index of the model starts with the year (as for ``link``).
        """
        return self._build(
            "number",
            models.PositiveSmallIntegerField,
            description,
            Sensitivity.DIRECTORY,
            {**facts, "value_kind": "year"},
            {"db_index": db_index},
        )
