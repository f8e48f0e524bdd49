"""The bulk writer: rows the engine has established are all new, written without model instances.

The engine (``engine.py``) decides; this module only writes. It is used for a batch of rows when
nothing stored can match any of them: students none of whose SASIDs or local IDs is stored or
added earlier in the run, rows of student records whose students were all created by this
run (their unique keys contain the student, so nothing stored can collide), and the adds of the
engine's general path (rows it compared with what is stored, organization rows among them, and
found new). Updates go through the general path, which saves model instances.

Invariants:
- a row is stored exactly as ``Model(**values)`` followed by ``bulk_create`` would store it: the
  same defaults for elements a source does not give, a fresh ``row_uid`` (UUID4), every encrypted
  value encoded by its field (``EncryptedMixin.payloads``, equal to ``payload`` per value, which
  is what ``save()`` seals) and sealed under its category's primary
  key with the associated data of its table, column and row (``crypto.fields.seal_many``), every
  blind index computed as ``index_for`` (empty when a source value is missing), so a row written
  here is read, decrypted and searched like any other;
- it writes into the caller's connection and transaction (PostgreSQL: ``COPY ... FROM STDIN
  (FORMAT binary)`` streamed by psycopg, possibly kept open across batches of one table by
  :class:`CopyStreams`, which finishes it before any other statement; other databases: one
  ``executemany`` INSERT with the values Django's fields prepare), so the caller's rollback
  undoes it;
- it checks nothing and authorizes nothing: validation, authorization and audit are the
  engine's and the import service's, before and after it, as for the general path;
- primary keys the caller needs (students, which later files point at) are taken from the
  table's sequence before the COPY (PostgreSQL) or read back by ``row_uid`` (others).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connections, models

from studentvault.crypto.blind_index import BlindIndexField, index_function
from studentvault.crypto.fields import EncryptedMixin, associated_data, seal_many

# Rows whose ids are read back per query on databases without COPY (SQLite's parameter limit).
_READ_BACK = 500
# PostgreSQL's bytea type: the row_uid goes into COPY as its 16 bytes (see _column_types).
_BYTEA_OID = 17
# Byte maps that set a UUID's version (4: high nibble of byte 6) and variant (10xx: byte 8).
_VERSION_4 = bytes((b & 0x0F) | 0x40 for b in range(256))
_VARIANT_RFC_4122 = bytes((b & 0x3F) | 0x80 for b in range(256))
# Where each of a uid's 32 hex digits stands in its 36-character text (8-4-4-4-12, dashes between).
_TEXT_PLACE = [d + (d >= 8) + (d >= 12) + (d >= 16) + (d >= 20) for d in range(32)]
# The most primary keys CopyStreams.ids takes from a sequence at once.
_ID_BLOCK = 65_536


@dataclass(frozen=True)
class _Column:
    field: models.Field[Any, Any]
    kind: str  # "pk", "uid", "sealed", "index", "plain"


def _plan(model: type[models.Model], *, with_pk: bool) -> list[_Column]:
    columns: list[_Column] = []
    pk = model._meta.pk
    for f in model._meta.concrete_fields:
        if f is pk:
            if with_pk:
                columns.append(_Column(f, "pk"))
            continue
        if f.attname == "row_uid":
            columns.append(_Column(f, "uid"))
        elif isinstance(f, EncryptedMixin):
            columns.append(_Column(f, "sealed"))
        elif isinstance(f, BlindIndexField):
            columns.append(_Column(f, "index"))
        else:
            columns.append(_Column(f, "plain"))
    return columns


def _plain_values(f: models.Field[Any, Any], rows: Sequence[dict[str, Any]]) -> list[Any]:
    name = f.attname
    if f.has_default() and callable(f.default):
        return [row[name] if name in row else f.get_default() for row in rows]
    default = f.get_default()
    return [row.get(name, default) for row in rows]


def _defaults(f: models.Field[Any, Any], count: int) -> list[Any]:
    """``count`` values of ``f`` as ``Model()`` gives them when a row does not give one."""
    if f.has_default() and callable(f.default):
        return [f.get_default() for _ in range(count)]
    return [f.get_default()] * count


def _sealed_values(
    f: EncryptedMixin, values: list[Any], uid_bytes: list[bytes]
) -> list[bytes | None]:
    """The ciphertext of each value (None stays None), bound to its row."""
    assert f.category is not None
    table, column = f.location()
    # associated_data(table, column, uid) is this prefix followed by the row_uid's text; checked
    # once here so that the two can never drift apart.
    prefix = associated_data(table, column, "")
    probe = uid_bytes[0].decode() if uid_bytes else "0"
    if associated_data(table, column, probe) != prefix + probe.encode():
        raise AssertionError("associated data is no longer prefix + row_uid")
    where = [i for i, value in enumerate(values) if value is not None]
    payloads = f.payloads([values[i] for i in where])
    aads = [prefix + uid_bytes[i] for i in where]
    out: list[bytes | None] = [None] * len(values)
    for i, sealed in zip(where, seal_many(f.category, payloads, aads), strict=True):
        out[i] = sealed
    return out


def _field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    f = model._meta.get_field(name)
    assert isinstance(f, models.Field)
    return f


def _index_values(f: BlindIndexField, sources: list[list[Any]]) -> list[str]:
    """The blind index of each row from the values of its sources (``sources[k][i]`` is the
    k-th source of row i); empty when a source value is missing."""
    index: Callable[..., str] = index_function(f.index)
    out: list[str] = []
    for values in zip(*sources, strict=True):
        missing = any(v is None or v == "" for v in values)
        out.append("" if missing else index(*values))
    return out


def new_row_uids(count: int) -> tuple[list[bytes], list[bytes]]:
    """``count`` fresh row_uids: (the 16 bytes of each, its text as ``str(uuid.UUID)`` gives it).

    The same as ``uuid.uuid4()`` per row (122 random bits, version 4, RFC 4122 variant; tested
    against ``uuid.UUID``), from one read of randomness and without a UUID object per row. The
    texts are laid out for the whole batch at once: each of the 32 hex digits of every uid is
    copied by one strided slice assignment to its place between the dashes.
    """
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = raw[6::16].translate(_VERSION_4)
    raw[8::16] = raw[8::16].translate(_VARIANT_RFC_4122)
    uids = bytes(raw)
    hexed = uids.hex().encode()
    text = bytearray(b"-" * (36 * count))
    for digit, place in enumerate(_TEXT_PLACE):
        text[place::36] = hexed[digit::32]
    texts = bytes(text)
    return (
        [uids[i : i + 16] for i in range(0, 16 * count, 16)],
        [texts[i : i + 36] for i in range(0, 36 * count, 36)],
    )


def _next_ids(connection: Any, table: str, count: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, count],
        )
        return [row[0] for row in cursor.fetchall()]


def _column_types(connection: Any, table: str, names: list[str]) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, atttypid::int FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            [table],
        )
        oids = dict(cursor.fetchall())
    # Binary COPY sends each field's bytes and the server reads them with the column's own type:
    # a uuid column takes the 16 bytes of the value. write_columns gives row_uid as those bytes, so
    # psycopg dumps it with bytea's dumper, which sends bytes as they are.
    return [_BYTEA_OID if name == "row_uid" else oids[name] for name in names]


def _binary_copy(cursor: Any, table: str, names: list[str]) -> Any:
    """``COPY table (names) FROM STDIN (FORMAT BINARY)`` on ``cursor`` (Django's): psycopg's COPY
    context, to enter and then ``set_types``.

    Bytea values are dumped by psycopg's own bytes dumper. psycopg's DB-API module makes the
    dumper of its ``Binary`` wrapper the default for the bytea type, a Python class that checks
    each value for the wrapper. The bulk writer gives bytea columns plain ``bytes`` only
    (ciphertexts, row_uids), so on this cursor (its adapters are its own copy) the bytes dumper,
    compiled with psycopg's C extension, dumps them unchanged.
    """
    from psycopg import sql
    from psycopg.types.string import BytesBinaryDumper

    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(n) for n in names)
    )
    cursor.cursor.adapters.register_dumper(None, BytesBinaryDumper)
    return cursor.cursor.copy(statement)


class CopyStreams:
    """PostgreSQL: one ``COPY ... FROM STDIN`` kept open across the batches of one table, so the
    server stores a batch while the next one is parsed and sealed.

    At most one stream is open. It is finished (the server has stored, or refused, every row
    sent) before any other statement runs on the connection (an execute wrapper installed by
    :meth:`active`), before a stream on another table opens, and when :meth:`active` is left;
    an exception inside :meth:`active` abandons it (COPY fails, the caller's transaction rolls
    back). Outside :meth:`active` nothing is kept open.
    """

    def __init__(self, using: str = "default") -> None:
        self.using = using
        self._types: dict[tuple[str, tuple[str, ...]], list[int]] = {}
        # (table, columns), cursor, COPY context, COPY of the open stream
        self._open: tuple[tuple[str, tuple[str, ...]], Any, Any, Any] | None = None
        self._active = False
        self._ids: dict[str, list[int]] = {}  # table -> primary keys taken, not yet used
        self._block: dict[str, int] = {}  # table -> size of the last block of keys taken

    def ids(self, table: str, count: int) -> list[int]:
        """``count`` new primary keys of ``table``, from its sequence, in increasing order.

        Taken in blocks that double up to ``_ID_BLOCK`` keys, so that a file's batches ask the
        database rarely (the question finishes the open stream and so waits for the server).
        Keys taken and not used stay unused, as after a rolled-back insert.
        """
        reserve = self._ids.setdefault(table, [])
        if len(reserve) < count:
            block = max(count - len(reserve), min(2 * self._block.get(table, 0), _ID_BLOCK))
            self._block[table] = block
            reserve += _next_ids(connections[self.using], table, block)
        taken, self._ids[table] = reserve[:count], reserve[count:]
        return taken

    @contextmanager
    def active(self) -> Iterator[CopyStreams]:
        """Streams may stay open inside this block; every other statement finishes them first."""
        connection = connections[self.using]

        def finish_first(execute: Any, sql: Any, params: Any, many: Any, context: Any) -> Any:
            self.finish()
            return execute(sql, params, many, context)

        with connection.execute_wrapper(finish_first):
            self._active = True
            try:
                yield self
                self.finish()
            except BaseException as error:
                self._abandon(error)
                raise
            finally:
                self._active = False

    def writer(self, table: str, names: list[str]) -> Any:
        """The open COPY into ``table`` (opened if needed) for rows of columns ``names``."""
        target = (table, tuple(names))
        if self._open is not None and self._open[0] == target:
            return self._open[3]
        self.finish()
        connection = connections[self.using]
        types = self._types.get(target)
        if types is None:
            types = self._types[target] = _column_types(connection, table, names)
        cursor = connection.cursor()
        context = _binary_copy(cursor, table, names)
        copy = context.__enter__()
        copy.set_types(types)
        self._open = (target, cursor, context, copy)
        return copy

    def finish(self) -> None:
        """End the open stream, if any: raises the server's error if it refused a row."""
        if self._open is None:
            return
        _, cursor, context, _ = self._open
        self._open = None
        try:
            context.__exit__(None, None, None)
        finally:
            cursor.close()

    def _abandon(self, error: BaseException) -> None:
        if self._open is None:
            return
        _, cursor, context, _ = self._open
        self._open = None
        try:
            context.__exit__(type(error), error, error.__traceback__)
        finally:
            cursor.close()

    @property
    def usable(self) -> bool:
        return self._active and connections[self.using].vendor == "postgresql"


class NeedsDatabase(Exception):
    """A worker process (``SpoolStreams``) reached a step that needs the database."""


class SpoolStreams(CopyStreams):
    """For a worker process forked inside the import's transaction: each COPY stream goes into a
    file of ``directory`` instead of the server, in the same binary COPY format (psycopg's
    ``Copy`` with a ``FileWriter``), for the parent to send with :func:`replay`.

    Inside :meth:`active` every statement on the inherited connection raises ``NeedsDatabase``
    before anything is sent (the connection is the parent's, mid-transaction); so do keys from a
    sequence and a table whose column types the parent did not give. ``spooled`` lists the
    finished files in the order they were written: (table, columns, path).
    """

    def __init__(self, directory: Path, types: dict[tuple[str, tuple[str, ...]], list[int]]):
        super().__init__()
        self.directory = directory
        self._types = dict(types)
        self.spooled: list[tuple[str, list[str], Path]] = []
        # (table, columns), the file, the cursor whose adapters format the rows, its COPY
        self._spool: tuple[tuple[str, tuple[str, ...]], Path, Any, Any, Any] | None = None

    def ids(self, table: str, count: int) -> list[int]:
        raise NeedsDatabase(f"new keys of {table}")

    @contextmanager
    def active(self) -> Iterator[CopyStreams]:
        def refuse(execute: Any, sql: Any, params: Any, many: Any, context: Any) -> Any:
            raise NeedsDatabase("a statement")

        with connections[self.using].execute_wrapper(refuse):
            self._active = True
            try:
                yield self
                self.finish()
            finally:
                self._active = False
                self._drop_open()

    def writer(self, table: str, names: list[str]) -> Any:
        from psycopg.copy import Copy, FileWriter
        from psycopg.types.string import BytesBinaryDumper

        target = (table, tuple(names))
        if self._spool is not None and self._spool[0] == target:
            return self._spool[4]
        self.finish()
        types = self._types.get(target)
        if types is None:
            raise NeedsDatabase(f"the column types of {table}")
        path = self.directory / f"{len(self.spooled):04d}.copy"
        handle = path.open("xb")
        # A cursor object of the inherited connection, for its adapters only: making it,
        # formatting rows with it and closing it send nothing.
        cursor = connections[self.using].connection.cursor()
        cursor.adapters.register_dumper(None, BytesBinaryDumper)
        copy = Copy(cursor, binary=True, writer=FileWriter(handle))
        copy.__enter__()
        copy.set_types(types)
        self._spool = (target, path, handle, cursor, copy)
        return copy

    def finish(self) -> None:
        if self._spool is None:
            return
        (table, names), path, _, _, copy = self._spool
        copy.__exit__(None, None, None)  # writes the binary COPY trailer into the file
        self._drop_open()
        self.spooled.append((table, list(names), path))

    def _drop_open(self) -> None:
        """Close the open file (finished or not) and its cursor."""
        if self._spool is not None:
            _, _, handle, cursor, _ = self._spool
            self._spool = None
            handle.close()
            cursor.close()


def spool_types(
    model: type[models.Model], *, using: str = "default"
) -> dict[tuple[str, tuple[str, ...]], list[int]]:
    """The COPY column types ``SpoolStreams`` needs for new ``model`` rows without taken keys
    (what ``write_columns`` sends without ``with_ids``), read from the database."""
    table = model._meta.db_table
    names = [str(column.field.column) for column in _plan(model, with_pk=False)]
    return {(table, tuple(names)): _column_types(connections[using], table, names)}


def replay(table: str, names: list[str], path: Path, *, using: str = "default") -> None:
    """Send a file written by ``SpoolStreams`` as ``COPY table (names) FROM STDIN`` on the
    caller's connection and transaction (the server checks and stores every row, or refuses)."""
    connection = connections[using]
    with (
        connection.cursor() as cursor,
        _binary_copy(cursor, table, names) as copy,
        path.open("rb") as handle,
    ):
        while chunk := handle.read(1 << 20):
            copy.write(chunk)


def write_new(
    model: type[models.Model],
    rows: Sequence[dict[str, Any]],
    *,
    with_ids: bool = False,
    using: str = "default",
    streams: CopyStreams | None = None,
) -> list[int]:
    """Store ``rows`` (attname -> value, as the engine parsed them) as new ``model`` rows.

    Returns the primary keys in the order of ``rows`` when ``with_ids``, else an empty list.
    An element a row does not give takes the field's default, as ``Model(**row)`` does; the rest
    is :func:`write_columns`.
    """
    columns = {
        f.attname: _plain_values(f, rows)
        for f in model._meta.concrete_fields
        if any(f.attname in row for row in rows)
    }
    return write_columns(model, columns, len(rows), with_ids=with_ids, using=using, streams=streams)


def write_columns(
    model: type[models.Model],
    values: dict[str, list[Any]],
    count: int,
    *,
    with_ids: bool = False,
    using: str = "default",
    streams: CopyStreams | None = None,
) -> list[int]:
    """Store ``count`` new ``model`` rows given by column: ``values[attname][i]`` is row i's
    value of that element (as the engine parsed it); an element absent from ``values`` takes
    the field's default in every row, as ``Model()`` does.

    Returns the primary keys in row order when ``with_ids``, else an empty list.
    The caller guarantees that every row is new and authorized, and runs this inside its
    transaction. With ``streams`` (inside ``streams.active()``, PostgreSQL) the rows go into the
    table's open COPY and may be stored after this returns, at the latest before the next
    statement on the connection; their keys, when wanted, are taken ahead (``CopyStreams.ids``).
    """
    if not count:
        return []
    wrong = sorted(name for name, column in values.items() if len(column) != count)
    if wrong:
        raise ValueError(f"write_columns: columns {wrong} do not have {count} values")
    connection = connections[using]
    postgres = connection.vendor == "postgresql"
    table = model._meta.db_table
    plan = _plan(model, with_pk=with_ids and postgres)
    uid_raw, uid_bytes = new_row_uids(count)
    # PostgreSQL's COPY takes the 16 bytes; Django's fields elsewhere take UUID objects.
    uids: list[Any] = uid_raw if postgres else [uuid.UUID(bytes=b) for b in uid_raw]
    stream = streams if postgres and streams is not None and streams.usable else None
    ids: list[int] = []
    if with_ids and postgres:
        ids = stream.ids(table, count) if stream else _next_ids(connection, table, count)

    def given(f: models.Field[Any, Any]) -> list[Any]:
        column = values.get(f.attname)
        return column if column is not None else _defaults(f, count)

    columns: list[list[Any]] = []
    for column in plan:
        f = column.field
        if column.kind == "pk":
            columns.append(ids)
        elif column.kind == "uid":
            columns.append(uids)
        elif column.kind == "sealed":
            assert isinstance(f, EncryptedMixin)
            columns.append(_sealed_values(f, given(f), uid_bytes))
        elif column.kind == "index":
            assert isinstance(f, BlindIndexField)
            sources = [given(_field(model, name)) for name in f.sources]
            columns.append(_index_values(f, sources))
        else:
            columns.append(given(f))
    names = [str(column.field.column) for column in plan]
    if stream is not None:
        copy = stream.writer(table, names)
        for row in zip(*columns, strict=True):
            copy.write_row(row)
        return ids
    if streams is not None:
        streams.finish()
    if postgres:
        types = _column_types(connection, table, names)
        with connection.cursor() as cursor, _binary_copy(cursor, table, names) as copy:
            copy.set_types(types)
            for row in zip(*columns, strict=True):
                copy.write_row(row)
        return ids
    binary = connection.Database.Binary  # type: ignore[attr-defined]
    prepared = []
    for column, cells in zip(plan, columns, strict=True):
        f = column.field
        if column.kind == "sealed":
            prepared.append([None if v is None else binary(v) for v in cells])
        else:
            prepared.append([f.get_db_prep_save(v, connection) for v in cells])
    quote = connection.ops.quote_name
    # Table and column names come from the model's metadata, quoted; values are parameters.
    into = f"{quote(table)} ({', '.join(quote(n) for n in names)})"
    insert = f"INSERT INTO {into} VALUES ({', '.join(['%s'] * len(names))})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(insert, list(zip(*prepared, strict=True)))
    if not with_ids:
        return []
    by_uid: dict[uuid.UUID, int] = {}
    manager = model._base_manager.db_manager(using)
    for start in range(0, len(uids), _READ_BACK):
        chunk = uids[start : start + _READ_BACK]
        by_uid.update(manager.filter(row_uid__in=chunk).values_list("row_uid", "pk"))
    return [by_uid[u] for u in uids]
