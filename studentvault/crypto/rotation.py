"""Key rotation: a new primary data key for a category, every stored value re-encrypted under
it in short batches while the system keeps serving, then the old keys destroyed.

Invariants:
- old keys stay in the keyset (for reading) until a full scan finds no stored value that uses
  them; only then are they removed from the keyset (their key material is gone);
- each batch re-encrypts rows selected by primary-key range in its own short transaction, with
  the rows locked (SELECT ... FOR UPDATE on PostgreSQL; SQLite serialises writers), so a
  concurrent write is never overwritten with stale plaintext, and readers are never blocked for
  more than one batch;
- the progress (last primary key done per table) is saved in the same transaction as the batch:
  an interrupted rotation resumes where it stopped (`keys rotate` again);
- before the final scan the rotation waits until every process has re-read the keyset
  (CRYPTO_KEYSET_CACHE_SECONDS after the new primary was stored), so no process still encrypts
  with an old key when it is destroyed;
- start, resume, every batch, the finish and the retirement emit security events.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import Max, Model
from django.utils import timezone

from studentvault.core.actors import Actor
from studentvault.core.categories import DataCategory
from studentvault.core.events import emit

from .errors import KeysetError
from .fields import (
    EncryptedMixin,
    Sealed,
    associated_data,
    encrypted_fields_of,
    key_id_of,
    seal_bytes,
)
from .keysets import add_primary_key, category_keys, retire_keys
from .models import Keyset, RotationJob


def check_category(category: str) -> str:
    """``category`` if it names a data category; ValueError listing the valid ones otherwise."""
    valid = [c.value for c in DataCategory]
    if category not in valid:
        raise ValueError(f"unknown data category {category!r}; choose one of: {', '.join(valid)}")
    return category


def encrypted_columns(category: str) -> list[tuple[type[Model], list[EncryptedMixin]]]:
    """Every model with encrypted fields of ``category``, with those fields (stable order)."""
    found: list[tuple[type[Model], list[EncryptedMixin]]] = []
    for model in sorted(apps.get_models(), key=lambda m: m._meta.db_table):
        fields = [f for f in encrypted_fields_of(model) if f.category == category]
        if fields:
            found.append((model, fields))
    return found


def key_usage(category: str) -> Counter[int | None]:
    """How many stored values of ``category`` each key id encrypts (None: marked plaintext)."""
    usage: Counter[int | None] = Counter()
    for model, fields in encrypted_columns(category):
        names = [f.attname for f in fields]  # type: ignore[attr-defined]
        for row in model._base_manager.values_list(*names).iterator(chunk_size=2000):
            for value in row:
                if value is not None:
                    usage[key_id_of(value)] += 1
    return usage


@dataclass(frozen=True)
class CategoryStatus:
    """What `keys status` prints for one category."""

    category: str
    created: bool
    primary_key_id: int | None
    key_ids: tuple[int, ...]
    rows_per_key: dict[int | None, int]
    rotation_running: bool


def keys_status() -> list[CategoryStatus]:
    """Primary key, key ids and values per key id of every category."""
    statuses = []
    stored = set(Keyset.objects.values_list("name", flat=True))
    running = set(
        RotationJob.objects.filter(state=RotationJob.State.RUNNING).values_list(
            "category", flat=True
        )
    )
    for category in DataCategory:
        if category.value not in stored:
            statuses.append(CategoryStatus(category.value, False, None, (), {}, False))
            continue
        keys = category_keys(category.value)
        statuses.append(
            CategoryStatus(
                category.value,
                True,
                keys.primary_key_id,
                keys.key_ids,
                dict(key_usage(category.value)),
                category.value in running,
            )
        )
    return statuses


def _reencrypt_batch(
    model: type[Model],
    fields: list[EncryptedMixin],
    *,
    after: int,
    ceiling: int,
    batch_size: int,
    target: int,
) -> tuple[int | None, int, int]:
    """Re-encrypt the next batch of rows after primary key ``after``.

    Returns (last primary key of the batch or None when the table is done, rows walked, values
    rewritten).
    Runs inside the caller's transaction.
    """
    manager = model._base_manager
    pks = list(
        manager.filter(pk__gt=after, pk__lte=ceiling)
        .order_by("pk")
        .values_list("pk", flat=True)[:batch_size]
    )
    if not pks:
        return None, 0, 0
    names = [f.attname for f in fields]  # type: ignore[attr-defined]
    rows = manager.select_for_update().filter(pk__in=pks).values_list("pk", "row_uid", *names)
    rewritten = 0
    for pk, row_uid, *values in rows:
        changes: dict[str, Any] = {}
        for field, value in zip(fields, values, strict=True):
            if value is None or key_id_of(value) == target:
                continue
            payload = field.open_payload(value, row_uid=row_uid, row=pk)
            table, column = field._location()
            assert field.category is not None
            changes[field.attname] = Sealed(  # type: ignore[attr-defined]
                seal_bytes(
                    payload,
                    category=field.category,
                    aad=associated_data(table, column, row_uid),
                )
            )
        if changes:
            manager.filter(pk=pk).update(**changes)
            rewritten += len(changes)
    return pks[-1], len(pks), rewritten


def _pass(
    job: RotationJob,
    columns: list[tuple[type[Model], list[EncryptedMixin]]],
    *,
    batch_size: int,
    actor: Actor,
    on_batch: Callable[[RotationJob, int], None] | None,
) -> None:
    for model, fields in columns:
        table = model._meta.db_table
        # Rows added after this point were sealed under the new primary key (or, by a process
        # that had not seen it yet, are found by the final sweep): stop here, not chase them.
        ceiling = model._base_manager.aggregate(top=Max("pk"))["top"] or 0
        while True:
            with transaction.atomic():
                last, walked, rewritten = _reencrypt_batch(
                    model,
                    fields,
                    after=int(job.progress.get(table, 0)),
                    ceiling=ceiling,
                    batch_size=batch_size,
                    target=job.new_key_id,
                )
                if last is None:
                    break
                job.progress[table] = last
                job.rows_reencrypted += rewritten
                job.batches += 1
                job.save(update_fields=["progress", "rows_reencrypted", "batches"])
                emit(
                    actor=actor,
                    action="crypto:key:rotate_batch",
                    keyset=job.category,
                    rotation=job.pk,
                    table=table,
                    last_row=last,
                    values_reencrypted=rewritten,
                )
            if on_batch is not None:
                on_batch(job, walked)


def rotate(
    category: str,
    *,
    actor: Actor,
    batch_size: int = 500,
    on_batch: Callable[[RotationJob, int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> RotationJob:
    """Rotate ``category``'s data key (or resume its unfinished rotation) to the end.

    ``on_total`` is told how many rows the rotation will walk; ``on_batch`` is called with the
    job and the rows walked after each committed batch (the progress bar; tests interrupt here).
    """
    check_category(category)
    if batch_size < 1:
        raise ValueError("batch size must be at least 1")
    job = RotationJob.objects.filter(category=category, state=RotationJob.State.RUNNING).first()
    if job is None:
        old_key_ids = list(category_keys(category).key_ids)
        new_key_id = add_primary_key(category, actor=actor)
        job = RotationJob.objects.create(
            category=category, new_key_id=new_key_id, old_key_ids=old_key_ids
        )
        emit(
            actor=actor,
            action="crypto:key:rotate_start",
            keyset=category,
            rotation=job.pk,
            new_key_id=new_key_id,
            old_key_ids=old_key_ids,
        )
    else:
        if category_keys(category).primary_key_id != job.new_key_id:
            raise KeysetError(
                f"rotation #{job.pk} of {category!r} expects primary key {job.new_key_id}, "
                "but the keyset has another primary; resolve by hand (docs/runbooks/keys.md)"
            )
        emit(
            actor=actor,
            action="crypto:key:rotate_resume",
            keyset=category,
            rotation=job.pk,
            progress=dict(job.progress),
        )
    columns = encrypted_columns(category)
    if on_total is not None:
        on_total(
            sum(
                m._base_manager.filter(pk__gt=int(job.progress.get(m._meta.db_table, 0))).count()
                for m, _ in columns
            )
        )
    _pass(job, columns, batch_size=batch_size, actor=actor, on_batch=on_batch)

    # Every process must have seen the new primary before the old keys can go.
    grace = float(getattr(settings, "CRYPTO_KEYSET_CACHE_SECONDS", 30))
    waited = (timezone.now() - job.started_at).total_seconds()
    if waited < grace:
        time.sleep(grace - waited)
    old = set(job.old_key_ids)
    while True:
        usage = key_usage(category)
        left = sum(n for key_id, n in usage.items() if key_id in old)
        if left == 0:
            break
        # Values written by a process that had not yet seen the new primary: sweep again.
        job.progress = {}
        job.save(update_fields=["progress"])
        _pass(job, columns, batch_size=batch_size, actor=actor, on_batch=on_batch)
    retire_keys(category, sorted(old), actor=actor)
    job.state = RotationJob.State.FINISHED
    job.finished_at = timezone.now()
    job.save(update_fields=["state", "finished_at"])
    emit(
        actor=actor,
        action="crypto:key:rotate_finish",
        keyset=category,
        rotation=job.pk,
        new_key_id=job.new_key_id,
        retired_key_ids=sorted(old),
        values_reencrypted=job.rows_reencrypted,
        batches=job.batches,
    )
    return job
