"""Verification of the audit log: recompute the chain, check it against signed checkpoints.

What it catches and how it says where:
- modified: an entry's columns no longer hash to its ``entry_hash`` (named by ``seq``); or an
  entry was changed and re-hashed, so its successor no longer links to it;
- deleted: a gap in the gap-free sequence, or an entry whose hash only matches one sequence
  number further on (the later entries were renumbered to close the gap);
- inserted: an entry whose successor's hash matches the sequence number it now holds;
- reordered: two neighbours that each hash correctly under the other's number;
- truncated: the log ends before the size of a valid signed checkpoint;
- rewritten: the chain is self-consistent but differs from a signed checkpoint's head (a
  superuser rewrote and re-hashed the entries); named between the last checkpoint that still
  matches and the first that does not;
- bad-signature: a checkpoint line that the verify key did not sign;
- index: the per-student index rows disagree with the hashed ``student_ids`` of an entry.

How (docs/adr/0036):
- One ordered pass; memory stays flat. The hash is always recomputed here, in Python, with
  ``hashlib`` over canonical bytes built here from the stored column values: the database is
  never asked to hash or to canonicalise (only, on PostgreSQL, to print the timestamp as UTC
  text with microseconds, which is the canonical timestamp text).
- PostgreSQL fast path: rows stream as ``COPY ... TO STDOUT`` text in chunks of keyset-paged
  sequence numbers. A line with no byte that COPY or JSON would escape (backslash, double
  quote, control characters) holds each value's exact UTF-8 bytes, so its canonical JSON is the
  fields joined with ``","``: byte for byte what ``chain.canonical`` gives (a test checks). Any
  other line, and any line where a check fails, is re-read as typed values and checked by the
  reference code (``_Walk.check``), which also diagnoses the tampering. So the fast path can
  only accept what the reference accepts.
- The student index is compared in the same pass: the query adds, per entry, whether its index
  rows aggregated in order (``'[' || string_agg(...) || ']'``) equal the hashed ``student_ids``;
  a disagreement is confirmed by parsing both before it is reported.
- Other databases (SQLite) use the reference pass and the reference index merge.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper

from . import chain
from .checkpoints import (
    Checkpoint,
    read_checkpoints,
    signature_valid,
    verify_key,
)
from .models import AuditEntry

_COLUMNS = (*chain.HASHED_FIELDS, "entry_hash")
_BATCH = 20_000
# Rows per COPY statement on PostgreSQL (keyset paging by seq; each chunk is one index scan).
COPY_CHUNK = 50_000
# Every byte that COPY's text format or JSON would escape, and the newline. Tab is COPY's
# delimiter and never a data byte in its output (a tab inside a value is written as backslash-t).
_NEEDS_ESCAPE = bytes(b for b in range(256) if (b < 0x20 and b != 0x09) or b in b'"\\')
_CANONICAL_PREFIX = chain.HASH_VERSION + b"["
_FIELD_COUNT = len(chain.HASHED_FIELDS)
_SQL_TIMESTAMP = """to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
_SQL_INDEX_AGREES = (
    "(e.student_ids = coalesce('[' || (SELECT string_agg(s.student_id::text, ',' "
    "ORDER BY s.student_id) FROM audit_auditentrystudent s WHERE s.entry_id = e.seq) || ']', "
    "'[]'))"
)


@dataclass(frozen=True)
class Finding:
    """One way the log is not what it should be, located by sequence number when possible."""

    kind: str
    seq: int | None
    message: str


@dataclass
class VerifyReport:
    """The result of ``verify_log``."""

    entries: int = 0
    head: str = chain.GENESIS_HASH
    findings: list[Finding] = field(default_factory=list)
    checkpoints_checked: int = 0
    latest_checkpoint: Checkpoint | None = None

    @property
    def ok(self) -> bool:
        return not self.findings


class _Rows:
    """Ordered rows of the log as dicts, with one row of look-ahead."""

    def __init__(self, using: str, *, from_seq: int = 1, limit: int | None = None) -> None:
        self._connection = connections[using]
        self._peeked: dict[str, Any] | None = None
        self._source = self._read(from_seq, limit)

    def _read(self, from_seq: int, limit: int | None) -> Generator[dict[str, Any]]:
        cursor = self._connection.chunked_cursor()
        sql = f"SELECT {', '.join(_COLUMNS)} FROM audit_auditentry WHERE seq >= %s ORDER BY seq"  # noqa: S608 - fixed column names
        try:
            if limit is None:
                cursor.execute(sql, [from_seq])
            else:
                cursor.execute(sql + " LIMIT %s", [from_seq, limit])
            while True:
                batch = cursor.fetchmany(_BATCH)
                if not batch:
                    return
                for row in batch:
                    yield dict(zip(_COLUMNS, row, strict=True))
        finally:
            cursor.close()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self

    def __next__(self) -> dict[str, Any]:
        if self._peeked is not None:
            row, self._peeked = self._peeked, None
            return row
        return next(self._source)

    def peek(self) -> dict[str, Any] | None:
        if self._peeked is None:
            self._peeked = next(self._source, None)
        return self._peeked

    def close(self) -> None:
        self._source.close()


