"""Encrypted model fields: values are sealed with their category's Tink AEAD key before they
reach the database, and opened when a row is loaded.

Invariants:
- the database column holds only Tink ciphertext (5-byte key-id prefix, 12-byte nonce,
  AES-256-GCM ciphertext and tag); NULL stays NULL (a missing value is not hidden);
- every ciphertext is bound by associated data to its table, its column and its row's
  immutable ``row_uid``: a ciphertext copied into another row or column does not decrypt;
- reading never returns ciphertext as a value: a model row is opened by ``open_sealed_fields``
  (called from ``Record.from_db``); ``values()``/``values_list()`` give opaque :class:`Sealed`
  objects whose ``str`` and ``repr`` show no bytes;
- a failed decryption fails closed: :class:`DecryptionFailed` naming table, column and row
  number (never the value), and a ``crypto:field:decrypt_failed`` security event;
- nothing compares plaintext in SQL: the only lookup an encrypted field accepts is ``isnull``
  (exact search goes through blind indexes); ``QuerySet.update`` with a plaintext value is
  refused, because it has no row to bind the value to;
- with FIELD_ENCRYPTION=off (benchmark comparison only; a system check warns) values are stored
  as marked plaintext, and a marked plaintext value is refused when encryption is on;
- the batch API (:func:`seal_many`, :meth:`EncryptedMixin.payload`, :func:`associated_data`)
  gives exactly the bytes ``save()`` would store: same encoding, same associated data, the
  category's primary key fetched once per batch (so a whole batch uses one key, as a batch of
  ``bulk_create`` does within the cache window of docs/adr/0010).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, ClassVar, NoReturn

import tink
from django.conf import settings
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

from studentvault.core.actors import Actor
from studentvault.core.events import emit

from .errors import DecryptionFailed, EncryptedFieldMisuse
from .keysets import category_keys

TINK_PREFIX = 0x01
PLAIN_MARKER = b"\x00"


class Sealed(bytes):
    """A stored encrypted value as read from the database, not yet opened."""

    def __repr__(self) -> str:
        return f"<sealed value, {len(self)} bytes>"

    __str__ = __repr__

    @property
    def key_id(self) -> int | None:
        """The Tink key id in the output prefix, or None for a marked plaintext value."""
        return key_id_of(self)


def key_id_of(ciphertext: bytes) -> int | None:
    """The id of the key that sealed ``ciphertext`` (Tink's 5-byte prefix)."""
    if len(ciphertext) >= 5 and ciphertext[0] == TINK_PREFIX:
        return int.from_bytes(ciphertext[1:5], "big")
    return None


def field_encryption_enabled() -> bool:
    """FIELD_ENCRYPTION (default on). Production must keep it on (see docs/adr/0010)."""
    return bool(getattr(settings, "FIELD_ENCRYPTION", True))


def associated_data(table: str, column: str, row_uid: object) -> bytes:
    """What a ciphertext is bound to: its table, its column, its row."""
    return f"studentvault/field/v1|{table}|{column}|{row_uid}".encode()


def seal_bytes(payload: bytes, *, category: str, aad: bytes) -> bytes:
    """Encrypt an encoded value with the primary key of ``category``."""
    if not field_encryption_enabled():
        return PLAIN_MARKER + payload
    return category_keys(category).sealer.seal(payload, aad)


def seal_many(category: str, payloads: Sequence[bytes], aads: Sequence[bytes]) -> list[bytes]:
    """Encrypt ``payloads[i]`` bound to ``aads[i]``, all with the primary key of ``category``.

    The same ciphertext format as :func:`seal_bytes` (and so as ``save()``); the key is looked up
    once for the batch. Raises ValueError when the two sequences differ in length, before any
    encryption, so a value can never be bound to another row's associated data.
    """
    if len(payloads) != len(aads):
        raise ValueError(f"seal_many: {len(payloads)} payloads but {len(aads)} associated data")
    if not field_encryption_enabled():
        return [PLAIN_MARKER + payload for payload in payloads]
    if not payloads:
        return []
    return category_keys(category).sealer.seal_many(payloads, aads)


def open_bytes(ciphertext: bytes, *, category: str, aad: bytes) -> bytes:
    """Decrypt with any enabled key of ``category``; tink.TinkError if it does not decrypt."""
    if ciphertext[:1] == PLAIN_MARKER:
        if field_encryption_enabled():
            raise tink.TinkError("marked plaintext found while encryption is on")
        return ciphertext[1:]
    opened: bytes = category_keys(category).primitive.decrypt(ciphertext, aad)
    return opened


class EncryptedMixin:
    """Shared behaviour of every encrypted field; ``kind`` says how values are encoded."""

    kind: ClassVar[str] = ""
    category: str | None

    def __init__(self, *args: Any, category: str | None = None, **kwargs: Any) -> None:
        self.category = str(category) if category is not None else None
        super().__init__(*args, **kwargs)

    # --- schema --------------------------------------------------------------------------------

    def get_internal_type(self) -> str:
        return "BinaryField"

    def contribute_to_class(self, cls: type[Model], name: str, **kwargs: Any) -> None:
        if self.category is None:
            element = getattr(self, "data_element", None)
            if element is None:
                raise EncryptedFieldMisuse(
                    f"encrypted field {cls.__name__}.{name} needs a data category "
                    "(pass category= or attach a data element)"
                )
            self.category = str(element.category)
        super().contribute_to_class(cls, name, **kwargs)  # type: ignore[misc]

    def deconstruct(self) -> Any:
        name, _path, args, kwargs = super().deconstruct()  # type: ignore[misc]
        kwargs["category"] = self.category
        return name, f"{__name__}.{type(self).__name__}", args, kwargs

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name != "isnull":
            return None  # no SQL comparison of encrypted values: use a blind index
        return super().get_lookup(lookup_name)  # type: ignore[misc]

    def get_transform(self, lookup_name: str) -> Any:
        return None

    # --- encoding ------------------------------------------------------------------------------

    def encode(self, value: Any) -> bytes:
        raise NotImplementedError

    def decode(self, payload: bytes) -> Any:
        raise NotImplementedError

    def payload(self, value: Any) -> bytes:
        """The encoded plaintext ``save()`` would seal for ``value`` (not None, not sealed):
        ``pre_save`` converts with ``to_python`` and ``seal`` encodes; so does this."""
        return self.encode(self.to_python(value))  # type: ignore[attr-defined]

    def payloads(self, values: Sequence[Any]) -> list[bytes]:
        """``[self.payload(v) for v in values]`` (no None, no sealed value), with the common case
        of each kind (a ``str``, a ``datetime.date``, an ``int``, a ``bool`` of exactly that
        type) encoded directly; anything else goes through :meth:`payload`."""
        fast = _FAST_ENCODERS.get(self.kind)
        if fast is None:
            return [self.payload(value) for value in values]
        exact, encode = fast
        return [encode(v) if type(v) is exact else self.payload(v) for v in values]

    def location(self) -> tuple[str, str]:
        """The table and column this field's values are bound to (see :func:`associated_data`)."""
        return self._location()

    def _location(self) -> tuple[str, str]:
        model: type[Model] = self.model  # type: ignore[attr-defined]
        return model._meta.db_table, self.column  # type: ignore[attr-defined]

    def seal(self, value: Any, row_uid: object) -> Sealed | None:
        """The ciphertext of ``value`` bound to this column of the row ``row_uid``."""
        if value is None:
            return None
        if isinstance(value, Sealed):
            return value
        table, column = self._location()
        assert self.category is not None
        return Sealed(
            seal_bytes(
                self.encode(value),
                category=self.category,
                aad=associated_data(table, column, row_uid),
            )
        )

    def open_payload(self, sealed: bytes, *, row_uid: object, row: object) -> bytes:
        """The encoded plaintext of ``sealed`` read from the row ``row_uid``; fails closed."""
        table, column = self._location()
        assert self.category is not None
        try:
            return open_bytes(
                bytes(sealed), category=self.category, aad=associated_data(table, column, row_uid)
            )
        except tink.TinkError:
            self._fail(sealed, row)

    def open(self, sealed: Sealed, *, row_uid: object, row: object) -> Any:
        """The plaintext of ``sealed`` read from the row ``row_uid``; fails closed."""
        payload = self.open_payload(sealed, row_uid=row_uid, row=row)
        try:
            return self.decode(payload)
        except (ValueError, UnicodeDecodeError):
            self._fail(sealed, row)

    def _fail(self, sealed: bytes, row: object) -> NoReturn:
        table, column = self._location()
        emit(
            actor=Actor.system("crypto-field-read"),
            action="crypto:field:decrypt_failed",
            outcome="failure",
            table=table,
            column=column,
            row=str(row),
            category=self.category,
            key_id=key_id_of(sealed),
        )
        raise DecryptionFailed(table=table, column=column, row=row)

    # --- Django value conversion ---------------------------------------------------------------

    def pre_save(self, model_instance: Model, add: bool) -> Any:
        value = getattr(model_instance, self.attname)  # type: ignore[attr-defined]
        if value is None or isinstance(value, Sealed):
            return value
        value = self.to_python(value)  # type: ignore[attr-defined]
        return self.seal(value, model_instance.row_uid)  # type: ignore[attr-defined]

    def get_db_prep_value(
        self, value: Any, connection: BaseDatabaseWrapper, prepared: bool = False
    ) -> Any:
        if value is None:
            return None
        if isinstance(value, Sealed):
            return connection.Database.Binary(bytes(value))  # type: ignore[attr-defined]
        raise EncryptedFieldMisuse(
            f"{type(self).__name__} {self._location()[0]}.{self._location()[1]} can only be "
            "written through save() or bulk_create(), which bind the value to its row"
        )

    def get_db_prep_save(self, value: Any, connection: BaseDatabaseWrapper) -> Any:
        return self.get_db_prep_value(value, connection, prepared=False)

    def from_db_value(self, value: Any, expression: Any, connection: BaseDatabaseWrapper) -> Any:
        if value is None:
            return None
        return Sealed(bytes(value))

    def value_to_string(self, obj: Model) -> str:
        raise EncryptedFieldMisuse(
            "encrypted fields are not serialized in plaintext; use `studentvault backup`"
        )


class EncryptedTextField(EncryptedMixin, models.CharField):  # type: ignore[misc, type-arg]
    """Text (names, identifiers, codes) stored encrypted."""

    kind = "text"

    def encode(self, value: Any) -> bytes:
        return str(value).encode("utf-8")

    def decode(self, payload: bytes) -> Any:
        return payload.decode("utf-8")


class EncryptedDateField(EncryptedMixin, models.DateField):  # type: ignore[misc, type-arg]
    """A calendar date stored encrypted (ISO format inside the ciphertext)."""

    kind = "date"

    def encode(self, value: Any) -> bytes:
        if not isinstance(value, dt.date):
            raise EncryptedFieldMisuse("an encrypted date field needs a date")
        return value.isoformat().encode()

    def decode(self, payload: bytes) -> Any:
        return dt.date.fromisoformat(payload.decode())

    def pre_save(self, model_instance: Model, add: bool) -> Any:
        # DateField.pre_save would apply auto_now; encrypted dates have none.
        return EncryptedMixin.pre_save(self, model_instance, add)


# What json.dumps(value, separators=(",", ":"), sort_keys=True) uses, made once: the same text.
_JSON = json.JSONEncoder(separators=(",", ":"), sort_keys=True)


class EncryptedJSONField(EncryptedMixin, models.JSONField):  # type: ignore[misc]
    """A JSON document (such as a list of codes) stored encrypted."""

    kind = "json"

    def encode(self, value: Any) -> bytes:
        return _JSON.encode(value).encode()

    def decode(self, payload: bytes) -> Any:
        return json.loads(payload)

    def get_db_prep_save(self, value: Any, connection: BaseDatabaseWrapper) -> Any:
        return self.get_db_prep_value(value, connection, prepared=False)


class EncryptedIntegerField(EncryptedMixin, models.IntegerField):  # type: ignore[misc, type-arg]
    """A whole number stored encrypted."""

    kind = "number"

    @property
    def validators(self) -> list[Any]:
        # IntegerField asks the backend for the range of the column type; the column is binary.
        return list(getattr(self, "_validators", []))

    def encode(self, value: Any) -> bytes:
        return str(int(value)).encode()

    def decode(self, payload: bytes) -> Any:
        return int(payload)


class EncryptedDecimalField(EncryptedMixin, models.DecimalField):  # type: ignore[misc, type-arg]
    """A decimal number stored encrypted."""

    kind = "decimal"

    def encode(self, value: Any) -> bytes:
        return str(Decimal(value)).encode()

    def decode(self, payload: bytes) -> Any:
        return Decimal(payload.decode())


class EncryptedBooleanField(EncryptedMixin, models.BooleanField):  # type: ignore[misc, type-arg]
    """A yes/no fact stored encrypted."""

    kind = "flag"

    def encode(self, value: Any) -> bytes:
        return b"1" if value else b"0"

    def decode(self, payload: bytes) -> Any:
        if payload not in (b"0", b"1"):
            raise ValueError("not a flag")
        return payload == b"1"


# kind -> (the exact Python type of the usual value, its encoding): what to_python + encode give
# for a value of exactly that type (tests compare them with payload() for every kind).
_FAST_ENCODERS: dict[str, tuple[type, Any]] = {
    "text": (str, lambda v: v.encode("utf-8")),
    "date": (dt.date, lambda v: v.isoformat().encode()),
    "number": (int, lambda v: str(v).encode()),
    "flag": (bool, lambda v: b"1" if v else b"0"),
}

ENCRYPTED_FIELD_CLASSES: dict[str, type[models.Field[Any, Any]]] = {
    cls.kind: cls
    for cls in (
        EncryptedTextField,
        EncryptedDateField,
        EncryptedJSONField,
        EncryptedIntegerField,
        EncryptedDecimalField,
        EncryptedBooleanField,
    )
}

_by_model: dict[type[Model], tuple[EncryptedMixin, ...]] = {}


def encrypted_fields_of(model: type[Model]) -> tuple[EncryptedMixin, ...]:
    """The encrypted concrete fields of ``model`` (cached)."""
    found = _by_model.get(model)
    if found is None:
        found = tuple(
            f  # type: ignore[misc]
            for f in model._meta.concrete_fields
            if isinstance(f, EncryptedMixin)
        )
        _by_model[model] = found
    return found


def open_sealed_fields(instance: Model) -> None:
    """Replace every sealed value loaded into ``instance`` by its plaintext (fails closed)."""
    fields = encrypted_fields_of(type(instance))
    if not fields:
        return
    loaded = instance.__dict__
    row_uid: object = None
    for f in fields:
        value = loaded.get(f.attname)  # type: ignore[attr-defined]
        if isinstance(value, Sealed):
            if row_uid is None:
                row_uid = instance.row_uid  # type: ignore[attr-defined]
            loaded[f.attname] = f.open(  # type: ignore[attr-defined]
                value, row_uid=row_uid, row=instance.pk
            )
