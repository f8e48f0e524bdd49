"""The base of every student data model.

Every record carries ``row_uid``, an immutable random identifier fixed when the object is made
(before ``bulk_create`` knows the primary key). Encrypted fields bind their ciphertext to it, so
a value copied into another row does not decrypt. Loading a row opens its encrypted fields
(``from_db``); saving keeps blind indexes in step with their sources.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from typing import Any, Self

from django.db import models

from studentvault.crypto.blind_index import with_blind_indexes
from studentvault.crypto.fields import open_sealed_fields


class Record(models.Model):
    """A row of the student data model.

    Its string form names only the kind of record and its row number: it reaches logs and error
    messages, so it must never carry a name, an identifier or any other value.
    """

    row_uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"

    def save(self, *args: Any, update_fields: Iterable[str] | None = None, **kwargs: Any) -> None:
        if update_fields is not None:
            update_fields = with_blind_indexes(type(self), update_fields)
        super().save(*args, update_fields=update_fields, **kwargs)

    @classmethod
    def from_db(
        cls, db: str | None, field_names: Collection[str], values: Collection[Any], **kwargs: Any
    ) -> Self:
        instance = super().from_db(db, field_names, values, **kwargs)
        open_sealed_fields(instance)
        return instance