def _hashes_as(row: dict[str, Any], seq: int) -> bool:
    """True when ``row`` hashes to its stored hash under sequence number ``seq``."""
    return bool(chain.entry_hash({**row, "seq": seq}) == row["entry_hash"])


def _diagnose(row: dict[str, Any], rows: _Rows) -> Finding:
    """Name the tampering at ``row``, whose own hash does not match."""
    seq = int(row["seq"])
    after = rows.peek()
    after_was_here = after is not None and _hashes_as(after, seq)
    if _hashes_as(row, seq + 1):
        if after_was_here:
            return Finding(
                "reordered", seq, f"entries {seq} and {seq + 1} were swapped (reordered)"
            )
        return Finding(
            "deleted",
            seq,
            f"entry {seq} was deleted and the later entries renumbered to close the gap",
        )
    if seq > 1 and _hashes_as(row, seq - 1):
        return Finding(
            "inserted",
            seq - 1,
            f"entry {seq - 1} was inserted: entry {seq} is the entry formerly numbered {seq - 1}",
        )
    if after_was_here:
        return Finding(
            "inserted", seq, f"entry {seq} was inserted: the next entry was formerly {seq}"
        )
    return Finding("modified", seq, f"entry {seq} was modified: its contents do not match its hash")


@dataclass
class _Walk:
    """The state of one ordered pass: the next expected ``seq`` and the hash it must link to."""

    report: VerifyReport
    wanted: set[int]
    hashes_at: dict[int, str] = field(default_factory=dict)
    expected: int = 1
    previous: str = chain.GENESIS_HASH

    def accept(self, seq: int, entry_hash: str) -> None:
        if seq in self.wanted:
            self.hashes_at[seq] = entry_hash
        self.previous = entry_hash
        self.expected = seq + 1

    def check(self, row: dict[str, Any], rows: _Rows) -> bool:
        """The reference check of one row; True when it recorded the first break."""
        seq = int(row["seq"])
        expected = self.expected
        if seq != expected:
            missing = f"{expected}" if seq == expected + 1 else f"{expected} to {seq - 1}"
            self.report.findings.append(
                Finding("deleted", expected, f"entry {missing} missing (deleted)")
            )
            return True
        if chain.entry_hash(row) != row["entry_hash"]:
            self.report.findings.append(_diagnose(row, rows))
            return True
        if row["prev_hash"] != self.previous:
            self.report.findings.append(
                Finding(
                    "modified",
                    seq - 1,
                    f"entry {seq - 1} was modified and re-hashed: entry {seq} "
                    "no longer links to it",
                )
            )
            return True
        self.accept(seq, str(row["entry_hash"]))
        return False

    def finish(self) -> None:
        self.report.entries = self.expected - 1
        self.report.head = self.previous


def _check_chain(walk: _Walk, using: str) -> None:
    """The reference pass: walk the whole chain, record the first break."""
    rows = _Rows(using)
    try:
        for row in rows:
            if walk.check(row, rows):
                return
    finally:
        rows.close()


def _check_one(walk: _Walk, using: str, seq: int) -> bool:
    """Check the row numbered ``seq`` (or the next one) by the reference code."""
    rows = _Rows(using, from_seq=seq, limit=2)
    try:
        row = next(rows, None)
        if row is None:
            return False  # the fast pass saw it, so it was removed since: the next chunk tells
        return walk.check(row, rows)
    finally:
        rows.close()


