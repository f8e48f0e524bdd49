"""The API tests use the synthetic world of the access tests, plus assessment rows."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "access"))

from access_world import audit_events, fast_hashing, world

__all__ = ["audit_events", "fast_hashing", "world"]
