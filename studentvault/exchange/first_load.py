"""First load: each foreign key of the student tables checked once, each index built once.

An import into an installation that holds no student adds every student and every record. On
PostgreSQL each added row's foreign keys are then checked one row at a time at commit (Django
creates them ``DEFERRABLE INITIALLY DEFERRED``): a look-up and a row lock per row and key, about
two million for a district of 100,000 students and a third of the database's work
(docs/adr/0080). And each added row is put into every index of its table one at a time, most of
them keyed by random values (row_uid, blind indexes), which costs the database as much as
storing the rows (docs/adr/0081). ``checked_once()`` turns both into one pass per constraint and
index:

1. inside the import's transaction, it locks the student table and every table that refers to
   a student, then, if no student is stored, reads their FOREIGN KEY and UNIQUE constraints
   from ``pg_constraint`` (``pg_get_constraintdef``) and their other indexes but the primary
   keys from ``pg_index`` (``pg_get_indexdef``), and drops them;
2. the import writes its rows;
3. when the block ends without an exception, it builds each index again, then each unique
   constraint, then each foreign key, with the definition it read (same name, columns, method,
   target, deferral). Each is one sorted build or one join over every stored row. The import
   may add back a table's indexes and constraints earlier, once it writes no more rows to it
   (``Rebuild``).

Invariants:
- The drop and the add are in the caller's transaction (PostgreSQL DDL is transactional): other
  sessions never see the tables without their constraints or indexes. If the block raises,
  nothing is added back, because the caller's transaction rolls back and takes the drop with it.
- It acts only when no student is stored, checked after the locks are held. Then every row of
  these tables is one the import wrote.
- The constraints and indexes after the block are the ones before it, by name and definition
  (tested). Primary keys stay; so does a unique constraint or index that a foreign key of
  another table depends on.
- A row that breaks a foreign key, or two rows with the same unique key, make the add fail.
  ``checked_once`` raises ``ImportRejected``, naming the table and the constraint or index,
  never a value, and the import stores nothing.
- The locks are ACCESS EXCLUSIVE, held until the transaction ends: no one else reads or writes
  these tables meanwhile. If a lock is not granted within ``LOCK_TIMEOUT``, because another
  session is using a table, the block runs the usual way, with per-row checks. So it does when
  the caller's transaction wrote to one of these tables before (its checks are still pending).
- Anywhere else (SQLite, or students already stored) it does nothing and yields None.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import DatabaseError, IntegrityError, connection, models, transaction

from .errors import ImportRejected, Problem

# How long the first load waits for its locks before it goes the usual way.
LOCK_TIMEOUT = "2s"
# Errors that make the first load go the usual way: a lock not granted in time (55P03), and a
# table with rows this transaction wrote earlier whose own checks are still pending (55006:
# "cannot ALTER TABLE ... because it has pending trigger events").
_GO_THE_USUAL_WAY = frozenset({"55P03", "55006"})


# What a first load drops, in the order it adds them back (the reverse of the drop's).
INDEX, UNIQUE, FOREIGN_KEY = "index", "unique constraint", "foreign key"
# Set for the add-back only: the memory each index build may sort in (maintenance_work_mem; the
# server's default, 64 MB, spills for a table of a million rows), and the memory of the hash
# join that checks a foreign key (work_mem; the default, 4 MB, spills for 100,000 students).
BUILD_MEMORY = {"maintenance_work_mem": "256MB", "work_mem": "256MB"}


@dataclass(frozen=True)
class _Constraint:
    table: str
    name: str
    # pg_get_constraintdef ("FOREIGN KEY (...) REFERENCES ... DEFERRABLE ...", "UNIQUE (...)")
    # or, for an index, pg_get_indexdef ("CREATE [UNIQUE] INDEX name ON table USING ...").
    definition: str
    kind: str = FOREIGN_KEY


def student_tables() -> list[str]:
    """The student table and every table of the records app with a link to a student."""
    student = apps.get_model("records", "Student")
    tables = {student._meta.db_table}
    for model in apps.get_app_config("records").get_models():
        for f in model._meta.concrete_fields:
            if isinstance(f, models.ForeignKey) and f.related_model is student:
                tables.add(model._meta.db_table)
    return sorted(tables)


class Rebuild:
    """What a first load dropped and has not added back yet.

    ``add_back_one`` lets the import add back the indexes and constraints of a table it will
    write no more rows to while it has nothing else to do (exchange.workers); the rest is added
    back when the block of ``checked_once`` ends. Adding one back early is always correct: a
    row written to its table later is checked, and indexed, one at a time, as outside a first
    load.
    """

    def __init__(self, dropped: list[_Constraint]) -> None:
        order = {INDEX: 0, UNIQUE: 1, FOREIGN_KEY: 2}
        # Indexes, then unique constraints, then foreign keys, as _add_back adds them.
        self._left = sorted(dropped, key=lambda c: order[c.kind])

    def add_back_one(self, tables: set[str]) -> bool:
        """Add back the first of what is left of ``tables``; False when nothing of them is left.

        Raises ``ImportRejected`` as ``checked_once`` does when the rows break it.
        """
        for i, constraint in enumerate(self._left):
            if constraint.table in tables:
                del self._left[i]
                _add_back([constraint])
                return True
        return False

    def finish(self) -> None:
        left, self._left = self._left, []
        if left:
            _add_back(left)


@contextmanager
def checked_once() -> Iterator[Rebuild | None]:
    """Run the block with the student tables' foreign keys checked once, and their unique
    constraints and indexes built once, at its end (or earlier: ``Rebuild.add_back_one``).

    Yields a ``Rebuild`` if it did (see the module's text for when), None otherwise. Must be
    called inside a transaction.
    """
    if connection.vendor != "postgresql":
        yield None
        return
    if not connection.in_atomic_block:
        raise RuntimeError("checked_once() must run inside the import's transaction")
    dropped = _drop_if_empty(student_tables())
    if dropped is None:
        yield None
        return
    rebuild = Rebuild(dropped)
    yield rebuild
    rebuild.finish()


def _drop_if_empty(tables: list[str]) -> list[_Constraint] | None:
    """Lock ``tables``, and if no student is stored drop what ``_droppable`` lists and return
    it; None otherwise."""
    quote = connection.ops.quote_name
    student = apps.get_model("records", "Student")
    try:
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
            _settings(cursor, {"lock_timeout": LOCK_TIMEOUT}),
        ):
            cursor.execute(
                "LOCK TABLE " + ", ".join(quote(t) for t in tables) + " IN ACCESS EXCLUSIVE MODE"
            )
            students = quote(student._meta.db_table)
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {students})")  # noqa: S608 - quoted name
            if cursor.fetchone()[0]:
                raise _NotFirstLoad
            found = _droppable(cursor, tables)
            for c in found:
                if c.kind == INDEX:
                    cursor.execute(f"DROP INDEX {quote(c.name)}")
                else:
                    cursor.execute(f"ALTER TABLE {quote(c.table)} DROP CONSTRAINT {quote(c.name)}")
    except _NotFirstLoad:
        return None
    except DatabaseError as error:
        if getattr(error.__cause__, "sqlstate", None) in _GO_THE_USUAL_WAY:
            return None
        raise
    return found


def _droppable(cursor: Any, tables: list[str]) -> list[_Constraint]:
    """The foreign keys, unique constraints and other indexes of ``tables`` that a first load
    drops, in the order it drops them: foreign keys first (none then depends on a unique
    constraint of these tables), then unique constraints, then indexes. Primary keys are kept,
    and so is any unique constraint or index a foreign key of another table depends on."""
    cursor.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
        " FROM pg_constraint WHERE contype = 'f'"
        " AND conrelid = ANY (%s::regclass[]) ORDER BY 1, 2",
        [tables],
    )
    found = [_Constraint(t, n, d, FOREIGN_KEY) for t, n, d in cursor.fetchall()]
    # "... and no foreign key of another table depends on it" (its conindid is that index).
    cursor.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
        " FROM pg_constraint c WHERE contype = 'u' AND conrelid = ANY (%s::regclass[])"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f'"
        " AND f.conindid = c.conindid AND NOT f.conrelid = ANY (%s::regclass[]))"
        " ORDER BY 1, 2",
        [tables, tables],
    )
    found += [_Constraint(t, n, d, UNIQUE) for t, n, d in cursor.fetchall()]
    # Indexes that back no primary key or unique constraint (those go with their constraint).
    cursor.execute(
        "SELECT i.indrelid::regclass::text, x.relname, pg_get_indexdef(i.indexrelid)"
        " FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid"
        " WHERE i.indrelid = ANY (%s::regclass[]) AND NOT i.indisprimary"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid"
        " AND k.conrelid = i.indrelid AND k.contype <> 'f')"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f'"
        " AND f.conindid = i.indexrelid AND NOT f.conrelid = ANY (%s::regclass[]))"
        " ORDER BY 1, 2",
        [tables, tables],
    )
    found += [_Constraint(t, n, d, INDEX) for t, n, d in cursor.fetchall()]
    return found


def _add_back(dropped: list[_Constraint]) -> None:
    """Build the indexes again, then the unique constraints, then the foreign keys."""
    quote = connection.ops.quote_name
    order = {INDEX: 0, UNIQUE: 1, FOREIGN_KEY: 2}
    with connection.cursor() as cursor, _settings(cursor, BUILD_MEMORY):
        for constraint in sorted(dropped, key=lambda c: order[c.kind]):
            if constraint.kind == INDEX:
                statement = constraint.definition
            else:
                statement = (
                    f"ALTER TABLE {quote(constraint.table)} ADD CONSTRAINT "
                    f"{quote(constraint.name)} {constraint.definition}"
                )
            try:
                with transaction.atomic():
                    cursor.execute(statement)
            except IntegrityError as error:
                name = constraint.name
                if constraint.kind == FOREIGN_KEY:
                    why = (
                        f"break the foreign key {name} (a reference to a record that is not stored)"
                    )
                else:
                    why = f"repeat a key of the {constraint.kind} {name} (two records, one key)"
                problem = Problem(
                    constraint.table, None, None, f"rows written by this import {why}"
                )
                raise ImportRejected([problem]) from error


@contextmanager
def _settings(cursor: Any, values: dict[str, str]) -> Iterator[None]:
    """Run the block with these server settings, for this transaction only, and give the ones
    before back when it ends without an exception. After an exception the caller's rollback
    (of the transaction or the savepoint) gives them back: the server refuses statements then."""
    previous: dict[str, str] = {}
    for setting, value in values.items():
        cursor.execute("SELECT current_setting(%s)", [setting])
        previous[setting] = cursor.fetchone()[0]
        cursor.execute("SELECT set_config(%s, %s, true)", [setting, value])
    yield
    for setting, value in previous.items():
        cursor.execute("SELECT set_config(%s, %s, true)", [setting, value])


class _NotFirstLoad(Exception):
    """Students are stored: leave the constraints alone (rolls the savepoint and locks back)."""
