"""Errors of the crypto layer. None of their messages ever carries a value or key material."""

from __future__ import annotations


class CryptoError(Exception):
    """Base class of every error raised by studentvault.crypto."""


class KeyProviderError(CryptoError):
    """The master key (KEK) provider cannot be used: missing file, bad permissions, KMS error."""


class KeysetError(CryptoError):
    """A keyset is missing, cannot be unwrapped with the current KEK, or is inconsistent."""


class DecryptionFailed(CryptoError):
    """A stored value did not decrypt: wrong row, wrong column, tampered or unknown key.

    Names the table, the column and the row number, never the value. Reading fails closed: the
    caller gets this error instead of ciphertext or anybody else's data.
    """

    def __init__(self, *, table: str, column: str, row: object) -> None:
        super().__init__(
            f"encrypted value of {table}.{column} in row {row} failed to decrypt "
            "(tampered, moved from another row, or its key is gone); the read was refused"
        )
        self.table, self.column, self.row = table, column, row


class EncryptedFieldMisuse(CryptoError):
    """An encrypted field was used in a way that would store or compare plaintext."""


class DatabaseKeyError(CryptoError):
    """The embedded database file cannot be opened with the key derived from the KEK."""


class BackupError(CryptoError):
    """A backup file is tampered, truncated, for another master key, or cannot be restored."""
