"""The one writer of the audit log.

Invariants:
- ``record`` is the only code that inserts ``AuditEntry`` rows (and their ``AuditEntryStudent``
  index rows). In the same transaction it moves the actor's ``ActorStudentRead`` times forward
  for a successful read, so the bulk-read rule's window always matches the committed log.
- On PostgreSQL one call of the function ``studentvault_audit_append`` (migration 0004) takes
  the lock, reads the head, hashes and inserts the entry, its index rows and the read window:
  one round trip. The hash it computes is recomputed here with ``chain.entry_hash`` and a
  mismatch is refused (``AuditError``, the transaction rolls back). Elsewhere the ORM writes.
- ``append_many`` (the API's reads) appends several prepared entries and the FERPA disclosure
  rows that point at them. On PostgreSQL outside a transaction it is one autocommitted
  statement (``studentvault_audit_append_many``, migration 0005, which calls the function
  above per entry): the append lock is held inside the server only, from the first head read
  to the commit. Its hashes are checked here after that commit; a disagreement raises
  ``AuditError`` and ``audit verify`` locates the entry. Otherwise it appends in one
  transaction like ``record``. With ``AUDIT_GROUP_APPEND`` on (default off, ADR 0079),
  concurrent callers in one process are grouped into one such statement (``_GroupAppend``):
  each caller's entries stay consecutive and atomic with its disclosure rows; if the grouped
  statement fails, nothing was written and each caller is appended alone.
- Appends are serialised: on PostgreSQL by ``pg_advisory_xact_lock(APPEND_LOCK)`` taken inside
  the transaction, on SQLite by the database write lock (``BEGIN IMMEDIATE``, set in settings).
  The head is read after the lock is held (in its own statement, so under a fresh snapshot), so
  sequence numbers are gap-free and each entry links to the committed entry before it.
- ``record`` runs inside the caller's transaction when there is one: the entry commits or rolls
  back with the change it records (no savepoint of its own: a failed append dooms the caller's
  whole transaction). The lock is then held until the caller's transaction ends, so callers
  write the audit entry as the last step of their transaction.
- No PII values: student data is referenced by integer primary key and data category only.
  Free text (username, user agent, purpose, target, details) is stored as given, cut to the
  column's length; it is escaped when shown (``display.printable``).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, partial
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections, models, router, transaction
from django.utils import timezone

from studentvault.core.actors import Actor
from studentvault.core.categories import DataCategory

from . import chain
from .devices import describe_device
from .models import AuditEntry, AuditEntryStudent
from .sites import site_for

logger = logging.getLogger(__name__)

# Any constant works; it names "the audit append lock" among the database's advisory locks.
APPEND_LOCK = 0x5354_5641_5544_4954  # "STVAUDIT"

ACTION_PATTERN = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")
OUTCOMES = frozenset({"success", "failure", "denied", "error"})
READ_VERBS = frozenset({"read", "list", "search", "view", "export"})
# The read window (ActorStudentRead) loses rows older than alerts.READ_WINDOW_KEEP this often.
PRUNE_EVERY = 1000

DetailValue = str | int | bool | None


class AuditError(ValueError):
    """An audit entry was asked for with arguments that cannot be recorded."""


@cache
def _max_length(field: str) -> int:
    column = AuditEntry._meta.get_field(field)
    assert isinstance(column, models.CharField) and column.max_length is not None
    return column.max_length


def _bounded(value: str, field: str) -> str:
    return value[: _max_length(field)]


def _details(details: Mapping[str, DetailValue] | None) -> str:
    if not details:
        return "{}"
    clean: dict[str, DetailValue] = {}
    for key, value in details.items():
        if not isinstance(key, str) or not key:
            raise AuditError(f"audit details keys must be non-empty strings, not {key!r}")
        if value is not None and not isinstance(value, str | int | bool):
            raise AuditError(
                f"audit detail {key!r} must be a string, number, true/false or null, "
                f"not {type(value).__name__}"
            )
        clean[key[:100]] = value[:1000] if isinstance(value, str) else value
    text = chain.canonical_json(clean)
    if len(text) > 20_000:
        raise AuditError("audit details are larger than 20,000 characters")
    return text


def _students(students: Sequence[int]) -> list[int]:
    ids: set[int] = set()
    for student in students:
        if isinstance(student, bool) or not isinstance(student, int) or student < 1:
            raise AuditError(
                f"students are referenced by positive integer primary key, not {student!r}"
            )
        ids.add(student)
    return sorted(ids)


def _categories(categories: Sequence[DataCategory | str]) -> str:
    chosen: set[str] = set()
    for category in categories:
        try:
            chosen.add(DataCategory(category).value)
        except ValueError:
            raise AuditError(f"{category!r} is not a data category") from None
    return f",{','.join(sorted(chosen))}," if chosen else ""


def _lock_and_read_head(using: str) -> tuple[int, str]:
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [APPEND_LOCK])
        cursor.execute("SELECT seq, entry_hash FROM audit_auditentry ORDER BY seq DESC LIMIT 1")
        row = cursor.fetchone()
    if row is None:
        return 0, chain.GENESIS_HASH
    return int(row[0]), str(row[1])


def record(
    *,
    actor: Actor,
    action: str,
    outcome: str = "success",
    students: Sequence[int] = (),
    categories: Sequence[DataCategory | str] = (),
    purpose: str = "",
    target: str = "",
    details: Mapping[str, DetailValue] | None = None,
    occurred_at: datetime | None = None,
) -> AuditEntry:
    """Append one entry to the audit log and return it.

    ``action`` is "source:subject:action" (e.g. "records:student:read"); ``students`` are
    integer primary keys; ``categories`` are the data categories read or changed; ``target``
    names a non-student object ("grant:12", "key:demographics"); ``details`` holds non-PII facts.
    Call it inside your own ``transaction.atomic()`` so the entry and the change commit together.
    Raises ``AuditError`` for arguments that cannot be recorded; the database error, if the
    append fails, propagates so the audited operation fails too.
    """
    return append(
        prepare(
            actor=actor,
            action=action,
            outcome=outcome,
            students=students,
            categories=categories,
            purpose=purpose,
            target=target,
            details=details,
            occurred_at=occurred_at,
        )
    )


@dataclass(frozen=True)
class PreparedEntry:
    """An entry checked and built, not yet appended (no seq, no hash): ``prepare``'s result."""

    fields: Mapping[str, object]
    students: tuple[int, ...]
    reads: tuple[int, ...]


