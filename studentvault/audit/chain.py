"""The hash chain: the canonical form of an entry and its SHA-256.

Invariants:
- ``HASHED_FIELDS`` is the explicit list of columns an entry's hash covers; every column of
  ``AuditEntry`` except ``entry_hash`` itself is in it (a test checks this), so no stored fact
  can change without changing the hash.
- The canonical form is the version tag followed by compact JSON (UTF-8) of the values of those
  fields as an array in ``HASHED_FIELDS`` order (the explicit field list fixes the order; a
  new field means a new version tag), with the timestamp normalised to UTC microseconds
  ("2025-09-01T08:00:00.000000Z"). ``seq`` and ``prev_hash`` are in it, so an entry cannot be
  moved or relinked without changing its hash. Text values inside (``details``, ``student_ids``)
  are themselves sorted-key compact JSON (``canonical_json``).
- Genesis: entry 1 has ``prev_hash`` = 64 zeros.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64
HASH_VERSION = b"studentvault-audit-v1\x00"

HASHED_FIELDS: tuple[str, ...] = (
    "seq",
    "prev_hash",
    "occurred_at",
    "actor_kind",
    "actor_id",
    "actor_username",
    "actor_role",
    "action",
    "outcome",
    "student_ids",
    "categories",
    "purpose",
    "target",
    "details",
    "client_ip",
    "user_agent",
    "device",
    "device_id",
    "site",
)


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def timestamp_text(value: datetime | str) -> str:
    """The canonical UTC text of a timestamp, whatever form the database returned it in."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        # SQLite hands back naive UTC values to raw cursors.
        return value.isoformat(timespec="microseconds") + "Z"
    if value.utcoffset():
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The bytes an entry's hash is computed over (see module invariants)."""
    return canonical_values([fields[name] for name in HASHED_FIELDS])


def canonical_values(values: Sequence[Any]) -> bytes:
    """``canonical`` of the values of ``HASHED_FIELDS``, in that order."""
    listed = list(values)
    listed[0] = int(listed[0])  # seq
    listed[2] = timestamp_text(listed[2])  # occurred_at
    return HASH_VERSION + _ENCODER.encode(listed).encode("utf-8")


def entry_hash(fields: Mapping[str, Any]) -> str:
    """The hex SHA-256 of an entry's canonical form."""
    return hashlib.sha256(canonical(fields)).hexdigest()


def canonical_json(value: Any) -> str:
    """Sorted-key compact JSON, used for the ``details`` and ``student_ids`` columns."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
