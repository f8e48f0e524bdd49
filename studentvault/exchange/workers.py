"""Worker processes for a first load: two student-record files parsed, checked and sealed at once,
beside the parent, which sends each finished file to the server in its own transaction.

The importer's work (parsing, checking, sealing, blind indexes, COPY encoding) does not share a
core: Tink holds the GIL (docs/adr/0081, 0082). In a first load, once the organizations and the
students are in, a file of student records needs nothing from the database: every row is new
and names a student this run created, which the engine holds in memory
(``Engine.spoolable``). Such a file can be applied in a forked child with a copy of the engine,
its COPY data written to a file (``bulk.SpoolStreams``), while the parent sends the previous
file's data.

Invariants:
- The database sees exactly what the serial loop would send: for each file, in file order, its
  rows as binary COPY data on the parent's connection and in its transaction (``bulk.replay``),
  so all-or-nothing and the first-load checks (docs/adr/0080) hold as before. The engine's
  results (counts, problems, preview, touched students and categories, the new students'
  categories) are merged in file order (``Engine.merge``), as ``apply`` would have left them.
- A child never sends anything on the inherited connection: every statement raises
  ``bulk.NeedsDatabase`` before it is sent; it holds the keysets its parent cached
  (``crypto.keysets.pin_cached``), and the COPY column types are taken by the parent. It ends
  with ``os._exit``, so no finalizer of the inherited connection runs in it.
- A child that needs the database, raises or dies hands its file back: the parent applies the
  file itself, from the start, as the serial loop would have. The child's results and data are
  dropped. So nothing a child does can make the outcome differ from the serial one.
- Files that cannot go to a child (organizations, students, any file outside a first load) are
  applied by the parent, after every earlier child's file is in.
- The spooled data (ciphertexts, blind indexes and the rows' plain columns) lives in a private
  folder (0700) under the staging folder of uploads (docs/adr/0078) and is removed when the
  loop ends, whatever the outcome.
- On SQLite, where ``os.fork`` is missing, in a process with more than one thread, or with
  ``IMPORT_WORKERS = 0``, every file is applied by the parent.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection

from studentvault.crypto.blind_index import BlindIndexField
from studentvault.crypto.fields import EncryptedMixin
from studentvault.crypto.keysets import blind_index_root, category_keys, pin_cached

from . import bulk, first_load
from .engine import CanonicalFile, Engine, WorkerResults

log = logging.getLogger(__name__)
# Children at once when IMPORT_WORKERS is not set.
DEFAULT_WORKERS = 2
_RESULT = "result.pickle"
# The threads of this process (a name of its own, for the tests: pytest-xdist runs threads).
_threads = threading.active_count
# How often the importer looks for ended children while it has nothing else to do.
_POLL_SECONDS = 0.005


@dataclass
class _Child:
    pid: int
    folder: Path
    source: CanonicalFile
    status: int | None = None  # the wait status, once the child has ended

    def poll(self) -> None:
        """Note the child's end if it has ended (never waits; reaps only this child)."""
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status


def worker_count() -> int:
    """How many children may run at once (0: the parent applies every file).

    Only a process with one thread forks: a lock another thread held at the fork (the keyset
    cache's, say) would stay held in the child for ever. The command line, the bench and a
    Celery prefork worker's task process have one; the web server's process and the SFTP
    gateway's import threads do not, and there the importer applies every file itself.
    """
    if connection.vendor != "postgresql" or not hasattr(os, "fork"):
        return 0
    if _threads() != 1:
        return 0
    return max(0, int(getattr(settings, "IMPORT_WORKERS", DEFAULT_WORKERS)))


def apply_all(
    engine: Engine, sources: Iterable[CanonicalFile], rebuild: first_load.Rebuild | None = None
) -> None:
    """Apply ``sources`` in order, as ``engine.apply`` on each would, stopping after the first
    file with a problem (``engine.failed``); files ``engine.spoolable`` accepts go to children.

    At most ``worker_count()`` children run at once. A child that has ended waits, its data on
    disk, until every earlier file is in; meanwhile the next files' children run, so a long
    file does not leave a core idle. While the importer waits for a child it adds back, with
    ``rebuild``, the indexes and constraints of tables whose files are all in.
    """
    loop = _Loop(engine, rebuild, worker_count())
    try:
        for number, source in enumerate(sources):
            if loop.workers and engine.spoolable(source):
                loop.merge_ended(running_below=loop.workers)
                if engine.failed:
                    return
                loop.start(source, number)
                continue
            loop.merge_ended(running_below=None)
            if engine.failed:
                return
            engine.apply(source)
            loop.done.add(_table(source))
            if engine.failed:
                return
        loop.merge_ended(running_below=None)
    finally:
        loop.close()


def _table(source: CanonicalFile) -> str:
    return str(source.spec.model._meta.db_table)


