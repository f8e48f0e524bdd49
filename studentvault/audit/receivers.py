"""The receiver that writes ``core.events.security_event`` signals into the audit log.

Senders below the audit layer (crypto, and people/access through their seam) pass the entry's
facts as keywords of ``emit``; ``students``, ``categories``, ``purpose`` and ``target`` become
the entry's own fields, everything else its details (lists joined with commas).

Invariant: an event that cannot be recorded raises, so the sender's operation fails too
(``core.events`` sends with ``send``, not ``send_robust``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from studentvault.core.actors import Actor

from .writer import AuditError, DetailValue, record


def _plain(value: Any) -> DetailValue:
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(str(v) for v in value)
    return str(value)


def _students(value: Any) -> list[int]:
    if value is None:
        return []
    if not isinstance(value, Iterable) or isinstance(value, str | bytes):
        raise AuditError(f"security event students must be a list of integers, not {value!r}")
    return [int(s) for s in value]


def record_security_event(
    sender: object,
    *,
    actor: Actor,
    action: str,
    outcome: str = "success",
    details: Mapping[str, Any] | None = None,
    **_: Any,
) -> None:
    """Append one security event (key operation, decrypt failure, sign-in...) to the log."""
    facts = dict(details or {})
    students = _students(facts.pop("students", None))
    categories = [str(c) for c in facts.pop("categories", None) or ()]
    purpose = str(facts.pop("purpose", "") or "")
    target = str(facts.pop("target", "") or "")
    record(
        actor=actor,
        action=action,
        outcome=outcome,
        students=students,
        categories=categories,
        purpose=purpose,
        target=target,
        details={key: _plain(value) for key, value in facts.items()},
    )
