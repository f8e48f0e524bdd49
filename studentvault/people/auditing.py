"""The one seam through which people and access write audit entries.

Entries go out as ``core.events.security_event``; the audit app's receiver
(``studentvault.audit.receivers.record_security_event``) appends each one to the hash-chained
log, taking ``students``, ``categories``, ``purpose`` and ``target`` from the event. A direct
call of ``studentvault.audit.record`` would be the one line marked below. A receiver that fails
makes the caller fail, so an operation that must be audited does not go on unaudited.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from studentvault.core.actors import Actor
from studentvault.core.events import emit


def record(
    *,
    actor: Actor,
    action: str,
    outcome: str = "success",
    students: Iterable[int] = (),
    categories: Iterable[str] = (),
    purpose: str = "",
    target: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """Append one audit entry (``action`` is ``source:subject:action``); never pass PII."""
    # One-line switch when the audit module lands:
    #   from studentvault.audit import record as _record; _record(actor=..., ...)
    emit(
        actor=actor,
        action=action,
        outcome=outcome,
        students=sorted(int(s) for s in students),
        categories=sorted(str(c) for c in categories),
        purpose=purpose,
        target=target,
        **(details or {}),
    )
