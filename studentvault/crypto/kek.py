"""The master key (key-encryption key, KEK): the root of the key hierarchy, kept outside the
database.

Providers implement one small interface, :class:`KeyEncryptionKey`: ``wrap`` and ``unwrap`` bytes
under associated data, and ``derive_key`` for the few keys that must exist before the database
can be read (the SQLCipher page key) or without it (the backup key).

Invariants:
- the KEK itself never enters the database, a backup, a log or an error message;
- ``LocalFileKEK`` creates its key file with mode 0600 inside STUDENTVAULT_HOME on first use,
  never overwrites an existing file, and refuses a file that other users can read;
- ``VaultTransitKEK`` never sees plaintext data keys leave the process except inside the TLS
  (or loopback) request to Vault's transit engine; its derivation root is random, stored only
  wrapped by Vault, so derived keys need Vault to be reached;
- every wrapped value is authenticated under its associated data: a wrapped keyset copied to
  another name fails to unwrap.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import stat
import threading
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from .errors import KeyProviderError

_WRAP_MAGIC = b"SVK1"
_ROOT_INFO = b"studentvault/kek/derivation-root/v1"


def hkdf(secret: bytes, *, info: bytes, length: int = 32, salt: bytes | None = None) -> bytes:
    """HKDF-SHA-256 of ``secret`` for one purpose named by ``info``."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(secret)


def write_secret_file(path: Path, data: bytes) -> bool:
    """Create ``path`` with mode 0600 holding ``data``; False if it already exists.

    Written to a temporary file first and linked into place, so a concurrent first run (two test
    workers, two processes) never sees a half-written key and never overwrites one.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        return True
    finally:
        temporary.unlink(missing_ok=True)


def read_secret_file(path: Path) -> bytes:
    """The bytes of a key file, refused when group or others may read it."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyProviderError(f"key file {path} does not exist") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyProviderError(
            f"key file {path} is readable by other users (mode {stat.filemode(mode)}); "
            "make it 0600 (chmod 600) before starting"
        )
    return path.read_bytes()


class KeyEncryptionKey(ABC):
    """A master key held outside the database: wraps and unwraps data keys."""

    @property
    @abstractmethod
    def key_id(self) -> str:
        """A stable, non-secret name of this master key (written in backups and keysets)."""

    @abstractmethod
    def wrap(self, plaintext: bytes, *, associated_data: bytes) -> bytes:
        """Encrypt and authenticate ``plaintext`` bound to ``associated_data``."""

    @abstractmethod
    def unwrap(self, wrapped: bytes, *, associated_data: bytes) -> bytes:
        """The plaintext of ``wrapped``; KeyProviderError if it was not wrapped by this KEK
        under this associated data."""

    @abstractmethod
    def _derivation_root(self) -> bytes:
        """32 secret bytes from which keys that cannot be stored wrapped are derived."""

    def derive_key(self, purpose: str, *, length: int = 32) -> bytes:
        """A key for ``purpose`` (e.g. "sqlcipher", "backup") derived from the KEK by HKDF."""
        return hkdf(
            self._derivation_root(),
            info=b"studentvault/derived/" + purpose.encode(),
            length=length,
        )


