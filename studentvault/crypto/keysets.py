"""Data keys: one Tink AEAD keyset (AES-256-GCM) per data category, and the blind-index root.

Invariants:
- a keyset is stored only as Tink's encrypted keyset, wrapped by the KEK through
  :class:`KekAead`, under associated data naming the keyset: it never reaches the database,
  a log or a backup in plaintext;
- the blind-index root is a separate random secret (not derived from any encryption key),
  stored wrapped by the KEK;
- unwrapped primitives (and each keyset's ``PrimarySealer``, made from the same handle: see
  ``sealer``) live only in this process's memory, cached per (database, keyset, KEK)
  and re-checked against the stored ``version`` at most every CRYPTO_KEYSET_CACHE_SECONDS, so
  every process picks up a rotation's new primary key within that time. The one exception is a
  short-lived worker process forked inside a transaction (``pin_cached``), which must not use
  the database and ends with its task: it keeps the keysets its parent had cached;
- every keyset creation, new primary key and retirement emits a security event.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

import tink
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from tink import aead, proto_keyset_format, secret_key_access
from tink.proto import tink_pb2

from studentvault.core.actors import Actor
from studentvault.core.categories import DataCategory
from studentvault.core.events import emit

from .errors import KeyProviderError, KeysetError
from .kek import KeyEncryptionKey, current_kek
from .models import Keyset
from .sealer import PrimarySealer

aead.register()

BLIND_INDEX_ROOT = "blind_index_root"
_TEMPLATE = aead.aead_key_templates.AES256_GCM


class KekAead(aead.Aead):  # type: ignore[misc]
    """A Tink Aead that wraps keysets with the KEK provider (Tink's keyset encryption)."""

    def __init__(self, kek: KeyEncryptionKey) -> None:
        self._kek = kek

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes:
        return self._kek.wrap(plaintext, associated_data=associated_data)

    def decrypt(self, ciphertext: bytes, associated_data: bytes) -> bytes:
        try:
            return self._kek.unwrap(ciphertext, associated_data=associated_data)
        except KeyProviderError as error:
            raise tink.TinkError(str(error)) from None


def _keyset_aad(name: str) -> bytes:
    return b"studentvault/keyset/v1/" + name.encode()


@dataclass(frozen=True)
class CategoryKeys:
    """The unwrapped keyset of one category as this process holds it."""

    name: str
    handle: tink.KeysetHandle
    primitive: aead.Aead
    primary_key_id: int
    key_ids: tuple[int, ...]
    version: int
    # Encrypts with the primary key: the same ciphertext as primitive.encrypt, fewer layers.
    sealer: PrimarySealer


@dataclass
class _Cached:
    value: CategoryKeys | bytes
    version: int
    checked_at: float
    # Atomic blocks open when the keyset was created and not yet committed: if any of them is
    # rolled back, the stored keyset is gone and the cached copy must not be used.
    pending: tuple[object, ...] | None = None
    using: str = DEFAULT_DB_ALIAS

    def still_stored(self) -> bool:
        if self.pending is None:
            return True
        stack = connections[self.using].atomic_blocks
        return all(any(block is open_block for open_block in stack) for block in self.pending)


_cache: dict[tuple[str, str, str], _Cached] = {}
_lock = threading.RLock()
# Set by pin_cached() in a forked worker: cached keysets are then never re-checked.
_pinned = False


def clear_caches() -> None:
    """Forget every unwrapped key held by this process (tests, after restore, after rotation)."""
    with _lock:
        _cache.clear()


def pin_cached() -> None:
    """Keep every keyset this process holds now without re-checking it, for the rest of its life.

    Only for a worker process forked by its parent inside the parent's transaction, which must
    never use the inherited database connection and exits when its task ends (the import's
    record-file workers, ``exchange.workers``). The parent cached the keysets the task needs
    before the fork. A keyset not cached is still read from the database, which such a worker
    refuses: it then hands its task back to the parent. The pinned keysets are the parent's, at
    most CRYPTO_KEYSET_CACHE_SECONDS old at the fork; the worker lives for one file, so a
    rotation's new primary key reaches its rows that much later than the parent's.
    """
    global _pinned
    _pinned = True


def _cache_seconds() -> float:
    return float(getattr(settings, "CRYPTO_KEYSET_CACHE_SECONDS", 30))


def _key_ids(handle: tink.KeysetHandle) -> tuple[int, ...]:
    return tuple(key.key_id for key in handle.keyset_info().key_info)


def _unwrap_category(row: Keyset, kek: KeyEncryptionKey) -> CategoryKeys:
    try:
        handle = proto_keyset_format.parse_encrypted(
            bytes(row.wrapped), KekAead(kek), _keyset_aad(row.name)
        )
    except tink.TinkError:
        raise KeysetError(
            f"keyset {row.name!r} does not unwrap with the current master key {kek.key_id!r} "
            f"(it was wrapped by {row.kek_id!r}); check KEK_PROVIDER and STUDENTVAULT_HOME"
        ) from None
    info = handle.keyset_info()
    primitive = handle.primitive(aead.Aead)
    return CategoryKeys(
        name=row.name,
        handle=handle,
        primitive=primitive,
        primary_key_id=info.primary_key_id,
        key_ids=_key_ids(handle),
        version=row.version,
        sealer=PrimarySealer(primitive, info.primary_key_id),
    )


def _wrap_handle(name: str, handle: tink.KeysetHandle, kek: KeyEncryptionKey) -> bytes:
    wrapped: bytes = proto_keyset_format.serialize_encrypted(
        handle, KekAead(kek), _keyset_aad(name)
    )
    return wrapped


def _create(name: str, *, using: str, actor: Actor) -> Keyset:
    """Create the stored keyset ``name`` if nobody has; returns the stored row either way."""
    kek = current_kek()
    if name == BLIND_INDEX_ROOT:
        purpose = Keyset.Purpose.BLIND_INDEX
        wrapped = kek.wrap(secrets.token_bytes(32), associated_data=_keyset_aad(name))
        primary: int | None = None
    else:
        purpose = Keyset.Purpose.FIELD_ENCRYPTION
        handle = tink.new_keyset_handle(_TEMPLATE)
        wrapped = _wrap_handle(name, handle, kek)
        primary = handle.keyset_info().primary_key_id
    try:
        with transaction.atomic(using=using):
            row = Keyset.objects.using(using).create(
                name=name,
                purpose=purpose,
                wrapped=wrapped,
                kek_id=kek.key_id,
                primary_key_id=primary,
            )
    except IntegrityError:
        # Another process created it first: use theirs.
        return Keyset.objects.using(using).get(name=name)
    emit(actor=actor, action="crypto:keyset:create", keyset=name, kek_id=kek.key_id)
    return row


def ensure_keysets(*, using: str = DEFAULT_DB_ALIAS, actor: Actor | None = None) -> list[str]:
    """Create every missing keyset (one per data category, and the blind-index root).

    Returns the names created. Run after ``migrate`` so keys exist before any data arrives.
    """
    actor = actor or Actor.system("crypto-keysets")
    existing = set(Keyset.objects.using(using).values_list("name", flat=True))
    wanted = [category.value for category in DataCategory] + [BLIND_INDEX_ROOT]
    created = [name for name in wanted if name not in existing]
    for name in created:
        _create(name, using=using, actor=actor)
    if created:
        clear_caches()
    return created


def _stored(name: str, using: str) -> tuple[Keyset, tuple[object, ...] | None]:
    """The stored keyset ``name`` (created if missing) and, when it was created inside a
    transaction that has not committed yet, the atomic blocks it depends on."""
    row = Keyset.objects.using(using).filter(name=name).first()
    if row is not None:
        return row, None
    row = _create(name, using=using, actor=Actor.system("crypto-keysets"))
    connection = connections[using]
    return row, (tuple(connection.atomic_blocks) if connection.in_atomic_block else None)


def _remember(cache_key: tuple[str, str, str], entry: _Cached) -> None:
    _cache[cache_key] = entry
    if entry.pending is not None:

        def committed() -> None:
            entry.pending = None

        transaction.on_commit(committed, using=entry.using)


def category_keys(category: str, *, using: str = DEFAULT_DB_ALIAS) -> CategoryKeys:
    """The unwrapped keyset of ``category`` (cached; re-checked against the stored version)."""
    if category == BLIND_INDEX_ROOT:
        raise KeysetError("the blind-index root is not an encryption keyset")
    kek = current_kek()
    cache_key = (using, category, kek.key_id)
    now = time.monotonic()
    with _lock:
        cached = _cache.get(cache_key)
        if cached is not None and not cached.still_stored():
            del _cache[cache_key]
            cached = None
        if cached is not None and (_pinned or now - cached.checked_at < _cache_seconds()):
            assert isinstance(cached.value, CategoryKeys)
            return cached.value
        if cached is not None:
            version = (
                Keyset.objects.using(using)
                .filter(name=category)
                .values_list("version", flat=True)
                .first()
            )
            if version == cached.version:
                cached.checked_at = now
                assert isinstance(cached.value, CategoryKeys)
                return cached.value
        row, pending = _stored(category, using)
        keys = _unwrap_category(row, kek)
        _remember(cache_key, _Cached(keys, keys.version, now, pending, using))
        return keys


def blind_index_root(*, using: str = DEFAULT_DB_ALIAS) -> bytes:
    """The 32-byte blind-index root, unwrapped with the KEK (cached in process memory)."""
    kek = current_kek()
    cache_key = (using, BLIND_INDEX_ROOT, kek.key_id)
    with _lock:
        cached = _cache.get(cache_key)
        if cached is not None and cached.still_stored():
            assert isinstance(cached.value, bytes)
            return cached.value
        row, pending = _stored(BLIND_INDEX_ROOT, using)
        try:
            root = kek.unwrap(bytes(row.wrapped), associated_data=_keyset_aad(BLIND_INDEX_ROOT))
        except KeyProviderError:
            raise KeysetError(
                f"the blind-index root does not unwrap with the current master key "
                f"{kek.key_id!r} (it was wrapped by {row.kek_id!r})"
            ) from None
        _remember(cache_key, _Cached(root, row.version, time.monotonic(), pending, using))
        return root


def _store_handle(
    row: Keyset, handle: tink.KeysetHandle, *, using: str, kek: KeyEncryptionKey
) -> CategoryKeys:
    row.wrapped = _wrap_handle(row.name, handle, kek)
    row.kek_id = kek.key_id
    row.primary_key_id = handle.keyset_info().primary_key_id
    row.version += 1
    row.save(using=using)
    keys = _unwrap_category(row, kek)
    connection = connections[using]
    pending = tuple(connection.atomic_blocks) if connection.in_atomic_block else None
    with _lock:
        _remember(
            (using, row.name, kek.key_id),
            _Cached(keys, keys.version, time.monotonic(), pending, using),
        )
    return keys


def _proto(handle: tink.KeysetHandle) -> tink_pb2.Keyset:
    keyset = tink_pb2.Keyset()
    keyset.ParseFromString(proto_keyset_format.serialize(handle, secret_key_access.TOKEN))
    return keyset


def add_primary_key(category: str, *, using: str = DEFAULT_DB_ALIAS, actor: Actor) -> int:
    """Add a fresh AES-256-GCM key to ``category``'s keyset and make it primary.

    Old keys stay enabled for decryption until :func:`retire_keys`. Returns the new key id.
    """
    kek = current_kek()
    with transaction.atomic(using=using):
        row = Keyset.objects.using(using).select_for_update().get(name=category)
        current = _unwrap_category(row, kek)
        keyset = _proto(current.handle)
        fresh = _proto(tink.new_keyset_handle(_TEMPLATE)).key[0]
        while fresh.key_id in current.key_ids:
            fresh = _proto(tink.new_keyset_handle(_TEMPLATE)).key[0]
        keyset.key.append(fresh)
        keyset.primary_key_id = fresh.key_id
        handle = proto_keyset_format.parse(keyset.SerializeToString(), secret_key_access.TOKEN)
        _store_handle(row, handle, using=using, kek=kek)
    emit(
        actor=actor,
        action="crypto:key:add_primary",
        keyset=category,
        new_key_id=fresh.key_id,
        old_primary_key_id=current.primary_key_id,
    )
    return int(fresh.key_id)


def retire_keys(
    category: str, key_ids: list[int], *, using: str = DEFAULT_DB_ALIAS, actor: Actor
) -> None:
    """Remove ``key_ids`` (never the primary) from the keyset: their key material is destroyed.

    Callers must first prove that no stored value uses them (rotation does).
    """
    kek = current_kek()
    with transaction.atomic(using=using):
        row = Keyset.objects.using(using).select_for_update().get(name=category)
        current = _unwrap_category(row, kek)
        if current.primary_key_id in key_ids:
            raise KeysetError(f"refusing to retire the primary key of {category!r}")
        keyset = _proto(current.handle)
        kept = [key for key in keyset.key if key.key_id not in key_ids]
        del keyset.key[:]
        keyset.key.extend(kept)
        handle = proto_keyset_format.parse(keyset.SerializeToString(), secret_key_access.TOKEN)
        _store_handle(row, handle, using=using, kek=kek)
    emit(actor=actor, action="crypto:key:retire", keyset=category, retired_key_ids=key_ids)
