"""Keyed blind indexes: exact search on encrypted identity without plaintext in the database.

A blind index is HMAC-SHA-256 over a normalised value, with a key per index derived by HKDF
from the blind-index root (see keysets). Equal inputs give equal index values, so
``Student.objects.filter(sasid_index=index_for("sasid", value))`` finds a student; the index
reveals nothing about the value to anyone without the root key.

Invariants:
- the root key is separate from every encryption key and is stored only wrapped by the KEK;
- each index has its own key (HKDF info names the index), so equal values in two indexes do
  not match each other;
- inputs are normalised before hashing (NFKC, case-folded, trimmed; identifiers and names
  lose inner whitespace and punctuation; dates become ISO 8601), so a lookup finds the record
  however the value was typed;
- only exact matches are possible: there is no prefix, range or LIKE search on PII;
- :func:`index_function` (for bulk writers) computes exactly :func:`index_for`, with the key
  derived once; it keeps the key only as long as the caller keeps the function.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

from .fields import Sealed
from .kek import hkdf
from .keysets import blind_index_root

_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%Y%m%d", "%d.%m.%Y")
_SEPARATOR = "\x1f"
_IDENTIFIER_SEPARATORS = re.compile(r"[\s\-_./]")


def normalize_identifier(value: object) -> str:
    """An identifier (SASID, local ID): NFKC, case-folded, without spaces, dashes or dots."""
    text = unicodedata.normalize("NFKC", str(value)).casefold()
    return _IDENTIFIER_SEPARATORS.sub("", text)


def normalize_name(value: object) -> str:
    """A name: NFKC, case-folded, only letters and digits (O'Brien = obrien = O BRIEN)."""
    text = unicodedata.normalize("NFKC", str(value)).casefold()
    return "".join(ch for ch in text if ch.isalnum())


def normalize_date(value: object) -> str:
    """A date as ISO 8601; accepts a date or a string in a few common formats."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    raise ValueError("a birth date must be a date or written as YYYY-MM-DD or MM/DD/YYYY")


# Index name -> how each of its inputs is normalised.
INDEXES: dict[str, tuple[Any, ...]] = {
    "sasid": (normalize_identifier,),
    "local_id": (normalize_identifier,),
    "name_birth": (normalize_name, normalize_date),
}


def _index_key(name: str) -> bytes:
    return hkdf(blind_index_root(), info=b"studentvault/blind-index/v1/" + name.encode())


def _normalizers(name: str) -> tuple[Any, ...]:
    normalizers = INDEXES.get(name)
    if normalizers is None:
        raise ValueError(f"no blind index named {name!r}; known: {sorted(INDEXES)}")
    return normalizers


def index_function(name: str) -> Callable[..., str]:
    """A function computing ``index_for(name, *values)`` with the index key derived once.

    For bulk writers that index many rows; raises ValueError for an unknown index at once, and
    the returned function raises ValueError for a wrong number of values, as ``index_for``.
    """
    normalizers = _normalizers(name)
    keyed = hmac.new(_index_key(name), digestmod=hashlib.sha256)
    width = len(normalizers)

    def index(*values: object) -> str:
        if len(values) != width:
            raise ValueError(f"blind index {name!r} takes {width} value(s)")
        message = _SEPARATOR.join(norm(v) for norm, v in zip(normalizers, values, strict=True))
        digest = keyed.copy()
        digest.update(message.encode("utf-8"))
        return digest.hexdigest()

    return index


def index_for(name: str, *values: object) -> str:
    """The blind index (64 hex characters) of ``values`` for the index ``name``.

    ``index_for("sasid", "1234567890")``; ``index_for("name_birth", "O'Brien", date(2012,
    5, 3))``. Raises ValueError for an unknown index or a wrong number of values.
    """
    normalizers = _normalizers(name)
    if len(values) != len(normalizers):
        raise ValueError(f"blind index {name!r} takes {len(normalizers)} value(s)")
    message = _SEPARATOR.join(norm(v) for norm, v in zip(normalizers, values, strict=True))
    return hmac.new(_index_key(name), message.encode("utf-8"), hashlib.sha256).hexdigest()


class BlindIndexField(models.CharField):  # type: ignore[type-arg]
    """A blind index kept in step with its source fields on every save and bulk_create.

    Declare its database index in the model's ``Meta.indexes``. A blind index is searched by
    equality only, and ``db_index=True`` on a character column would give it a second,
    ``LIKE`` index on PostgreSQL that is never used and slows every write.

    On PostgreSQL the column has the ``"C"`` collation: its values are hexadecimal digests, so
    a language's collation orders them no more meaningfully than byte order does, and comparing
    bytes is what keeps its index cheap to build and to insert into (docs/adr/0081). Equality,
    the only search, is the same under either.
    """

    COLLATION = "C"

    def __init__(self, *args: Any, index: str, sources: Iterable[str], **kwargs: Any) -> None:
        self.index = index
        self.sources = tuple(sources)
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("db_index", False)  # see the class's text
        kwargs.setdefault("editable", False)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def db_parameters(self, connection: BaseDatabaseWrapper) -> dict[str, Any]:
        parameters: dict[str, Any] = super().db_parameters(connection)
        if connection.vendor == "postgresql":
            parameters["collation"] = self.COLLATION
        return parameters

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["index"] = self.index
        kwargs["sources"] = list(self.sources)
        return name, path, args, kwargs

    def pre_save(self, model_instance: Model, add: bool) -> Any:
        values = [getattr(model_instance, source) for source in self.sources]
        if any(isinstance(v, Sealed) for v in values):
            # Raw rows (restore) carry their stored index already.
            return getattr(model_instance, self.attname)
        missing = any(v is None or v == "" for v in values)
        value = "" if missing else index_for(self.index, *values)
        setattr(model_instance, self.attname, value)
        return value


def blind_index_fields(model: type[Model]) -> list[BlindIndexField]:
    """The blind-index fields of ``model``."""
    return [f for f in model._meta.concrete_fields if isinstance(f, BlindIndexField)]


def with_blind_indexes(model: type[Model], update_fields: Iterable[str]) -> list[str]:
    """``update_fields`` plus every blind index fed by one of them (for ``save()``)."""
    fields = list(update_fields)
    for f in blind_index_fields(model):
        if f.name not in fields and any(source in fields for source in f.sources):
            fields.append(f.name)
    return fields
