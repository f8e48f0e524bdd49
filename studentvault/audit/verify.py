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

The chain is read in one ordered pass with a server-side cursor, so memory stays flat.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connections, router

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

    def __init__(self, using: str) -> None:
        self._connection = connections[using]
        self._peeked: dict[str, Any] | None = None
        self._source = self._read()

    def _read(self) -> Generator[dict[str, Any]]:
        cursor = self._connection.chunked_cursor()
        try:
            cursor.execute(f"SELECT {', '.join(_COLUMNS)} FROM audit_auditentry ORDER BY seq")  # noqa: S608 - fixed column names
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


def _check_chain(report: VerifyReport, using: str, wanted: set[int]) -> dict[int, str]:
    """Walk the chain; record the first break in ``report``; return hashes at ``wanted`` sizes."""
    hashes_at: dict[int, str] = {}
    expected = 1
    previous = chain.GENESIS_HASH
    rows = _Rows(using)
    try:
        for row in rows:
            seq = int(row["seq"])
            if seq != expected:
                missing = f"{expected}" if seq == expected + 1 else f"{expected} to {seq - 1}"
                report.findings.append(
                    Finding("deleted", expected, f"entry {missing} missing (deleted)")
                )
                return hashes_at
            if chain.entry_hash(row) != row["entry_hash"]:
                report.findings.append(_diagnose(row, rows))
                return hashes_at
            if row["prev_hash"] != previous:
                report.findings.append(
                    Finding(
                        "modified",
                        seq - 1,
                        f"entry {seq - 1} was modified and re-hashed: entry {seq} "
                        "no longer links to it",
                    )
                )
                return hashes_at
            previous = row["entry_hash"]
            if seq in wanted:
                hashes_at[seq] = previous
            report.entries = seq
            report.head = previous
            expected += 1
    finally:
        rows.close()
    return hashes_at


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


def _index_mismatch(seq: int) -> Finding:
    return Finding("index", seq, f"the student index rows of entry {seq} were changed")


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
                report.findings.append(
                    Finding(
                        "index", pending[0], f"index rows for entry {pending[0]} do not match it"
                    )
                )
                return
            found: list[int] = []
            while pending is not None and pending[0] == seq:
                found.append(pending[1])
                pending = next(index_iter, None)
            if found != ids:
                report.findings.append(
                    Finding("index", seq, f"the student index rows of entry {seq} were changed")
                )
                return
        if pending is not None:
            report.findings.append(_index_mismatch(pending[0]))
    finally:
        entries.close()
        index.close()


def verify_log(*, check_index: bool = True) -> VerifyReport:
    """Recompute the whole chain and check it against every signed checkpoint."""
    using = router.db_for_read(AuditEntry)
    report = VerifyReport()
    checkpoints = read_checkpoints()
    wanted = {c.size for c in checkpoints}
    hashes_at = _check_chain(report, using, wanted)
    _check_checkpoints(report, checkpoints, hashes_at)
    if check_index and not report.findings:
        _check_student_index(report, using)
    return report