def prepare(
    *,
    actor: Actor,
    action: str,
    outcome: str = "success",
    students: Sequence[int] = (),
    categories: Sequence[DataCategory | str] = (),
    purpose: str = "",
    target: str = "",
    details: Mapping[str, DetailValue] | None = None,
    occurred_at: datetime | None = None,
) -> PreparedEntry:
    """Check and build an entry (arguments as ``record``) without touching the database.

    With ``append`` it lets a caller do this work before its transaction takes the append lock,
    so that the lock is held only for the database statements (docs/adr/0065). Raises
    ``AuditError`` as ``record`` does. ``occurred_at`` defaults to now, at preparation.
    """
    if not ACTION_PATTERN.match(action):
        raise AuditError(
            f"audit action {action!r} must be 'source:subject:action' in lower case, "
            "e.g. 'records:student:read'"
        )
    if outcome not in OUTCOMES:
        raise AuditError(f"audit outcome {outcome!r} must be one of {sorted(OUTCOMES)}")
    student_list = _students(students)
    user_agent = _bounded(actor.user_agent or "", "user_agent")
    fields: dict[str, object] = {
        "occurred_at": occurred_at or timezone.now(),
        "actor_kind": _bounded(str(actor.kind), "actor_kind"),
        "actor_id": _bounded(actor.id, "actor_id"),
        "actor_username": _bounded(actor.username, "actor_username"),
        "actor_role": _bounded(actor.role, "actor_role"),
        "action": action,
        "outcome": outcome,
        "student_ids": chain.canonical_json(student_list),
        "categories": _categories(categories),
        "purpose": _bounded(purpose, "purpose"),
        "target": _bounded(target, "target"),
        "details": _details(details),
        "client_ip": _bounded(actor.client_ip or "", "client_ip"),
        "user_agent": user_agent,
        "device": describe_device(user_agent),
        "device_id": _bounded(actor.device_id, "device_id"),
        "site": site_for(actor.client_ip),
    }
    # A successful read of students feeds the bulk-read rule's window (alerts, ADR 0037).
    reads = student_list if outcome == "success" and is_read(action) else []
    return PreparedEntry(fields=fields, students=tuple(student_list), reads=tuple(reads))


