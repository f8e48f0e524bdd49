"""The base of every student data model."""

from __future__ import annotations

from django.db import models


class Record(models.Model):
    """A row of the student data model.

    Its string form names only the kind of record and its row number: it reaches logs and error
    messages, so it must never carry a name, an identifier or any other value.
    """

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"
