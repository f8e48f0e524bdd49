"""OpenAPI documentation of the API's bodies, generated from the field metadata.

The API never serializes model instances with these classes: the selectors return only the
released fields as plain values. These serializers describe every field that *may* appear;
each one is optional because a caller receives only what its grants or contract allow.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.apps import apps
from rest_framework import serializers

from studentvault.core.elements import data_element_of
from studentvault.records.selectors import API_CATEGORY_MODELS

_SKIP = frozenset({"id", "row_uid", "student", "district", "sasid_index", "local_id_index"})


def _field(model_field: Any) -> serializers.Field[Any, Any, Any, Any] | None:
    element = data_element_of(model_field)
    if element is None or model_field.name in _SKIP or model_field.name.endswith("_index"):
        return None
    opts: dict[str, Any] = {
        "required": False,
        "allow_null": True,
        "help_text": f"[{element.category.value}] {element.description}",
    }
    kind = element.value_kind
    if kind == "flag":
        return serializers.BooleanField(**opts)
    if kind in ("number", "year"):
        return serializers.IntegerField(**opts)
    if kind == "date":
        return serializers.DateField(**opts)
    if kind == "codes":
        return serializers.ListField(child=serializers.CharField(), **opts)
    return serializers.CharField(**opts)


@cache
def _serializer_for(model_name: str) -> type[serializers.Serializer[Any]]:
    model = apps.get_model("records", model_name)
    fields = {f.name: built for f in model._meta.concrete_fields if (built := _field(f))}
    name = "".join(part.capitalize() for part in model._meta.verbose_name.split()) + "Record"
    doc = f"Released fields of {model._meta.verbose_name} (model name {model_name!r})."
    return type(name, (serializers.Serializer,), {**fields, "__doc__": doc})


@cache
def student_serializer() -> type[serializers.Serializer[Any]]:
    """A student as released: ``id`` and the demographics/enrollment fields the caller gets."""
    model = apps.get_model("records", "student")
    fields: dict[str, Any] = {"id": serializers.IntegerField(help_text="StudentVault student id")}
    fields.update({f.name: built for f in model._meta.concrete_fields if (built := _field(f))})
    return type("StudentRecord", (serializers.Serializer,), {**fields, "__doc__": "A student."})


@cache
def student_page_serializer() -> type[serializers.Serializer[Any]]:
    """One page of students with the opaque cursor of the next page."""
    return type(
        "StudentPage",
        (serializers.Serializer,),
        {
            "next": serializers.CharField(allow_null=True, help_text="URL of the next page"),
            "results": student_serializer()(many=True),
            "__doc__": "A page of students (cursor pagination).",
        },
    )


@cache
def category_serializer(category_key: Any) -> type[serializers.Serializer[Any]]:
    """A student's rows of one category, keyed by model name."""
    models = API_CATEGORY_MODELS[category_key]
    records = type(
        f"{category_key.name.title().replace('_', '')}Records",
        (serializers.Serializer,),
        {name: _serializer_for(name)(many=True, required=False) for name in models},
    )
    return type(
        f"{category_key.name.title().replace('_', '')}Response",
        (serializers.Serializer,),
        {
            "student": serializers.IntegerField(),
            "category": serializers.CharField(),
            "fields": serializers.ListField(
                child=serializers.CharField(), help_text='Released "model.field" names'
            ),
            "records": records(),
            "__doc__": f"A student's {category_key.label} records as released to the caller.",
        },
    )