def append(prepared: PreparedEntry) -> AuditEntry:
    """Append a prepared entry (see ``record``, which is ``append(prepare(...))``).

    Takes the append lock: inside a caller's transaction, call it as the last steps of it.
    """
    fields = dict(prepared.fields)
    student_list, reads = list(prepared.students), list(prepared.reads)
    using = router.db_for_write(AuditEntry)
    # No savepoint: inside a caller's transaction a failed append must doom all of it (and a
    # savepoint would be two more round trips while the append lock is held).
    with transaction.atomic(using=using, savepoint=False):
        if connections[using].vendor == "postgresql":
            _append_postgres(using, fields, student_list, reads)
            entry = AuditEntry(**fields)
            entry._state.adding = False
            entry._state.db = using
        else:
            last_seq, last_hash = _lock_and_read_head(using)
            fields["seq"] = last_seq + 1
            fields["prev_hash"] = last_hash
            fields["entry_hash"] = chain.entry_hash(fields)
            entry = AuditEntry(**fields)
            entry.save(force_insert=True, using=using)
            if student_list:
                AuditEntryStudent.objects.using(using).bulk_create(
                    [AuditEntryStudent(entry=entry, student_id=s) for s in student_list]
                )
            if reads:
                _note_reads(using, entry.actor_id, reads, entry.occurred_at)
        transaction.on_commit(partial(_after_commit, entry), using=using)
    return entry


def is_read(action: str) -> bool:
    """Whether ``action`` reads student data (its verb is read, list, search, view or export)."""
    return action.rsplit(":", 1)[-1] in READ_VERBS


_READ_UPSERT = (
    "INSERT INTO audit_actorstudentread (actor_id, student_id, last_read_at) VALUES {values} "
    "ON CONFLICT (actor_id, student_id) DO UPDATE SET last_read_at = {later}"
)


def _note_reads(using: str, actor_id: str, students: list[int], when: datetime) -> None:
    """Move the actor's last-read time of ``students`` forward to ``when`` (never back)."""
    connection = connections[using]
    later = (
        "GREATEST(audit_actorstudentread.last_read_at, EXCLUDED.last_read_at)"
        if connection.vendor == "postgresql"
        else "MAX(audit_actorstudentread.last_read_at, excluded.last_read_at)"
    )
    stamp = connection.ops.adapt_datetimefield_value(when)
    values = ", ".join(["(%s, %s, %s)"] * len(students))
    params: list[Any] = []
    for student in students:
        params += [actor_id, student, stamp]
    with connection.cursor() as cursor:
        cursor.execute(_READ_UPSERT.format(values=values, later=later), params)


# The canonical bytes up to the opening bracket, and the bytes of a placeholder head
# (seq 0, empty prev_hash): the function splices the real ``seq`` and ``prev_hash`` in between.
_HASH_HEAD = chain.HASH_VERSION + b"["
_PLACEHOLDER = b'0,"",'
_APPEND_CALL = (
    "SELECT new_seq, new_prev_hash, new_entry_hash FROM studentvault_audit_append("  # noqa: S608 - placeholders only
    "%s::bigint, %s::text, %s::bytea, %s::bytea, %s::timestamptz, "
    + ", ".join(["%s::text"] * 16)
    + ", %s::bigint[], %s::bigint[])"
)
_APPEND_ARGUMENTS = chain.HASHED_FIELDS[2:]  # occurred_at ... site, in the function's order


def _append_postgres(
    using: str, fields: dict[str, object], students: list[int], reads: list[int]
) -> None:
    """Lock, head, hash and insert in one call of ``studentvault_audit_append``; sets ``seq``,
    ``prev_hash`` and ``entry_hash`` in ``fields`` after checking the hash here."""
    params: list[Any] = [APPEND_LOCK, chain.GENESIS_HASH, _HASH_HEAD, _hash_tail(fields)]
    params += [fields[name] for name in _APPEND_ARGUMENTS]
    params += [students, reads]
    with connections[using].cursor() as cursor:
        cursor.execute(_APPEND_CALL, params)
        row = cursor.fetchone()
    assert row is not None
    fields["seq"] = int(row[0])
    fields["prev_hash"] = str(row[1])
    fields["entry_hash"] = chain.entry_hash(fields)
    if fields["entry_hash"] != row[2]:
        raise AuditError(
            f"audit entry {fields['seq']}: the database computed hash {row[2]}, the writer "
            f"{fields['entry_hash']}; refused (the append function and chain.py disagree)"
        )