def _index_agrees(connection: BaseDatabaseWrapper, seq: int) -> bool:
    """Whether entry ``seq``'s index rows are exactly its hashed students (parsed, not text)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT student_ids FROM audit_auditentry WHERE seq = %s", [seq])
        row = cursor.fetchone()
        cursor.execute(
            "SELECT student_id FROM audit_auditentrystudent WHERE entry_id = %s "
            "ORDER BY student_id",
            [seq],
        )
        indexed = [int(r[0]) for r in cursor.fetchall()]
    if row is None:
        return not indexed
    try:
        hashed = sorted(int(s) for s in json.loads(row[0]))
    except (ValueError, TypeError):
        return False
    return hashed == indexed


def _index_mismatch(seq: int) -> Finding:
    return Finding("index", seq, f"the student index rows of entry {seq} were changed")


def _copy_lines(copy: Iterable[bytes | bytearray | memoryview]) -> Iterator[bytes]:
    """The rows of a COPY as lines ending in a newline (PostgreSQL sends one row per message;
    should a message ever hold several rows or part of one, they are cut at newlines here)."""
    pending = b""
    for block in copy:
        data = bytes(block)
        if not pending and data.find(b"\n") == len(data) - 1:
            yield data
            continue
        pending += data
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line + b"\n"
    if pending:
        yield pending + b"\n"


_COPY_ESCAPES = {
    b"\\": b"\\",
    b"b": b"\b",
    b"f": b"\f",
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"v": b"\v",
}


def _decoded_hash(line: bytes, fields: int) -> str | None:
    """The reference hash of a COPY line whose bytes need unescaping; None if it cannot be read."""
    parts = line.rstrip(b"\n").split(b"\t")[:fields]
    try:
        values = [_unescape(part) for part in parts]
    except UnicodeDecodeError:
        return None
    if len(values) != fields or any(v is None for v in values):
        return None
    return hashlib.sha256(chain.canonical_values(values)).hexdigest()


def _unescape(raw: bytes) -> str | None:
    # Backslash pairs first, so "\\\\n" is a backslash and an "n", not a newline.
    if b"\\" not in raw:
        return raw.decode("utf-8")
    out = bytearray()
    index = 0
    while True:
        found = raw.find(b"\\", index)
        if found < 0:
            out += raw[index:]
            return out.decode("utf-8")
        out += raw[index:found]
        code = _COPY_ESCAPES.get(raw[found + 1 : found + 2])
        if code is None:
            return None  # \N (NULL) or a form COPY does not write
        out += code
        index = found + 2


def _fast_chain_postgres(walk: _Walk, using: str, *, check_index: bool) -> Finding | None:
    """The PostgreSQL pass (see module docstring); returns the first index disagreement.

    No other query runs while a COPY is open (the connection is busy): a row that fails a
    check ends the chunk, is checked by the reference code, and the next chunk starts after it.
    """
    connection = connections[using]
    connection.ensure_connection()
    raw = connection.connection
    assert raw is not None
    columns = list(chain.HASHED_FIELDS)
    columns[chain.HASHED_FIELDS.index("occurred_at")] = _SQL_TIMESTAMP
    columns.append("e.entry_hash")
    if check_index:
        columns.append(_SQL_INDEX_AGREES)
    select = ", ".join(columns)
    index_finding: Finding | None = None
    sha256 = hashlib.sha256
    escapes = _NEEDS_ESCAPE
    prefix = _CANONICAL_PREFIX
    wanted = walk.wanted
    hashes_at = walk.hashes_at
    last = 0
    while True:
        sql = (
            f"COPY (SELECT {select} FROM audit_auditentry e WHERE e.seq > {int(last)} "  # noqa: S608 - fixed columns, integers
            f"ORDER BY e.seq LIMIT {int(COPY_CHUNK)}) TO STDOUT"
        )
        rows = 0
        expected = walk.expected
        linked = walk.previous.encode("ascii", "replace") + b"\t"  # prev_hash and its tab
        failed: int | None = None  # seq of a row the fast checks did not accept
        failed_agrees = True
        unindexed: list[int] = []  # rows whose index text differs: confirmed after the COPY
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            for line in _copy_lines(copy):
                rows += 1
                end = size = len(line) - 1  # the newline
                agrees = True
                if check_index:
                    cut = line.rfind(b"\t", 0, end)
                    agrees = line[cut + 1 : end] == b"t"
                    end = cut
                cut = line.rfind(b"\t", 0, end)
                stored = line[cut + 1 : end]
                first = line.find(b"\t")
                seq = int(line[:first])
                last = seq
                if len(line.translate(None, escapes)) == size:  # only the newline went
                    computed: bytes | None = (
                        sha256(
                            prefix
                            + line[:first]
                            + b',"'
                            + line[first + 1 : cut].replace(b"\t", b'","')
                            + b'"]'
                        )
                        .hexdigest()
                        .encode()
                    )
                else:
                    decoded = _decoded_hash(line, _FIELD_COUNT)
                    computed = None if decoded is None else decoded.encode()
                if seq != expected or computed != stored or not line.startswith(linked, first + 1):
                    failed, failed_agrees = seq, agrees
                    while copy.read():  # drain this chunk: psycopg leaves it unread otherwise
                        pass
                    break
                linked = stored + b"\t"
                expected = seq + 1
                if seq in wanted:
                    hashes_at[seq] = stored.decode()
                if not agrees:
                    unindexed.append(seq)
        walk.expected, walk.previous = expected, linked[:-1].decode("ascii", "replace")
        stop = False
        if failed is not None:
            # The reference code decides (and names the tampering); it may accept the row.
            stop = _check_one(walk, using, failed)
            if not stop:
                last = failed
                if not failed_agrees:
                    unindexed.append(failed)
        if index_finding is None:
            for seq in unindexed:
                if not _index_agrees(connection, seq):
                    index_finding = _index_mismatch(seq)
                    break
        if stop or (failed is None and rows < COPY_CHUNK):
            return index_finding


def _check_checkpoints(
    report: VerifyReport, checkpoints: list[Checkpoint], hashes_at: dict[int, str]
) -> None:
    chain_broken = bool(report.findings)
    public = verify_key()
    valid: list[Checkpoint] = []
    for checkpoint in checkpoints:
        if signature_valid(checkpoint, public):
            valid.append(checkpoint)
        else:
            report.findings.append(
                Finding(
                    "bad-signature",
                    None,
                    f"checkpoint on line {checkpoint.line} (size {checkpoint.size}) "
                    "is not signed by the audit key",
                )
            )
    report.checkpoints_checked = len(valid)
    valid.sort(key=lambda c: (c.size, c.line))
    if valid:
        report.latest_checkpoint = valid[-1]
    last_matching = 0
    for checkpoint in valid:
        if checkpoint.size == 0:
            continue
        if checkpoint.size > report.entries:
            if not chain_broken:
                report.findings.append(
                    Finding(
                        "truncated",
                        report.entries + 1,
                        f"the log ends at entry {report.entries} but the checkpoint of "
                        f"{checkpoint.timestamp} covers {checkpoint.size} entries: entries "
                        f"{report.entries + 1} to {checkpoint.size} were deleted (truncated tail)",
                    )
                )
            return
        if hashes_at.get(checkpoint.size) != checkpoint.head:
            report.findings.append(
                Finding(
                    "rewritten",
                    last_matching + 1,
                    f"entry {checkpoint.size} does not match the signed checkpoint of "
                    f"{checkpoint.timestamp}: the chain was rewritten and re-hashed between "
                    f"entry {last_matching + 1} and entry {checkpoint.size}",
                )
            )
            return
        last_matching = checkpoint.size


def _check_student_index(report: VerifyReport, using: str) -> None:
    """Merge the hashed student lists with the index rows; report the first disagreement."""
    connection = connections[using]
    limit = report.entries
    entries = connection.chunked_cursor()
    index = connection.chunked_cursor()
    try:
        entries.execute(
            "SELECT seq, student_ids FROM audit_auditentry "
            "WHERE student_ids <> '[]' AND seq <= %s ORDER BY seq",
            [limit],
        )
        index.execute(
            "SELECT entry_id, student_id FROM audit_auditentrystudent "
            "WHERE entry_id <= %s ORDER BY entry_id, student_id",
            [limit],
        )

        def index_rows() -> Iterator[tuple[int, int]]:
            while batch := index.fetchmany(_BATCH):
                for entry_id, student_id in batch:
                    yield int(entry_id), int(student_id)

        def entry_rows() -> Iterator[tuple[int, list[int]]]:
            while batch := entries.fetchmany(_BATCH):
                for seq, ids in batch:
                    yield int(seq), [int(i) for i in json.loads(ids)]

        index_iter = index_rows()
        pending = next(index_iter, None)
        for seq, ids in entry_rows():
            if pending is not None and pending[0] < seq:
                report.findings.append(_index_mismatch(pending[0]))
                return
            found: list[int] = []
            while pending is not None and pending[0] == seq:
                found.append(pending[1])
                pending = next(index_iter, None)
            if found != ids:
                report.findings.append(_index_mismatch(seq))
                return
        if pending is not None:
            report.findings.append(_index_mismatch(pending[0]))
    finally:
        entries.close()
        index.close()


def verify_log(*, check_index: bool = True, fast: bool = True) -> VerifyReport:
    """Recompute the whole chain and check it against every signed checkpoint.

    ``fast=False`` forces the reference pass on every database (the benchmark compares them).
    """
    using = router.db_for_read(AuditEntry)
    report = VerifyReport()
    checkpoints = read_checkpoints()
    walk = _Walk(report, {c.size for c in checkpoints})
    postgres = fast and connections[using].vendor == "postgresql"
    index_finding: Finding | None = None
    if postgres:
        index_finding = _fast_chain_postgres(walk, using, check_index=check_index)
    else:
        _check_chain(walk, using)
    walk.finish()
    _check_checkpoints(report, checkpoints, walk.hashes_at)
    if check_index and not report.findings:
        if postgres:
            if index_finding is not None:
                report.findings.append(index_finding)
        else:
            _check_student_index(report, using)
    return report
