"""SQLite through SQLCipher: the embedded database file is encrypted page by page.

Invariants:
- the page key is derived by HKDF from the KEK ("sqlcipher-database"), given to SQLCipher as a
  raw 256-bit key at every connection, and never stored;
- after keying, a check query reads the schema: a wrong key ("file is not a database") or a
  plain, unencrypted SQLite file makes the connection fail with :class:`DatabaseKeyError`, so
  the application refuses to start instead of creating an empty database over the old one;
- in-memory databases (the test database) are plain SQLite: nothing reaches a disk.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Mapping
from itertools import tee
from pathlib import Path
from typing import Any

from django.db.backends.sqlite3 import base as sqlite_base
from django.db.backends.sqlite3._functions import register as register_functions
from django.utils.dateparse import parse_date, parse_datetime, parse_time
from sqlcipher3 import dbapi2 as Database

from ..errors import DatabaseKeyError
from ..kek import current_kek

SQLITE_HEADER = b"SQLite format 3\x00"
KEY_PURPOSE = "sqlcipher-database"

Database.register_converter("bool", b"1".__eq__)
Database.register_converter("date", sqlite_base.decoder(parse_date))
Database.register_converter("time", sqlite_base.decoder(parse_time))
Database.register_converter("datetime", sqlite_base.decoder(parse_datetime))
Database.register_converter("timestamp", sqlite_base.decoder(parse_datetime))
Database.register_adapter(decimal.Decimal, str)
Database.register_adapter(datetime.date, sqlite_base.adapt_date)
Database.register_adapter(datetime.datetime, sqlite_base.adapt_datetime)


def database_key() -> bytes:
    """The 32-byte SQLCipher key of the embedded database, derived from the current KEK."""
    return current_kek().derive_key(KEY_PURPOSE)


def open_encrypted(path: str, key: bytes, **params: Any) -> Any:
    """A SQLCipher connection to ``path`` keyed with ``key``; DatabaseKeyError if it is wrong."""
    file = Path(path)
    existed = file.exists() and file.stat().st_size > 0
    if existed:
        with file.open("rb") as handle:
            if handle.read(16) == SQLITE_HEADER:
                raise DatabaseKeyError(
                    f"{file} is an unencrypted SQLite database while DATABASE_ENCRYPTION is on; "
                    "refusing to start (encrypt it with sqlcipher_export, see "
                    "docs/runbooks/keys.md)"
                )
    conn = Database.connect(path, **params)
    try:
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except Database.DatabaseError:
        conn.close()
        raise DatabaseKeyError(
            f"{file} cannot be opened with the key derived from the master key (wrong KEK, or "
            "not a StudentVault database); refusing to start rather than create an empty "
            "database over it"
        ) from None
    return conn


class SQLCipherCursorWrapper(Database.Cursor):  # type: ignore[misc]
    """Django's format/pyformat to qmark/named conversion, for SQLCipher cursors."""

    def execute(self, query: str, params: Any = None) -> Any:
        if params is None:
            return super().execute(query)
        param_names = list(params) if isinstance(params, Mapping) else None
        return super().execute(self.convert_query(query, param_names=param_names), params)

    def executemany(self, query: str, param_list: Any) -> Any:
        peekable, param_list = tee(iter(param_list))
        params = next(peekable, None)
        param_names = list(params) if params and isinstance(params, Mapping) else None
        return super().executemany(self.convert_query(query, param_names=param_names), param_list)

    def convert_query(self, query: str, *, param_names: list[str] | None = None) -> str:
        if param_names is None:
            return str(sqlite_base.FORMAT_QMARK_REGEX.sub("?", query).replace("%%", "%"))
        return query % {name: f":{name}" for name in param_names}


class DatabaseWrapper(sqlite_base.DatabaseWrapper):
    """The sqlite3 backend with SQLCipher as the driver and a KEK-derived key."""

    vendor = "sqlite"
    display_name = "SQLite (SQLCipher)"
    Database = Database

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        name = str(conn_params.get("database", ""))
        params = {k: v for k, v in conn_params.items() if k != "database"}
        if self.is_in_memory_db():
            conn = Database.connect(name, **params)
        else:
            conn = open_encrypted(name, database_key(), **params)
        register_functions(conn)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA legacy_alter_table = OFF")
        for init_command in self.init_commands:  # type: ignore[attr-defined]
            if init_command := init_command.strip():
                conn.execute(init_command)
        return conn

    def create_cursor(self, name: str | None = None) -> Any:
        return self.connection.cursor(factory=SQLCipherCursorWrapper)
