"""First load: each foreign key of the student tables checked once, not once per row.

An import into an installation that holds no student adds every student and every record. On
PostgreSQL each added row's foreign keys are then checked one row at a time at commit (Django
creates them ``DEFERRABLE INITIALLY DEFERRED``): a look-up and a row lock per row and key, about
two million for a district of 100,000 students and a third of the database's work
(docs/adr/0080). ``checked_once()`` turns that into one join per constraint:

1. inside the import's transaction, it locks the student table and every table that refers to
   a student, then, if no student is stored, reads their FOREIGN KEY constraints from
   ``pg_constraint`` and drops them;
2. the import writes its rows;
3. when the block ends without an exception, it adds each constraint back with the definition
   it read (``pg_get_constraintdef``: same name, columns, target, deferral).
   ``ALTER TABLE ... ADD CONSTRAINT`` checks every stored row with one query.

Invariants:
- The drop and the add are in the caller's transaction (PostgreSQL DDL is transactional): other
  sessions never see the tables without their constraints. If the block raises, nothing is added
  back, because the caller's transaction rolls back and takes the drop with it.
- It acts only when no student is stored, checked after the locks are held. Then every row of
  these tables is one the import wrote.
- The constraints after the block are the ones before it, by name and definition (tested).
- A row that breaks a constraint makes its add fail. ``checked_once`` raises
  ``ImportRejected``, naming the table and the constraint, never a value, and the import stores
  nothing.
- The locks are ACCESS EXCLUSIVE, held until the transaction ends: no one else reads or writes
  these tables meanwhile. If a lock is not granted within ``LOCK_TIMEOUT``, because another
  session is using a table, the block runs the usual way, with per-row checks. So it does when
  the caller's transaction wrote to one of these tables before (its checks are still pending).
- Anywhere else (SQLite, or students already stored) it does nothing and yields ``False``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.apps import apps
from django.db import DatabaseError, IntegrityError, connection, models, transaction

from .errors import ImportRejected, Problem

# How long the first load waits for its locks before it goes the usual way.
LOCK_TIMEOUT = "2s"
# Errors that make the first load go the usual way: a lock not granted in time (55P03), and a
# table with rows this transaction wrote earlier whose own checks are still pending (55006:
# "cannot ALTER TABLE ... because it has pending trigger events").
_GO_THE_USUAL_WAY = frozenset({"55P03", "55006"})


@dataclass(frozen=True)
class _Constraint:
    table: str
    name: str
    definition: str  # pg_get_constraintdef: "FOREIGN KEY (...) REFERENCES ... DEFERRABLE ..."


def student_tables() -> list[str]:
    """The student table and every table of the records app with a link to a student."""
    student = apps.get_model("records", "Student")
    tables = {student._meta.db_table}
    for model in apps.get_app_config("records").get_models():
        for f in model._meta.concrete_fields:
            if isinstance(f, models.ForeignKey) and f.related_model is student:
                tables.add(model._meta.db_table)
    return sorted(tables)


@contextmanager
def checked_once() -> Iterator[bool]:
    """Run the block with the student tables' foreign keys checked once at its end.

    Yields whether it did (see the module's text for when). Must be called inside a transaction.
    """
    if connection.vendor != "postgresql":
        yield False
        return
    if not connection.in_atomic_block:
        raise RuntimeError("checked_once() must run inside the import's transaction")
    dropped = _drop_if_empty(student_tables())
    yield dropped is not None
    if dropped:
        _add_back(dropped)


def _drop_if_empty(tables: list[str]) -> list[_Constraint] | None:
    """Lock ``tables``, and if no student is stored drop their foreign keys; None otherwise."""
    quote = connection.ops.quote_name
    student = apps.get_model("records", "Student")
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('lock_timeout')")
            previous = cursor.fetchone()[0]
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            cursor.execute(
                "LOCK TABLE " + ", ".join(quote(t) for t in tables) + " IN ACCESS EXCLUSIVE MODE"
            )
            students = quote(student._meta.db_table)
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {students})")  # noqa: S608 - quoted name
            if cursor.fetchone()[0]:
                raise _NotFirstLoad
            cursor.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
                " FROM pg_constraint WHERE contype = 'f'"
                " AND conrelid = ANY (%s::regclass[]) ORDER BY 1, 2",
                [tables],
            )
            found = [_Constraint(*row) for row in cursor.fetchall()]
            for c in found:
                cursor.execute(f"ALTER TABLE {quote(c.table)} DROP CONSTRAINT {quote(c.name)}")
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])
    except _NotFirstLoad:
        return None
    except DatabaseError as error:
        if getattr(error.__cause__, "sqlstate", None) in _GO_THE_USUAL_WAY:
            return None
        raise
    return found


def _add_back(dropped: list[_Constraint]) -> None:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for constraint in dropped:
            try:
                with transaction.atomic():
                    cursor.execute(
                        f"ALTER TABLE {quote(constraint.table)} ADD CONSTRAINT "
                        f"{quote(constraint.name)} {constraint.definition}"
                    )
            except IntegrityError as error:
                raise ImportRejected(
                    [
                        Problem(
                            constraint.table,
                            None,
                            None,
                            f"rows written by this import break the foreign key "
                            f"{constraint.name} (a reference to a record that is not stored)",
                        )
                    ]
                ) from error


class _NotFirstLoad(Exception):
    """Students are stored: leave the constraints alone (rolls the savepoint and locks back)."""
