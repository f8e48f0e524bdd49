"""Encrypted, integrity-protected backups of the database and the wrapped keysets.

File layout: ``SVBK1\\n``, a 4-byte header length, the header (JSON: format version, KEK key id,
random salt, applied migrations, creation time), then chunks of ``4-byte length || AES-256-GCM
ciphertext``. The backup key is HKDF(KEK-derived "backup" key, salt); each chunk's nonce is its
index plus a last-chunk flag, and the header is the associated data of every chunk.

Invariants:
- the payload (every table's raw column values: encrypted fields stay ciphertext, keysets stay
  wrapped) is only ever written encrypted; the KEK itself is never in a backup;
- any change to the header or any chunk, reordered, dropped or appended chunks and a truncated
  file are detected before anything is written (the whole file is verified first);
- restore writes only into an empty instance (no rows except Django's content types and
  permissions, which are replaced), in one transaction: all rows or none;
- restore refuses a backup made under another master key or another schema (migrations);
- backup and restore emit security events.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import secrets
import struct
import zlib
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.apps import apps
from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.migrations.recorder import MigrationRecorder

from studentvault.core.actors import Actor
from studentvault.core.events import emit

from .errors import BackupError
from .fields import EncryptedMixin, Sealed
from .kek import current_kek, hkdf
from .keysets import clear_caches

MAGIC = b"SVBK1\n"
FORMAT_VERSION = 1
CHUNK_SIZE = 1 << 20
# Filled by Django's post_migrate in every instance; replaced by the backup's rows on restore.
REPLACED_ON_RESTORE = {"contenttypes.contenttype", "auth.permission"}


def _models() -> list[type[models.Model]]:
    return [
        m
        for m in apps.get_models(include_auto_created=True)
        if m._meta.managed and not m._meta.proxy
    ]


def _label(model: type[models.Model]) -> str:
    return model._meta.label_lower


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return {"$b": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    return str(value)  # Decimal, UUID, timedelta: their fields parse them back


def _decode(field: models.Field[Any, Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(field, models.JSONField) and not isinstance(field, EncryptedMixin):
        return value
    if isinstance(value, dict) and "$b" in value:
        raw = base64.b64decode(value["$b"])
        return Sealed(raw) if isinstance(field, EncryptedMixin) else raw
    if isinstance(field, EncryptedMixin):
        raise BackupError(f"column {field.column} holds a value that is not ciphertext")
    return field.to_python(value)


def _applied_migrations(using: str) -> list[str]:
    recorder = MigrationRecorder(connections[using])
    return sorted(f"{app}.{name}" for app, name in recorder.applied_migrations())


def _backup_key(salt: bytes) -> AESGCM:
    return AESGCM(
        hkdf(current_kek().derive_key("backup"), salt=salt, info=b"studentvault/backup/v1")
    )


def _nonce(index: int, last: bool) -> bytes:
    return struct.pack(">QI", index, 1 if last else 0)


def dump_tables(*, using: str = DEFAULT_DB_ALIAS) -> dict[str, Any]:
    """Every managed table's rows as raw column values (ciphertexts stay ciphertexts)."""
    tables = []
    for model in _models():
        fields = list(model._meta.concrete_fields)
        names = [f.attname for f in fields]
        rows = [
            [_encode(v) for v in row]
            for row in model._base_manager.using(using).order_by("pk").values_list(*names)
        ]
        tables.append({"model": _label(model), "columns": names, "rows": rows})
    return {"tables": tables}


def create_backup(out: Path, *, actor: Actor, using: str = DEFAULT_DB_ALIAS) -> dict[str, Any]:
    """Write an encrypted backup of the whole database to ``out`` (which must not exist)."""
    if out.exists():
        raise BackupError(f"{out} already exists; choose a new file name")
    kek = current_kek()
    salt = secrets.token_bytes(32)
    header = json.dumps(
        {
            "format": FORMAT_VERSION,
            "kek_id": kek.key_id,
            "salt": base64.b64encode(salt).decode(),
            "migrations": _applied_migrations(using),
            "created": dt.datetime.now(dt.UTC).isoformat(),
        },
        sort_keys=True,
    ).encode()
    with transaction.atomic(using=using):  # one consistent snapshot on PostgreSQL
        payload = dump_tables(using=using)
    plain = zlib.compress(json.dumps(payload, separators=(",", ":")).encode(), 6)
    key = _backup_key(salt)
    chunks = [plain[i : i + CHUNK_SIZE] for i in range(0, len(plain), CHUNK_SIZE)] or [b""]
    temporary = out.with_name(out.name + ".partial")
    with temporary.open("xb") as handle:
        handle.write(MAGIC + struct.pack(">I", len(header)) + header)
        for index, chunk in enumerate(chunks):
            sealed = key.encrypt(_nonce(index, index == len(chunks) - 1), chunk, header)
            handle.write(struct.pack(">I", len(sealed)) + sealed)
    temporary.chmod(0o600)
    temporary.rename(out)
    rows = sum(len(t["rows"]) for t in payload["tables"])
    emit(
        actor=actor,
        action="crypto:backup:create",
        file=out.name,
        tables=len(payload["tables"]),
        rows=rows,
        kek_id=kek.key_id,
    )
    return {"tables": len(payload["tables"]), "rows": rows}


