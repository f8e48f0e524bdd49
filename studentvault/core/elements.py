"""Field metadata: what every field of the student data model says about itself.

A *data element* is one field with its policy facts: data category, sensitivity, plain-language
description, code set, Colorado state file name, Ed-Fi name, retention class, and whether it is
stored encrypted. The data dictionary, vendor data-element lists, the encryption decision and the
retention schedule are all generated from these facts; nothing repeats them by hand.

Invariants:
- every concrete field of a student data model carries a ``DataElement`` (a test walks them);
- ``encrypted`` defaults to true for identifying, sensitive and restricted fields; a field may be
  kept plain only with a written ``plain_reason`` (shown in the dictionary).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from .categories import DataCategory


class Sensitivity(StrEnum):
    """How much harm disclosure of a field's value could do, lowest first."""

    DIRECTORY = "directory"  # FERPA directory information or organisational facts
    IDENTIFYING = "identifying"  # names, identifiers, birth date: singles out a student
    SENSITIVE = "sensitive"  # demographic and program facts about a student
    RESTRICTED = "restricted"  # special education, discipline, health: need-to-know only


_ENCRYPTED_BY_DEFAULT = {Sensitivity.IDENTIFYING, Sensitivity.SENSITIVE, Sensitivity.RESTRICTED}


@dataclass(frozen=True)
class DataElement:
    """The policy facts of one field. Attached to a Django field as ``field.data_element``."""

    category: DataCategory
    sensitivity: Sensitivity
    description: str
    retention: str
    value_kind: str = "text"  # text, code, codes, date, flag, number, decimal, link, year
    code_set: str | None = None
    state_name: str | None = None
    edfi_name: str | None = None
    plain_reason: str | None = None

    @property
    def encrypted(self) -> bool:
        """True when the value is stored encrypted (see module invariants)."""
        return self.sensitivity in _ENCRYPTED_BY_DEFAULT and self.plain_reason is None

    def __post_init__(self) -> None:
        if not self.description.strip():
            raise ValueError("a data element needs a plain-language description")
        if self.plain_reason is not None and not self.plain_reason.strip():
            raise ValueError("plain_reason, when given, must say why the field stays plain")


FieldT = TypeVar("FieldT")


def element(field: FieldT, **facts: Any) -> FieldT:
    """Attach a :class:`DataElement` built from ``facts`` to ``field`` and return the field.

    The description doubles as the field's ``help_text`` so forms and the admin show it too.
    """
    data_element = DataElement(**facts)
    setattr(field, "data_element", data_element)  # noqa: B010 - Django fields have no slot for it
    if not getattr(field, "help_text", ""):
        setattr(field, "help_text", data_element.description)  # noqa: B010
    return field


def data_element_of(field: object) -> DataElement | None:
    """The data element attached to ``field``, or None when it has none."""
    found = getattr(field, "data_element", None)
    return found if isinstance(found, DataElement) else None