def _hash_tail(fields: Mapping[str, object]) -> bytes:
    """The canonical bytes after ``seq`` and ``prev_hash`` (the function splices those in)."""
    placeholder = chain.canonical({**fields, "seq": 0, "prev_hash": ""})
    prefix = _HASH_HEAD + _PLACEHOLDER
    if not placeholder.startswith(prefix):
        raise AuditError("the canonical form does not start as the append function expects")
    return placeholder[len(prefix) :]


def append_many(
    entries: Sequence[PreparedEntry],
    disclosures: Sequence[Mapping[str, object]] = (),
) -> list[AuditEntry]:
    """Append ``entries`` in order, with FERPA disclosure rows that point at them, atomically.

    Each disclosure row holds the ``Disclosure`` columns and ``"entry"``, the index in
    ``entries`` of the audit entry it belongs to (``disclosures.prepare_disclosure`` builds
    them). On PostgreSQL outside any transaction this is one statement in its own transaction
    (``studentvault_audit_append_many``): the append lock is held inside the server only, never
    across a client round trip (ADR 0065); the hashes are then checked here as ``append`` does,
    a disagreement raising ``AuditError`` (the entries are committed by then, and ``audit
    verify`` reports them). Elsewhere, or inside a caller's transaction, it is ``append`` per
    entry and one bulk insert of the rows, in one transaction.
    """
    from .models import Disclosure

    for row in disclosures:
        index = row.get("entry")
        if not isinstance(index, int) or not 0 <= index < len(entries):
            raise AuditError(f"disclosure row names entry {index!r}, not one of the entries")
    using = router.db_for_write(AuditEntry)
    connection = connections[using]
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        with transaction.atomic(using=using, savepoint=False):
            appended = [append(prepared) for prepared in entries]
            Disclosure.objects.using(using).bulk_create(
                [
                    Disclosure(
                        **{k: v for k, v in row.items() if k != "entry"},
                        audit_entry=appended[int(str(row["entry"]))],
                    )
                    for row in disclosures
                ]
            )
        return appended
    return _append_many_postgres(using, entries, disclosures)


_APPEND_MANY_CALL = (
    "SELECT new_seq, new_prev_hash, new_entry_hash FROM studentvault_audit_append_many("
    "%s::bigint, %s::text, %s::bytea, %s::jsonb, %s::jsonb)"
)