def read_backup(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and payload of a backup, after verifying every byte of it."""
    data = path.read_bytes()
    stream = io.BytesIO(data)
    if stream.read(len(MAGIC)) != MAGIC:
        raise BackupError(f"{path.name} is not a StudentVault backup")
    try:
        (length,) = struct.unpack(">I", stream.read(4))
        header_bytes = stream.read(length)
        header = json.loads(header_bytes)
        salt = base64.b64decode(header["salt"])
    except (struct.error, ValueError, KeyError, TypeError):
        raise BackupError(f"{path.name}: the header is damaged") from None
    if header.get("format") != FORMAT_VERSION:
        raise BackupError(f"{path.name}: unknown backup format {header.get('format')!r}")
    kek = current_kek()
    if header.get("kek_id") != kek.key_id:
        raise BackupError(
            f"{path.name} was made under master key {header.get('kek_id')!r}; this instance "
            f"uses {kek.key_id!r}: restore needs the same master key"
        )
    key = _backup_key(salt)
    plain = bytearray()
    index = 0
    finished = False
    while True:
        size_bytes = stream.read(4)
        if not size_bytes:
            break
        if finished or len(size_bytes) != 4:
            raise BackupError(f"{path.name}: unexpected data after the last chunk")
        (size,) = struct.unpack(">I", size_bytes)
        sealed = stream.read(size)
        if len(sealed) != size:
            raise BackupError(f"{path.name} is truncated (chunk {index} is incomplete)")
        for last in (False, True):
            try:
                plain += key.decrypt(_nonce(index, last), sealed, header_bytes)
                finished = last
                break
            except InvalidTag:
                continue
        else:
            raise BackupError(
                f"{path.name}: chunk {index} fails its integrity check (tampered or damaged)"
            )
        index += 1
    if not finished:
        raise BackupError(f"{path.name} is truncated (its last chunk is missing)")
    try:
        payload = json.loads(zlib.decompress(bytes(plain)))
    except (zlib.error, ValueError):
        raise BackupError(f"{path.name}: the content cannot be read") from None
    return header, payload


def restore_backup(path: Path, *, actor: Actor, using: str = DEFAULT_DB_ALIAS) -> dict[str, Any]:
    """Restore ``path`` into this (empty) instance; all rows or none."""
    header, payload = read_backup(path)
    if header["migrations"] != _applied_migrations(using):
        raise BackupError(
            f"{path.name} was made with another schema: apply the same migrations first "
            "(`studentvault migrate`) or restore into a matching release"
        )
    by_label = {_label(m): m for m in _models()}
    for model in by_label.values():
        if _label(model) in REPLACED_ON_RESTORE:
            continue
        if model._base_manager.using(using).exists():
            raise BackupError(
                f"this instance is not empty (table {model._meta.db_table} has rows); restore "
                "only into a freshly migrated, empty instance"
            )
    connection = connections[using]
    restored_models = []
    rows = 0
    with transaction.atomic(using=using):
        for label in ("auth.permission", "contenttypes.contenttype"):
            if label in by_label:
                by_label[label]._base_manager.using(using).all().delete()
        with connection.cursor() as cursor:
            for table in payload["tables"]:
                found = by_label.get(table["model"])
                if found is None:
                    raise BackupError(f"{path.name} holds table {table['model']} unknown here")
                model = found
                by_attname = {f.attname: f for f in model._meta.concrete_fields}
                fields = [by_attname[name] for name in table["columns"]]
                if not table["rows"]:
                    continue
                columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
                marks = ", ".join(["%s"] * len(fields))
                sql = (
                    f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} "  # noqa: S608
                    f"({columns}) VALUES ({marks})"
                )
                values = [
                    [
                        f.get_db_prep_save(_decode(f, v), connection)
                        for f, v in zip(fields, row, strict=True)
                    ]
                    for row in table["rows"]
                ]
                cursor.executemany(sql, values)
                restored_models.append(model)
                rows += len(values)
            for statement in connection.ops.sequence_reset_sql(no_style(), restored_models):
                cursor.execute(statement)
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()
    clear_caches()
    emit(
        actor=actor,
        action="crypto:backup:restore",
        file=path.name,
        rows=rows,
        kek_id=header["kek_id"],
        backup_created=header.get("created", ""),
    )
    return {"tables": len(restored_models), "rows": rows}
