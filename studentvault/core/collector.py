"""Fewer garbage collections while a bulk job builds millions of objects.

A large import allocates millions of objects (parsed rows, model instances, sealed values). The
collector counts those allocations and runs its full collection over every tracked object again
and again, so its cost grows faster than the file: at 300,000 students it took a third of the
importer's CPU (docs/adr/0077). ``fewer_collections()`` changes two things for the duration of
a block:

- ``gc.freeze()``: the objects that already exist (modules, settings, caches) leave the
  collector's view. They are not garbage.
- A higher first threshold: young collections run every 100,000 net allocations, not 700, and
  full ones hardly at all.

Reference counting still frees everything that is not in a cycle at once. Cycles made inside
the block wait for the next collection, which runs after the block at the latest. The settings
are process-wide; the outermost block restores them (thread-safe, nestable). It unfreezes only
what it froze itself.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_BULK_THRESHOLDS = (100_000, 50, 1_000)

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, int, int] | None = None
_froze = False


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the block with the collector mostly paused (see the module's text)."""
    global _depth, _saved, _froze
    with _lock:
        if _depth == 0:
            _saved = gc.get_threshold()
            _froze = gc.get_freeze_count() == 0
            if _froze:
                gc.freeze()
            gc.set_threshold(*_BULK_THRESHOLDS)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                assert _saved is not None
                gc.set_threshold(*_saved)
                if _froze:
                    gc.unfreeze()
                _saved, _froze = None, False
