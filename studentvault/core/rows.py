"""Model instances from a fixed SQL statement, without compiling a queryset.

Django compiles a queryset again every time it runs. On the hot read path (the API's
one-student read, docs/adr/0079) that compilation cost more CPU than the query itself. There,
the statement is written once as SQL, and this module turns its rows into instances.

- ``columns(model)`` names a model's concrete columns in field order.
- ``fetch(sql, params, models)`` runs a statement that selects those columns for one or more
  models side by side. It applies the converters the ORM would apply (each field's
  ``from_db_value`` and the backend's own, e.g. SQLite's datetimes), then builds each instance
  with ``Model.from_db``. So a model's own loading hooks run exactly as they do for a queryset.
  For example, ``Record.from_db`` opens encrypted fields.

Invariant: an instance built here equals the one the ORM builds from the same row. The
tests compare them field by field on both databases (tests/core/test_rows.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models


@dataclass(frozen=True)
class _Shape:
    """How one model's columns are named and converted on one connection alias."""

    columns: str
    attnames: list[str]
    converters: list[tuple[int, list[Callable[..., Any]], Any]]


_SHAPES: dict[tuple[type[models.Model], str, str, frozenset[str] | None], _Shape] = {}


def _shape(
    model: type[models.Model], alias: str, using: str, only: frozenset[str] | None = None
) -> _Shape:
    """The columns of ``model`` to select: all, or the primary key and the attnames ``only``."""
    key = (model, alias, using, only)
    shape = _SHAPES.get(key)
    if shape is None:
        connection = connections[using]
        quote = connection.ops.quote_name
        table = alias or model._meta.db_table
        fields = [
            f
            for f in model._meta.concrete_fields
            if only is None or f.primary_key or f.attname in only
        ]
        converters: list[tuple[int, list[Callable[..., Any]], Any]] = []
        for index, field in enumerate(fields):
            column = field.get_col(table)
            found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if found:
                converters.append((index, found, column))
        shape = _Shape(
            columns=", ".join(f"{quote(table)}.{quote(str(f.column))}" for f in fields),
            attnames=[f.attname for f in fields],
            converters=converters,
        )
        _SHAPES[key] = shape
    return shape


def columns(model: type[models.Model], alias: str = "", using: str = DEFAULT_DB_ALIAS) -> str:
    """``model``'s concrete columns in field order, qualified by ``alias`` (else its table)."""
    return _shape(model, alias, using).columns


def fetch(
    sql: str,
    params: Sequence[Any],
    models_in_row: Sequence[type[models.Model] | tuple[type[models.Model], str]],
    using: str = DEFAULT_DB_ALIAS,
) -> list[tuple[models.Model, ...]]:
    """Run ``sql`` and build one instance per model for each row.

    Each row must hold, in order, the ``columns()`` of every model in ``models_in_row``. A
    model is given alone, or as ``(model, alias)`` when the statement names its table by an
    alias. ``params`` are bound by the database driver, never formatted into ``sql``.
    """
    entries = [(entry, "") if isinstance(entry, type) else entry for entry in models_in_row]
    return _fetch(sql, params, [(m, _shape(m, alias, using)) for m, alias in entries], using)


def _fetch(
    sql: str,
    params: Sequence[Any],
    shaped: list[tuple[type[models.Model], _Shape]],
    using: str,
) -> list[tuple[models.Model, ...]]:
    connection = connections[using]
    plain = [model for model, _ in shaped]
    shapes = [shape for _, shape in shaped]
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        rows = cursor.fetchall()
    built: list[tuple[models.Model, ...]] = []
    for row in rows:
        start = 0
        instances: list[models.Model] = []
        for model, shape in zip(plain, shapes, strict=True):
            values = list(row[start : start + len(shape.attnames)])
            if len(values) != len(shape.attnames):
                raise ValueError(f"the statement returns too few columns for {model.__name__}")
            start += len(shape.attnames)
            for index, found, column in shape.converters:
                for convert in found:
                    values[index] = convert(values[index], column, connection)
            instances.append(model.from_db(using, shape.attnames, values))
        if start != len(row):
            raise ValueError("the statement returns more columns than its models have")
        built.append(tuple(instances))
    return built


def by_pk(
    model: type[models.Model],
    pk: object,
    using: str = DEFAULT_DB_ALIAS,
    *,
    only: Iterable[str] | None = None,
) -> models.Model | None:
    """The row of ``model`` with primary key ``pk`` (as ``filter(pk=pk).first()``), or None.

    With ``only`` (field names, as ``QuerySet.only``), just the primary key and those columns
    are read, and the instance defers the rest, as ``filter(pk=pk).only(*only).first()``.
    """
    selected = None
    if only is not None:
        selected = frozenset(model._meta.get_field(name).attname for name in only)  # type: ignore[union-attr]
    shape = _shape(model, "", using, selected)
    quote = connections[using].ops.quote_name
    table = quote(model._meta.db_table)
    primary = model._meta.pk
    assert primary is not None
    if not key_in_range(primary, pk, using):
        return None  # as the ORM: a key no column can hold matches no row
    where = f"{table}.{quote(str(primary.column))} = %s"
    sql = f"SELECT {shape.columns} FROM {table} WHERE {where}"  # noqa: S608 - names from the model
    key = primary.get_db_prep_value(pk, connections[using])
    found = _fetch(sql, [key], [(model, shape)], using)
    return found[0][0] if found else None


def key_in_range(
    field: models.Field[Any, Any], value: object, using: str = DEFAULT_DB_ALIAS
) -> bool:
    """False when ``value`` is an integer that ``field``'s column cannot hold (the ORM then
    finds no row; binding it would overflow on SQLite)."""
    if not isinstance(value, int) or isinstance(value, bool):
        return True
    low, high = connections[using].ops.integer_field_range(field.get_internal_type())
    return (low is None or value >= low) and (high is None or value <= high)
