"""Signed checkpoints of the chain head, kept outside the database.

A checkpoint says "the log had ``size`` entries and entry ``size`` had hash ``head``", signed
with Ed25519. A database superuser can rewrite and re-hash the whole chain, but cannot forge a
checkpoint without the signing key, and cannot shorten the log below a checkpoint's size
unnoticed.

Invariants:
- The signing key is a PEM file outside the database (``AUDIT_SIGNING_KEY_FILE``, default
  ``STUDENTVAULT_HOME/audit-signing-key.pem``), created with mode 0600 on first use; its public
  half is written beside it (``.pub``) so auditors can verify without the private key.
- Checkpoints are appended, one JSON object per line, to
  ``AUDIT_CHECKPOINT_DIR/<log name>.jsonl`` (default ``STUDENTVAULT_HOME/audit-checkpoints``)
  under an exclusive file lock; lines are never rewritten. Ship the file off-host (runbook).
- The log name is "studentvault-audit-" and the database name, and it is signed: the test
  database and the real one never share checkpoints, and a checkpoint cannot be moved from one
  log to another.
- Settings are read at call time, so tests can point them at temporary directories.
- A checkpoint is only written for committed entries (after commit, read from the database).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.db import connections, router
from django.utils import timezone

from .chain import GENESIS_HASH
from .models import AuditEntry

LOG_PREFIX = "studentvault-audit"


class CheckpointError(Exception):
    """The checkpoint file or the signing key cannot be used."""


@dataclass(frozen=True)
class Checkpoint:
    """One signed statement of the chain head."""

    size: int
    head: str
    timestamp: str
    key_id: str
    signature: str
    line: int  # 1-based line in the checkpoint file

    def signed_bytes(self) -> bytes:
        return _signed_bytes(self.size, self.head, self.timestamp, self.key_id)


def log_name() -> str:
    """This database's log name: the prefix and the database name, as a safe file name."""
    using = router.db_for_write(AuditEntry)
    name = str(connections[using].settings_dict.get("NAME") or "default")
    base = re.sub(r"[^A-Za-z0-9_.]+", "-", Path(name).name if "/" in name else name).strip("-.")
    return f"{LOG_PREFIX}-{base or 'default'}"


def _signed_bytes(size: int, head: str, timestamp: str, key_id: str) -> bytes:
    body = {"head": head, "key_id": key_id, "log": log_name(), "size": size, "ts": timestamp}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("ascii")


def signing_key_path() -> Path:
    """Where the Ed25519 signing key lives (settings read now)."""
    configured = getattr(settings, "AUDIT_SIGNING_KEY_FILE", "")
    if configured:
        return Path(configured)
    return Path(settings.STUDENTVAULT_HOME) / "audit-signing-key.pem"


def checkpoint_dir() -> Path:
    """The folder of the checkpoint file (settings read now)."""
    configured = getattr(settings, "AUDIT_CHECKPOINT_DIR", "")
    if configured:
        return Path(configured)
    return Path(settings.STUDENTVAULT_HOME) / "audit-checkpoints"


def checkpoint_path() -> Path:
    """The checkpoint file of this database's log."""
    return checkpoint_dir() / f"{log_name()}.jsonl"


def _load_or_create_key() -> Ed25519PrivateKey:
    path = signing_key_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first; use theirs
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
            public = key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            path.with_suffix(".pub").write_bytes(public)
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as error:
        raise CheckpointError(f"the audit signing key {path} cannot be read: {error}") from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise CheckpointError(f"the audit signing key {path} is not an Ed25519 key")
    return loaded


def verify_key() -> Ed25519PublicKey:
    """The public key checkpoints are verified with (``AUDIT_VERIFY_KEY_FILE`` pins it)."""
    pinned = getattr(settings, "AUDIT_VERIFY_KEY_FILE", "")
    if pinned:
        loaded = serialization.load_pem_public_key(Path(pinned).read_bytes())
        if not isinstance(loaded, Ed25519PublicKey):
            raise CheckpointError(f"the audit verify key {pinned} is not an Ed25519 key")
        return loaded
    return _load_or_create_key().public_key()


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def current_head() -> tuple[int, str]:
    """(size, head hash) of the committed log; (0, genesis) when empty."""
    using = router.db_for_read(AuditEntry)
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT seq, entry_hash FROM audit_auditentry ORDER BY seq DESC LIMIT 1")
        row = cursor.fetchone()
    if row is None:
        return 0, GENESIS_HASH
    return int(row[0]), str(row[1])


def write_checkpoint() -> Checkpoint:
    """Sign the current chain head and append it to the checkpoint file."""
    key = _load_or_create_key()
    size, head = current_head()
    timestamp = timezone.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    kid = key_id(key.public_key())
    signature = base64.b64encode(key.sign(_signed_bytes(size, head, timestamp, kid))).decode()
    record = {"head": head, "key_id": kid, "log": log_name(), "sig": signature, "size": size}
    record["ts"] = timestamp
    path = checkpoint_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    with path.open(encoding="utf-8") as handle:
        lines = sum(1 for _ in handle)
    return Checkpoint(size, head, timestamp, kid, signature, lines)


def read_checkpoints() -> list[Checkpoint]:
    """Every checkpoint in the file, in file order. Raises ``CheckpointError`` for a bad line."""
    path = checkpoint_path()
    if not path.exists():
        return []
    found: list[Checkpoint] = []
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                data = json.loads(text)
                found.append(
                    Checkpoint(
                        size=int(data["size"]),
                        head=str(data["head"]),
                        timestamp=str(data["ts"]),
                        key_id=str(data["key_id"]),
                        signature=str(data["sig"]),
                        line=number,
                    )
                )
            except (ValueError, KeyError, TypeError):
                raise CheckpointError(f"{path} line {number} is not a checkpoint") from None
    return found


def signature_valid(checkpoint: Checkpoint, public: Ed25519PublicKey) -> bool:
    """True when ``checkpoint`` was signed by the private half of ``public``."""
    try:
        public.verify(base64.b64decode(checkpoint.signature), checkpoint.signed_bytes())
    except (InvalidSignature, ValueError):
        return False
    return True


def latest_checkpoint() -> Checkpoint | None:
    """The checkpoint covering the most entries (the latest head), or None."""
    checkpoints = read_checkpoints()
    if not checkpoints:
        return None
    return max(checkpoints, key=lambda c: (c.size, c.line))
