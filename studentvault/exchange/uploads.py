"""Files uploaded through the staff UI, staged between their preview and their commit.

Invariants:
- only an account that may change some category of some student (``access.policy``, action
  ``change``) may upload; each row is then checked by the engine as for any import (ADR 0071);
- one upload is at most ``IMPORT_MAX_BYTES`` in all (the web view refuses a larger one from its
  declared length, and stops storing a file once the bytes received pass the limit);
- an upload is staged in its own 0700 folder ``run-<preview run id>`` under the staging folder
  (``IMPORT_STAGING_DIR``, default ``STUDENTVAULT_HOME/imports``), each file 0600 under a
  checked name; nothing is imported by staging;
- a staged upload is committed at most once (an exclusive marker file), only by the account that
  uploaded it, only after a preview that passed, and only while its files still have the SHA-256
  the preview recorded: the commit imports exactly the bytes that were previewed;
- the staged files are deleted when the commit job ends, whatever its outcome, or when the
  upload is discarded; the folder then keeps only the marker (run ids, no data). Uploads left
  staged longer than ``IMPORT_STAGING_HOURS`` are deleted at the next upload;
- the preview and the commit are audited by the import service; a refused upload and a discard
  are audited here (``exchange:upload:reject``, ``exchange:import:discard``). Errors name the
  file and what is wrong, never a value from the file.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from django.conf import settings

from studentvault import audit
from studentvault.core.actors import Actor

from .errors import ImportRejected, Problem
from .formats import get_format
from .intake import max_bytes, sha256_of
from .jobs import queue_import
from .models import ImportRun
from .services import new_run

CHANNEL = "web"
MAX_FILES = 40
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# One marker per upload records the one decision taken on it: the commit run's id or
# "discarded". It is created exclusively, so a commit and a discard cannot both win.
DECISION_MARKER = "decision"
DISCARDED = "discarded"
DEFAULT_STAGING_HOURS = 24


class UploadNotFound(LookupError):
    """No staged upload of this account with this id (missing and foreign look the same)."""


def staging_root() -> Path:
    """The folder holding staged uploads (IMPORT_STAGING_DIR or STUDENTVAULT_HOME/imports)."""
    configured = getattr(settings, "IMPORT_STAGING_DIR", "")
    root = Path(configured) if configured else Path(settings.STUDENTVAULT_HOME) / "imports"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root


def _folder(run: ImportRun) -> Path:
    return staging_root() / f"run-{run.pk}"


def _refuse(actor: Actor, format_name: str, problems: list[Problem]) -> ImportRejected:
    audit.record(
        actor=actor,
        action="exchange:upload:reject",
        outcome="failure",
        details={"format": format_name[:40], "channel": CHANNEL, "problem": str(problems[0])[:300]},
    )
    return ImportRejected(problems)


def refuse_upload(
    *, actor: Actor, format_name: str, problem: str, file: str = "upload"
) -> NoReturn:
    """Refuse an upload before anything is staged (audited); raises ImportRejected."""
    raise _refuse(actor, format_name, [Problem(file, None, None, problem)])


def purge_stale(now: float | None = None) -> int:
    """Delete staged files older than IMPORT_STAGING_HOURS; returns how many uploads."""
    hours = int(getattr(settings, "IMPORT_STAGING_HOURS", DEFAULT_STAGING_HOURS))
    cutoff = (now if now is not None else time.time()) - hours * 3600
    purged = 0
    for folder in staging_root().glob("run-*"):
        if (folder / DECISION_MARKER).exists():
            continue  # committed (the job deletes the files) or discarded (already deleted)
        files = _staged_files(folder)
        if files and all(p.stat().st_mtime < cutoff for p in files):
            for path in files:
                path.unlink(missing_ok=True)
            purged += 1
    # A first load's spooled data (exchange.workers) that its import, killed, did not remove.
    for folder in staging_root().glob("spool-*"):
        if folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
    return purged


def upload_preview(
    *,
    actor: Actor,
    format_name: str,
    files: list[tuple[str, Iterable[bytes]]],
    mapping: str | None = None,
) -> ImportRun:
    """Stage uploaded files and start their preview (a dry run) as a job; returns the run.

    Who may call: an account ``access.policy.change_denial`` lets through (the import screens'
    route rule). Raises ImportRejected (audited) for an unknown format, no file, too many files,
    a name that is not a plain file name, two files with one name, or more than
    IMPORT_MAX_BYTES in all; nothing is staged then.
    """
    try:
        get_format(format_name)
    except ValueError as problem:
        raise _refuse(actor, format_name, [Problem("upload", None, None, str(problem))]) from None
    if not files:
        raise _refuse(actor, format_name, [Problem("upload", None, None, "no file was sent")])
    if len(files) > MAX_FILES:
        raise _refuse(
            actor,
            format_name,
            [Problem("upload", None, None, f"{len(files)} files; one upload takes {MAX_FILES}")],
        )
    names = [name for name, _ in files]
    for name in names:
        if not SAFE_NAME.match(name):
            raise _refuse(
                actor,
                format_name,
                [
                    Problem(
                        name[:100] or "(no name)",
                        None,
                        None,
                        "a file name must be letters, digits, '.', '_' or '-' "
                        "(at most 100, not starting with a dot)",
                    )
                ],
            )
        if names.count(name) > 1:
            raise _refuse(actor, format_name, [Problem(name, None, None, "sent twice")])
    purge_stale()
    root = staging_root()
    incoming = Path(tempfile.mkdtemp(prefix="incoming-", dir=root))
    limit = max_bytes()
    total = 0
    try:
        for name, chunks in files:
            fd = os.open(incoming / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    total += len(chunk)
                    if total > limit:
                        raise _refuse(
                            actor,
                            format_name,
                            [
                                Problem(
                                    name,
                                    None,
                                    None,
                                    f"the upload has more than {limit} bytes "
                                    "(IMPORT_MAX_BYTES); nothing was stored",
                                )
                            ],
                        )
                    handle.write(chunk)
    except BaseException:
        shutil.rmtree(incoming, ignore_errors=True)
        raise
    run = new_run(
        actor=actor, format_name=format_name, dry_run=True, mapping=mapping, channel=CHANNEL
    )
    folder = _folder(run)
    # A folder of that name can only be left from a database that was replaced (run ids
    # start again); it belongs to no run of this one.
    shutil.rmtree(folder, ignore_errors=True)
    incoming.rename(folder)
    return queue_import(
        actor=actor,
        format_name=format_name,
        paths=[folder / name for name in names],
        dry_run=True,
        mapping=mapping,
        channel=CHANNEL,
        run=run,
    )


@dataclass(frozen=True)
class StagedUpload:
    """What is left of an upload: whether its files are staged, and its commit if any."""

    preview: ImportRun
    staged: bool
    commit_run_id: int | None
    discarded: bool

    @property
    def can_commit(self) -> bool:
        return (
            self.staged
            and self.commit_run_id is None
            and not self.discarded
            and self.preview.status == ImportRun.Status.PREVIEWED
        )

    @property
    def can_discard(self) -> bool:
        return self.commit_run_id is None and not self.discarded


def _staged_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name != DECISION_MARKER)


def staged_upload(run: ImportRun) -> StagedUpload | None:
    """The staged state of a web preview run (None for any other run)."""
    if run.channel != CHANNEL or not run.dry_run:
        return None
    folder = _folder(run)
    marker = folder / DECISION_MARKER
    decision = marker.read_text(encoding="ascii").strip() if marker.exists() else ""
    return StagedUpload(
        preview=run,
        staged=bool(_staged_files(folder)),
        commit_run_id=int(decision) if decision.isdigit() else None,
        discarded=decision == DISCARDED,
    )


def _decide(folder: Path) -> int | None:
    """Create the decision marker; None when a decision was taken already."""
    try:
        return os.open(folder / DECISION_MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None


def _own_preview(actor: Actor, run_id: int) -> tuple[ImportRun, StagedUpload]:
    run = ImportRun.objects.filter(pk=run_id, actor_id=actor.id, channel=CHANNEL).first()
    state = staged_upload(run) if run is not None else None
    if run is None or state is None:
        raise UploadNotFound(run_id)
    return run, state


def commit_upload(*, actor: Actor, run_id: int) -> ImportRun:
    """Commit a previewed upload as a job (once); returns the commit run.

    Who may call: the account that uploaded it (others get UploadNotFound). Raises
    ImportRejected (audited) when the upload was already committed or discarded, its preview
    did not pass, or its files are not exactly those of the preview (names and SHA-256).
    """
    preview, state = _own_preview(actor, run_id)
    fmt = preview.format

    def refuse(why: str, file: str = "upload") -> NoReturn:
        refuse_upload(
            actor=actor,
            format_name=fmt,
            problem=f"upload {run_id} cannot be committed: {why}",
            file=file,
        )

    if state.commit_run_id is not None:
        refuse("it was already committed")
    if state.discarded:
        refuse("it was discarded")
    if preview.status != ImportRun.Status.PREVIEWED:
        refuse("its preview did not pass")
    folder = _folder(preview)
    paths = _staged_files(folder)
    recorded = {str(f["name"]): str(f["sha256"]) for f in preview.files}
    if sorted(p.name for p in paths) != sorted(recorded):
        refuse("its files are no longer those of the preview")
    for path in paths:
        if sha256_of(path) != recorded[path.name]:
            refuse("the file changed since its preview (SHA-256 differs)", file=path.name)
    fd = _decide(folder)
    if fd is None:
        refuse("it was already committed or discarded")
    try:
        run = new_run(
            actor=actor, format_name=fmt, dry_run=False, mapping=preview.mapping, channel=CHANNEL
        )
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(str(run.pk))
    except BaseException:
        (folder / DECISION_MARKER).unlink(missing_ok=True)
        raise
    return queue_import(
        actor=actor,
        format_name=fmt,
        paths=paths,
        dry_run=False,
        mapping=preview.mapping or None,
        channel=CHANNEL,
        run=run,
        remove_after=paths,
    )


def discard_upload(*, actor: Actor, run_id: int) -> None:
    """Delete the staged files of an upload that was not committed; audited.

    Who may call: the account that uploaded it (others get UploadNotFound). Raises
    ImportRejected (audited) when the upload was committed or already discarded.
    """
    preview, state = _own_preview(actor, run_id)
    folder = _folder(preview)
    fd = _decide(folder) if state.commit_run_id is None and not state.discarded else None
    if fd is None:
        why = "it was committed" if state.commit_run_id is not None else "it was discarded"
        refuse_upload(
            actor=actor,
            format_name=preview.format,
            problem=f"upload {run_id} cannot be discarded: {why}",
        )
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(DISCARDED)
    for path in _staged_files(folder):
        path.unlink(missing_ok=True)
    audit.record(
        actor=actor,
        action="exchange:import:discard",
        target=f"import:{preview.pk}",
        details={"format": preview.format, "files": len(preview.files)},
    )
