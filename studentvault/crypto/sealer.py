"""Sealing with a category's primary key, without Tink's per-call Python layers.

Tink's Python AEAD of a keyset (``handle.primitive(aead.Aead)``) encrypts in three Python calls
around one C++ call: the keyset wrapper looks up the primary key and prepends its output prefix,
and a decorator turns the C++ status into ``tink.TinkError``. For one value that is a third of
the cost (docs/adr/0082). A :class:`PrimarySealer` holds the primary key's C++ AEAD and its
output prefix, taken from the same keyset handle, and makes the same ciphertext in one call.

Invariants:
- its ciphertext is what the keyset's public ``encrypt`` returns: the primary key's 5-byte
  output prefix (0x01 and the key id) followed by that key's AES-256-GCM ciphertext with a fresh
  nonce; the keyset's public ``decrypt`` opens it (checked when the sealer is made);
- it is made for one keyset handle and its primary key at that moment; a rotation makes a new
  handle and so a new sealer (``keysets._unwrap_category``);
- when Tink's internals are not as this module expects (another Tink release), or the check
  fails, the sealer uses the public ``encrypt`` for every value: slower, never different;
- a failure of the C++ call is never hidden: the batch is sealed again through the public
  ``encrypt``, which raises ``tink.TinkError`` as Tink does.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from typing import Any

import tink
from tink import aead

_PROBE_AAD = b"studentvault/sealer/probe"


class PrimarySealer:
    """Encrypts with the primary key of one keyset handle (see the module's text)."""

    def __init__(self, primitive: aead.Aead, primary_key_id: int) -> None:
        self._public: Callable[[bytes, bytes], bytes] = primitive.encrypt
        direct = _direct(primitive, primary_key_id)
        self.direct = direct is not None
        self._prefix: bytes = b""
        self._encrypt: Callable[[bytes, bytes], bytes] = self._public
        if direct is not None:
            self._prefix, self._encrypt = direct

    def seal(self, payload: bytes, aad: bytes) -> bytes:
        """The ciphertext of ``payload`` bound to ``aad``."""
        return self.seal_many([payload], [aad])[0]

    def seal_many(self, payloads: Sequence[bytes], aads: Sequence[bytes]) -> list[bytes]:
        """``[seal(p, a) for p, a in zip(payloads, aads)]``; ValueError if the two differ in
        length (``seal_many`` of ``fields`` checks that before it calls)."""
        prefix, encrypt = self._prefix, self._encrypt
        try:
            return [prefix + encrypt(p, a) for p, a in zip(payloads, aads, strict=True)]
        except Exception:
            if self._encrypt is self._public:
                raise
        # The C++ call failed: Tink's public path raises its own error for the same value.
        public = self._public
        return [public(p, a) for p, a in zip(payloads, aads, strict=True)]


def _direct(
    primitive: aead.Aead, primary_key_id: int
) -> tuple[bytes, Callable[[bytes, bytes], bytes]] | None:
    """The primary key's output prefix and C++ encrypt, when both are where Tink 1.x keeps them
    and a probe sealed by them is opened by ``primitive``'s public ``decrypt`` with the probe's
    associated data and refused with any other; None otherwise."""
    try:
        primary: Any = primitive._primitive_set.primary()
        prefix = bytes(primary.identifier)
        encrypt = primary.primitive._aead.encrypt
    except AttributeError:
        return None
    if prefix != b"\x01" + primary_key_id.to_bytes(4, "big") or primary.key_id != primary_key_id:
        return None
    probe = secrets.token_bytes(24)
    try:
        sealed = prefix + encrypt(probe, _PROBE_AAD)
        if primitive.decrypt(sealed, _PROBE_AAD) != probe:
            return None
    except Exception:  # any surprise means: use the public path
        return None
    try:
        primitive.decrypt(sealed, _PROBE_AAD + b"x")
    except tink.TinkError:
        return prefix, encrypt
    return None
