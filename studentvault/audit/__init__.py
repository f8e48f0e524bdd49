"""The tamper-evident audit log (hash-chained, signed checkpoints) and the FERPA disclosure record.

Import the writer as ``from studentvault.audit import record`` (or ``audit.record``); it is
loaded on first call so this package can be imported before Django's apps are ready.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from studentvault.core.actors import Actor
from studentvault.core.categories import DataCategory

if TYPE_CHECKING:
    from .models import AuditEntry


def record(
    *,
    actor: Actor,
    action: str,
    outcome: str = "success",
    students: Sequence[int] = (),
    categories: Sequence[DataCategory | str] = (),
    purpose: str = "",
    target: str = "",
    details: Mapping[str, str | int | bool | None] | None = None,
    occurred_at: datetime | None = None,
) -> AuditEntry:
    """Append one entry to the audit log: see ``studentvault.audit.writer.record``."""
    from .writer import record as write

    return write(
        actor=actor,
        action=action,
        outcome=outcome,
        students=students,
        categories=categories,
        purpose=purpose,
        target=target,
        details=details,
        occurred_at=occurred_at,
    )


__all__ = ["record"]
