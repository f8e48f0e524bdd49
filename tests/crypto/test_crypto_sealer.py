"""PrimarySealer: the primary key's ciphertext in one call, exactly what Tink's public encrypt
makes, and the public path whenever the short one cannot be trusted."""

from __future__ import annotations

from typing import Any

import pytest
import tink
from tink import aead

from studentvault.core.actors import Actor
from studentvault.crypto.fields import key_id_of
from studentvault.crypto.keysets import add_primary_key, category_keys
from studentvault.crypto.sealer import PrimarySealer

aead.register()
TEMPLATE = aead.aead_key_templates.AES256_GCM
AAD = b"studentvault/field/v1|records_student|last_name|row"


def keyset() -> tuple[aead.Aead, int]:
    handle = tink.new_keyset_handle(TEMPLATE)
    return handle.primitive(aead.Aead), handle.keyset_info().primary_key_id


def test_the_installed_tink_takes_the_short_path_and_its_ciphertext_is_tinks() -> None:
    primitive, key_id = keyset()
    sealer = PrimarySealer(primitive, key_id)
    assert sealer.direct, "the installed Tink no longer has the internals the sealer uses"
    payloads = [f"Quillfeather{n}".encode() for n in range(50)] + [b""]
    aads = [AAD + str(n).encode() for n in range(len(payloads))]
    sealed = sealer.seal_many(payloads, aads)
    for n, value in enumerate(sealed):
        assert value[:5] == b"\x01" + key_id.to_bytes(4, "big")
        assert len(value) == 5 + 12 + len(payloads[n]) + 16
        assert primitive.decrypt(value, aads[n]) == payloads[n]
        with pytest.raises(tink.TinkError):
            primitive.decrypt(value, aads[(n + 1) % len(aads)])
        with pytest.raises(tink.TinkError):
            primitive.decrypt(value[:-1] + bytes([value[-1] ^ 1]), aads[n])
    # A fresh nonce every time: one value sealed twice gives two ciphertexts.
    assert sealer.seal(b"same", AAD) != sealer.seal(b"same", AAD)
    assert primitive.decrypt(sealer.seal(b"same", AAD), AAD) == b"same"


def test_a_ciphertext_of_the_short_path_does_not_open_under_another_keyset() -> None:
    primitive, key_id = keyset()
    other, _ = keyset()
    with pytest.raises(tink.TinkError):
        other.decrypt(PrimarySealer(primitive, key_id).seal(b"x", AAD), AAD)


def test_a_wrong_primary_key_id_means_the_public_path() -> None:
    primitive, key_id = keyset()
    sealer = PrimarySealer(primitive, key_id ^ 1)
    assert not sealer.direct
    assert primitive.decrypt(sealer.seal(b"x", AAD), AAD) == b"x"


class _Opaque(aead.Aead):  # type: ignore[misc]
    """An AEAD without Tink's internals (another Tink release, say)."""

    def __init__(self, inner: aead.Aead) -> None:
        self.inner = inner

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes:
        return bytes(self.inner.encrypt(plaintext, associated_data))

    def decrypt(self, ciphertext: bytes, associated_data: bytes) -> bytes:
        return bytes(self.inner.decrypt(ciphertext, associated_data))


class _Mixed(_Opaque):
    """One keyset's internals, another keyset's public encrypt and decrypt."""

    def __init__(self, internals: aead.Aead, public: aead.Aead) -> None:
        super().__init__(public)
        self._primitive_set = internals._primitive_set


def test_internals_that_do_not_match_the_public_decrypt_mean_the_public_path() -> None:
    internals, key_id = keyset()
    public, _ = keyset()
    sealer = PrimarySealer(_Mixed(internals, public), key_id)
    assert not sealer.direct
    assert public.decrypt(sealer.seal(b"x", AAD), AAD) == b"x"


def test_missing_internals_mean_the_public_path() -> None:
    primitive, key_id = keyset()
    sealer = PrimarySealer(_Opaque(primitive), key_id)
    assert not sealer.direct
    sealed = sealer.seal_many([b"a", b"b"], [AAD, AAD])
    assert [primitive.decrypt(s, AAD) for s in sealed] == [b"a", b"b"]


def test_a_failing_short_call_seals_the_batch_again_through_the_public_path() -> None:
    primitive, key_id = keyset()
    sealer = PrimarySealer(primitive, key_id)
    calls: list[Any] = []

    def broken(plaintext: bytes, associated_data: bytes) -> bytes:
        calls.append(plaintext)
        if len(calls) == 2:
            raise RuntimeError("the C++ call failed")
        return b"not a ciphertext"

    sealer._encrypt = broken
    sealed = sealer.seal_many([b"a", b"b", b"c"], [AAD] * 3)
    assert [primitive.decrypt(s, AAD) for s in sealed] == [b"a", b"b", b"c"]


def test_a_failure_of_the_public_path_is_raised_as_tinks_error() -> None:
    primitive, key_id = keyset()
    sealer = PrimarySealer(primitive, key_id)

    def broken(plaintext: bytes, associated_data: bytes) -> bytes:
        raise RuntimeError("the C++ call failed")

    def refused(plaintext: bytes, associated_data: bytes) -> bytes:
        raise tink.TinkError("refused")

    sealer._encrypt, sealer._public = broken, refused
    with pytest.raises(tink.TinkError):
        sealer.seal(b"a", AAD)


def test_a_sequence_of_the_wrong_length_is_refused() -> None:
    primitive, key_id = keyset()
    with pytest.raises(ValueError):
        PrimarySealer(primitive, key_id).seal_many([b"a", b"b"], [AAD])


@pytest.mark.django_db
def test_a_new_primary_key_gets_its_own_sealer() -> None:
    before = category_keys("demographics")
    assert before.sealer.direct
    assert key_id_of(before.sealer.seal(b"x", AAD)) == before.primary_key_id
    new_id = add_primary_key("demographics", actor=Actor.system("test"))
    after = category_keys("demographics")
    assert after.sealer is not before.sealer
    sealed = after.sealer.seal(b"x", AAD)
    assert key_id_of(sealed) == new_id
    assert after.primitive.decrypt(sealed, AAD) == b"x"