class LocalFileKEK(KeyEncryptionKey):
    """The embedded default: a 256-bit AES-GCM key in a 0600 file in STUDENTVAULT_HOME."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists():
            write_secret_file(path, secrets.token_bytes(32))
        key = read_secret_file(path)
        if len(key) != 32:
            raise KeyProviderError(f"key file {path} must hold exactly 32 bytes")
        self._aead = AESGCM(key)
        self._root = hkdf(key, info=_ROOT_INFO)
        self._id = "file:" + hashlib.sha256(b"studentvault/kek-id" + key).hexdigest()[:16]

    @property
    def key_id(self) -> str:
        return self._id

    def wrap(self, plaintext: bytes, *, associated_data: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        return _WRAP_MAGIC + nonce + self._aead.encrypt(nonce, plaintext, associated_data)

    def unwrap(self, wrapped: bytes, *, associated_data: bytes) -> bytes:
        if not wrapped.startswith(_WRAP_MAGIC) or len(wrapped) < len(_WRAP_MAGIC) + 12 + 16:
            raise KeyProviderError("wrapped value is not in the local KEK format")
        nonce = wrapped[4:16]
        try:
            return self._aead.decrypt(nonce, wrapped[16:], associated_data)
        except InvalidTag:
            raise KeyProviderError(
                "wrapped value does not unwrap with this master key (another KEK, or tampered)"
            ) from None

    def _derivation_root(self) -> bytes:
        return self._root


class VaultTransitKEK(KeyEncryptionKey):
    """HashiCorp Vault's transit secrets engine as the KEK (a key that never leaves Vault).

    Uses the HTTP API directly (stdlib only): ``POST /v1/<mount>/encrypt/<key>`` and
    ``/decrypt/<key>`` with ``associated_data`` (AES-GCM transit keys). The derivation root for
    derived keys is 32 random bytes wrapped by Vault and kept in STUDENTVAULT_HOME.
    """

    def __init__(
        self,
        *,
        address: str,
        token: str,
        key_name: str,
        home: Path,
        mount: str = "transit",
        timeout: float = 10.0,
    ) -> None:
        if not address or not token or not key_name:
            raise KeyProviderError(
                "KEK_PROVIDER=vault needs VAULT_ADDR, VAULT_TOKEN (or VAULT_TOKEN_FILE) "
                "and VAULT_TRANSIT_KEY"
            )
        self.address = address.rstrip("/")
        self._token = token
        self.key_name = key_name
        self.mount = mount.strip("/")
        self.timeout = timeout
        self.root_path = home / "keys" / f"vault-{key_name}-derivation-root.wrapped"
        self._root: bytes | None = None
        self._lock = threading.Lock()

    @property
    def key_id(self) -> str:
        return f"vault:{self.mount}/{self.key_name}"

    def _call(self, operation: str, body: dict[str, str]) -> dict[str, Any]:
        url = f"{self.address}/v1/{self.mount}/{operation}/{self.key_name}"
        request = urllib.request.Request(  # noqa: S310 - the operator configures VAULT_ADDR
            url,
            data=json.dumps(body).encode(),
            headers={"X-Vault-Token": self._token, "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                payload: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise KeyProviderError(
                f"Vault transit {operation} with key {self.key_name!r} failed: HTTP {error.code}"
            ) from None
        except (urllib.error.URLError, OSError) as error:
            raise KeyProviderError(
                f"Vault at {self.address} cannot be reached for transit {operation}: {error}"
            ) from None
        data = payload.get("data")
        if not isinstance(data, dict):
            raise KeyProviderError(f"Vault transit {operation} answered without data")
        return data

    def wrap(self, plaintext: bytes, *, associated_data: bytes) -> bytes:
        data = self._call(
            "encrypt",
            {
                "plaintext": base64.b64encode(plaintext).decode(),
                "associated_data": base64.b64encode(associated_data).decode(),
            },
        )
        ciphertext = data.get("ciphertext")
        if not isinstance(ciphertext, str) or not ciphertext.startswith("vault:"):
            raise KeyProviderError("Vault transit encrypt returned no ciphertext")
        return ciphertext.encode()

    def unwrap(self, wrapped: bytes, *, associated_data: bytes) -> bytes:
        data = self._call(
            "decrypt",
            {
                "ciphertext": wrapped.decode("ascii", errors="replace"),
                "associated_data": base64.b64encode(associated_data).decode(),
            },
        )
        plaintext = data.get("plaintext")
        if not isinstance(plaintext, str):
            raise KeyProviderError("Vault transit decrypt returned no plaintext")
        return base64.b64decode(plaintext)

    def _derivation_root(self) -> bytes:
        with self._lock:
            if self._root is None:
                aad = b"studentvault/vault-derivation-root/" + self.key_id.encode()
                if not self.root_path.exists():
                    write_secret_file(
                        self.root_path,
                        self.wrap(secrets.token_bytes(32), associated_data=aad),
                    )
                self._root = self.unwrap(read_secret_file(self.root_path), associated_data=aad)
            return self._root


_providers: dict[tuple[str, ...], KeyEncryptionKey] = {}
_providers_lock = threading.Lock()


def current_kek() -> KeyEncryptionKey:
    """The configured KEK provider (KEK_PROVIDER=file|vault), read from settings at call time.

    Providers are cached per configuration, so tests that point STUDENTVAULT_HOME elsewhere get
    their own key and never see another test's.
    """
    provider = str(getattr(settings, "KEK_PROVIDER", "file") or "file").lower()
    home_setting = str(settings.STUDENTVAULT_HOME)
    if provider == "file":
        cache_key: tuple[str, ...] = ("file", home_setting)
        found = _providers.get(cache_key)  # fast path: no lock, no Path, on every field
        if found is not None:
            return found
    elif provider == "vault":
        cache_key = (
            "vault",
            home_setting,
            str(getattr(settings, "VAULT_ADDR", "")),
            str(getattr(settings, "VAULT_TRANSIT_KEY", "")),
            hashlib.sha256(str(getattr(settings, "VAULT_TOKEN", "")).encode()).hexdigest(),
        )
    else:
        raise KeyProviderError(f"KEK_PROVIDER must be 'file' or 'vault', not {provider!r}")
    home = Path(home_setting)
    with _providers_lock:
        found = _providers.get(cache_key)
        if found is None:
            if provider == "file":
                found = LocalFileKEK(home / "keys" / "master.key")
            else:
                found = VaultTransitKEK(
                    address=str(getattr(settings, "VAULT_ADDR", "")),
                    token=str(getattr(settings, "VAULT_TOKEN", "")),
                    key_name=str(getattr(settings, "VAULT_TRANSIT_KEY", "")),
                    home=home,
                )
            _providers[cache_key] = found
        return found


def clear_kek_cache() -> None:
    """Forget cached providers (tests; after the operator replaces the key file)."""
    with _providers_lock:
        _providers.clear()