def _json_value(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def _append_many_postgres(
    using: str,
    entries: Sequence[PreparedEntry],
    disclosures: Sequence[Mapping[str, object]],
) -> list[AuditEntry]:
    if not getattr(settings, "AUDIT_GROUP_APPEND", False):
        appended = _checked(using, entries, _execute_many(using, entries, disclosures))
        for entry in appended:
            _after_commit(entry)
        return appended
    return _GROUP.submit(_Request(using, entries, disclosures))


def _execute_many(
    using: str,
    entries: Sequence[PreparedEntry],
    disclosures: Sequence[Mapping[str, object]],
) -> list[tuple[Any, ...]]:
    """One autocommitted call of ``studentvault_audit_append_many``: (seq, prev, hash) rows."""
    payload = []
    for prepared in entries:
        item: dict[str, object] = {k: _json_value(v) for k, v in prepared.fields.items()}
        item["hash_tail"] = _hash_tail(prepared.fields).hex()
        item["students"] = list(prepared.students)
        item["reads"] = list(prepared.reads)
        payload.append(item)
    rows = [{k: _json_value(v) for k, v in row.items()} for row in disclosures]
    params: list[Any] = [
        APPEND_LOCK,
        chain.GENESIS_HASH,
        _HASH_HEAD,
        json.dumps(payload, ensure_ascii=False),
        json.dumps(rows, ensure_ascii=False),
    ]
    connection = connections[using]
    with connection.cursor() as cursor:  # autocommit: the statement is its own transaction
        cursor.execute(_APPEND_MANY_CALL, params)
        results = [tuple(row) for row in cursor.fetchall()]
    if len(results) != len(entries):
        raise AuditError(f"{len(results)} entries appended for {len(entries)} asked")
    return results


def _checked(
    using: str, entries: Sequence[PreparedEntry], results: Sequence[tuple[Any, ...]]
) -> list[AuditEntry]:
    """The committed entries, each hash recomputed with chain.py (``AuditError`` if not equal)."""
    appended: list[AuditEntry] = []
    for prepared, (seq, prev_hash, entry_hash) in zip(entries, results, strict=True):
        fields = dict(prepared.fields)
        fields["seq"] = int(seq)
        fields["prev_hash"] = str(prev_hash)
        fields["entry_hash"] = chain.entry_hash(fields)
        entry = AuditEntry(**fields)
        entry._state.adding = False
        entry._state.db = using
        appended.append(entry)
        if fields["entry_hash"] != entry_hash:
            raise AuditError(
                f"audit entry {seq}: the database computed hash {entry_hash}, the writer "
                f"{fields['entry_hash']} (the append function and chain.py disagree)"
            )
    return appended


@dataclass
class _Request:
    """One caller's ``append_many`` waiting for a group append."""

    using: str
    entries: Sequence[PreparedEntry]
    disclosures: Sequence[Mapping[str, object]]
    finished: bool = False
    result: list[AuditEntry] | None = None
    error: BaseException | None = None


class _GroupAppend:
    """Group commit for ``append_many`` between the threads of one process.

    Callers queue their request; whoever finds no append running becomes the leader, takes
    every queued request and appends them all in one call (one transaction, one WAL flush,
    one hold of the append lock), then wakes the others. Each caller then runs the
    after-commit work of its own entries (rules, checkpoints) in its own thread, so nobody
    waits for another request's rules. Each request's entries stay
    consecutive and its disclosure rows point at its own entries. If that call fails (one
    request's bad value fails the whole statement), nothing was written and each request is
    appended alone, so a request fails only for its own fault. The leader runs one batch and
    gives up the lead, so nobody waits behind an endless stream.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._pending: list[_Request] = []
        self._leading = False

    def submit(self, request: _Request) -> list[AuditEntry]:
        with self._condition:
            self._pending.append(request)
            while self._leading and not request.finished:
                self._condition.wait()
            if not request.finished:
                self._leading = True
                batch, self._pending = self._pending, []
            else:
                batch = []
        if batch:
            try:
                self._run(batch)
            finally:
                with self._condition:
                    for waiting in batch:  # never leave a follower waiting
                        if not waiting.finished:
                            waiting.error = AuditError("the group append stopped")
                            waiting.finished = True
                    self._leading = False
                    self._condition.notify_all()
        if request.error is not None:
            raise request.error
        assert request.result is not None
        for entry in request.result:  # in the caller's own thread, after the leader let go
            _after_commit(entry)
        return request.result

    def _run(self, batch: list[_Request]) -> None:
        for using in dict.fromkeys(r.using for r in batch):
            group = [r for r in batch if r.using == using]
            entries: list[PreparedEntry] = []
            rows: list[Mapping[str, object]] = []
            for request in group:
                offset = len(entries)
                entries.extend(request.entries)
                rows.extend(
                    {**row, "entry": int(str(row["entry"])) + offset} for row in request.disclosures
                )
            try:
                results = _execute_many(using, entries, rows) if len(group) > 1 else None
            except DatabaseError:
                results = None  # nothing was written: append each request alone
            offset = 0
            for request in group:
                try:
                    if results is None:
                        mine = _execute_many(using, request.entries, request.disclosures)
                    else:
                        mine = results[offset : offset + len(request.entries)]
                    offset += len(request.entries)
                    request.result = _checked(using, request.entries, mine)
                except Exception as error:
                    request.error = error
                request.finished = True


_GROUP = _GroupAppend()


def _after_commit(entry: AuditEntry) -> None:
    """Work that must not hold the append lock: checkpoints and monitoring rules."""
    from .alerts import evaluate_rules, prune_read_window
    from .checkpoints import write_checkpoint

    every = int(getattr(settings, "AUDIT_CHECKPOINT_EVERY", 1000))
    if every > 0 and entry.seq % every == 0:
        write_checkpoint()
    if entry.seq % PRUNE_EVERY == 0:
        try:
            prune_read_window()
        except DatabaseError as error:
            # Housekeeping after the entry committed: never fail the audited operation for it
            # (SQLite's busy timeout under many writers); the next thousandth entry retries.
            logger.warning("audit read window not pruned after entry %s: %s", entry.seq, error)
    if getattr(settings, "AUDIT_ALERTS_INLINE", True):
        evaluate_rules(entry.seq, entry=entry)
