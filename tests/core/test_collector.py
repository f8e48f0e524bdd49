"""``core.collector.fewer_collections``: the collector's settings change inside the block and
come back after it, also after an error and around nested or concurrent blocks."""

from __future__ import annotations

import gc
import threading

import pytest

from studentvault.core.collector import fewer_collections


def test_thresholds_and_freeze_change_inside_and_come_back() -> None:
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    with fewer_collections():
        assert gc.get_threshold()[0] == 100_000
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_an_error_inside_still_restores() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError, match="bad row"), fewer_collections():
        raise RuntimeError("bad row")
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_nested_and_concurrent_blocks_restore_once_at_the_outermost_exit() -> None:
    before = gc.get_threshold()
    inside = threading.Event()
    release = threading.Event()

    def other() -> None:
        with fewer_collections():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    with fewer_collections():
        thread.start()
        assert inside.wait(5)
        with fewer_collections():
            pass
        assert gc.get_threshold()[0] == 100_000  # the inner exit restored nothing
    assert gc.get_threshold()[0] == 100_000  # the other thread's block is still open
    release.set()
    thread.join()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_a_freeze_made_by_someone_else_is_left_alone() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with fewer_collections():
            pass
        # Still frozen (not unfrozen), and nothing newer frozen; frozen objects can still be
        # freed by reference counting, so the count may only have fallen.
        assert 0 < gc.get_freeze_count() <= frozen
    finally:
        gc.unfreeze()
