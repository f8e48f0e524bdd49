"""Security events raised by low layers (crypto) and recorded by the audit module.

The layers go one way (core <- crypto <- audit <- ...), so crypto cannot call audit. It sends
``security_event`` instead; the audit app connects a receiver at start-up that appends each
event to the tamper-evident log. A receiver that fails makes the sender fail: an operation
that must be audited does not go on unaudited.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import Signal

from .actors import Actor

# Sent with: actor (Actor), action (str, "source:subject:action", e.g. "crypto:key:rotate"),
# outcome ("success" | "failure"), details (dict of non-PII facts).
security_event = Signal()


def emit(*, actor: Actor, action: str, outcome: str = "success", **details: Any) -> None:
    """Send a security event; errors from receivers propagate to the caller."""
    security_event.send(sender=None, actor=actor, action=action, outcome=outcome, details=details)
