"""Fixtures of the access tests (the world itself is built in access_world.py)."""

from access_world import audit_events, fast_hashing, world

__all__ = ["audit_events", "fast_hashing", "world"]
