"""Stored key material (always wrapped by the KEK) and the state of key rotations."""

from __future__ import annotations

from django.db import models


class Keyset(models.Model):
    """A Tink keyset of one data category, or the blind-index root key, wrapped by the KEK.

    ``wrapped`` is never plaintext key material: it is Tink's encrypted keyset (or, for the
    blind-index root, the KEK-wrapped 32 bytes), authenticated under the keyset's name, so a
    wrapped keyset copied to another name does not unwrap. ``version`` grows on every change so
    processes know when their cached copy is stale.
    """

    class Purpose(models.TextChoices):
        FIELD_ENCRYPTION = "aead", "Field encryption (Tink AEAD, AES-256-GCM)"
        BLIND_INDEX = "blind_index", "Blind-index root (HMAC-SHA-256 keys derived by HKDF)"

    name = models.CharField(max_length=64, unique=True)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    wrapped = models.BinaryField()
    kek_id = models.CharField(max_length=200, help_text="The master key that wraps this keyset")
    primary_key_id = models.BigIntegerField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"keyset {self.name} v{self.version}"


class RotationJob(models.Model):
    """One rotation of a category's data key: which key is new, which are old, how far it got.

    ``progress`` maps "table.column" of every encrypted column of the category to the last
    primary key re-encrypted, saved in the same transaction as each batch, so an interrupted
    rotation resumes where it stopped.
    """

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished (old keys retired)"

    category = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.RUNNING)
    new_key_id = models.BigIntegerField()
    old_key_ids = models.JSONField(default=list)
    progress = models.JSONField(default=dict)
    rows_reencrypted = models.BigIntegerField(default=0)
    batches = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["category"],
                condition=models.Q(state="running"),
                name="one_running_rotation_per_category",
            )
        ]

    def __str__(self) -> str:
        return f"rotation of {self.category} ({self.state})"