class _Loop:
    """The children of one ``apply_all``, in file order, and the tables whose files are in."""

    def __init__(self, engine: Engine, rebuild: first_load.Rebuild | None, workers: int) -> None:
        self.engine = engine
        self.rebuild = rebuild
        self.workers = workers
        self.started: deque[_Child] = deque()  # in file order, not merged yet
        self.done: set[str] = set()  # tables of the files applied or merged so far
        self.root: Path | None = None

    def start(self, source: CanonicalFile, number: int) -> None:
        if self.root is None:
            self.root = _spool_root()
        self.started.append(_start(self.engine, source, self.root / f"{number:04d}"))

    def merge_ended(self, *, running_below: int | None) -> None:
        """Wait until fewer than ``running_below`` children run or, with None, until every
        child is merged; meanwhile merge the ended children at the head of ``started`` (in file
        order) and add back what ``rebuild`` can. Starting a child comes first: it returns as
        soon as one may start. Returns at once after a file with a problem."""
        engine = self.engine
        while not engine.failed:
            for child in self.started:
                child.poll()
            if running_below is not None:
                if sum(1 for child in self.started if child.status is None) < running_below:
                    return
            elif not self.started:
                return
            if self.started and self.started[0].status is not None:
                child = self.started.popleft()
                _finish(engine, child)
                self.done.add(_table(child.source))
            elif not self._add_back_one():
                time.sleep(_POLL_SECONDS)

    def _add_back_one(self) -> bool:
        """Add back one index or constraint of a table no child still writes to, if any is
        left (a later file writing to it again is checked row by row: slower, not wrong)."""
        if self.rebuild is None:
            return False
        writing = {_table(child.source) for child in self.started}
        return self.rebuild.add_back_one(self.done - writing)

    def close(self) -> None:
        for child in self.started:  # after a problem: their files are not wanted
            _end(child)
        self.started.clear()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)


def _spool_root() -> Path:
    """A new private folder (0700) under the staging folder of uploads."""
    from .uploads import staging_root  # here: uploads imports jobs, which imports services

    return Path(tempfile.mkdtemp(prefix="spool-", dir=staging_root()))


def _start(engine: Engine, source: CanonicalFile, folder: Path) -> _Child:
    """Fork a child that applies ``source`` with a copy of ``engine`` into ``folder``."""
    folder.mkdir(mode=0o700)
    model = source.spec.model
    types = bulk.spool_types(model)
    # What the child needs from the database, fetched here (and so cached) before the fork.
    for f in model._meta.concrete_fields:
        if isinstance(f, EncryptedMixin) and f.category is not None:
            category_keys(f.category)
        elif isinstance(f, BlindIndexField):
            blind_index_root()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        status = 1
        try:
            _child(engine, source, folder, types)
            status = 0
        finally:
            os._exit(status)
    return _Child(pid=pid, folder=folder, source=source)


def _child(
    engine: Engine,
    source: CanonicalFile,
    folder: Path,
    types: dict[tuple[str, tuple[str, ...]], list[int]],
) -> None:
    pin_cached()
    streams = bulk.SpoolStreams(folder, types)
    engine.for_worker(streams)
    outcome: tuple[WorkerResults, list[tuple[str, list[str], Path]]] | str
    try:
        engine.apply(source)
        outcome = (engine.results(), streams.spooled)
    except bulk.NeedsDatabase as needs:
        outcome = f"needs the database ({needs})"
    except Exception as error:  # the parent applies the file itself
        outcome = f"stopped ({type(error).__name__})"
    with (folder / _RESULT).open("xb") as handle:
        pickle.dump(outcome, handle, protocol=pickle.HIGHEST_PROTOCOL)


def _finish(engine: Engine, child: _Child) -> None:
    """Send an ended ``child``'s rows and merge its results, or apply its file here."""
    status = child.status
    assert status is not None
    outcome = None
    result = child.folder / _RESULT
    if os.waitstatus_to_exitcode(status) == 0 and result.exists():
        with result.open("rb") as handle:
            # Written by our own child into a folder only this process's user can read.
            outcome = pickle.load(handle)  # noqa: S301
    if isinstance(outcome, tuple):
        results, spooled = outcome
        for table, names, path in spooled:
            bulk.replay(table, names, path)
            path.unlink()
        engine.merge(results)
        if engine.progress:
            engine.progress(child.source.name, sum(c.rows for c in results.counts))
    else:
        why = outcome if isinstance(outcome, str) else f"ended with status {status}"
        log.info("%s applied by the importer itself: its worker %s", child.source.name, why)
        engine.apply(child.source)
    shutil.rmtree(child.folder, ignore_errors=True)


def _end(child: _Child) -> None:
    """Stop a child whose file is no longer wanted."""
    if child.status is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGKILL)
        os.waitpid(child.pid, 0)
