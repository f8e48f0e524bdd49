"""Long imports as jobs: a Celery task over Redis when a broker is set, inline otherwise.

With ``CELERY_TASK_ALWAYS_EAGER`` (no ``CELERY_BROKER_URL``) the task runs in the caller's
process and the caller's progress callback sees every batch. With a broker, the worker runs the
import and the caller polls ``ImportRun`` (status, ``rows_done``) until it is finished.

Invariants:
- the ``ImportRun`` exists (status running) before the job is queued, so a caller can always
  show or poll it; the worker writes the outcome into that same row;
- a job that ends in an unexpected error leaves the run ``failed`` (nothing stored: the run's
  transaction rolled back) with an audit entry ``exchange:import:fail``, never ``running``;
- files named in ``remove_after`` are deleted when the job ends, whatever its outcome.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from studentvault import audit
from studentvault.core.actors import Actor, ActorKind

from .models import ImportRun
from .services import import_files, new_run

POLL_SECONDS = 1.0

log = logging.getLogger(__name__)


def _actor_payload(actor: Actor) -> dict[str, object]:
    return {
        "kind": actor.kind.value,
        "id": actor.id,
        "username": actor.username,
        "role": actor.role,
        "extra": dict(actor.extra),
    }


def actor_from_payload(payload: dict[str, object]) -> Actor:
    """The actor a job acts for, rebuilt from the task's arguments."""
    extra = payload.get("extra") or {}
    assert isinstance(extra, dict)
    return Actor(
        kind=ActorKind(str(payload["kind"])),
        id=str(payload["id"]),
        username=str(payload["username"]),
        role=str(payload["role"]),
        extra={str(k): str(v) for k, v in extra.items()},
    )


def jobs_inline() -> bool:
    """True when no broker is configured and jobs run in the caller's process."""
    return bool(getattr(settings, "CELERY_TASK_ALWAYS_EAGER", True))


def run_job(
    *,
    run: ImportRun,
    actor: Actor,
    format_name: str,
    paths: list[Path],
    dry_run: bool,
    mapping: str | None,
    remove_after: list[Path] | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> ImportRun:
    """Run one import job in this process (the worker's body, or inline without a broker)."""
    try:
        return import_files(
            actor=actor,
            format_name=format_name,
            paths=paths,
            dry_run=dry_run,
            mapping=mapping,
            channel=run.channel,
            progress=progress,
            run=run,
        )
    except Exception as problem:  # the run must not stay "running"
        # The message of a database error can quote a value from the file: only its type is
        # logged and stored.
        kind = type(problem).__name__
        log.error("import run %s failed: %s", run.pk, kind)
        ImportRun.objects.filter(pk=run.pk).update(
            status=ImportRun.Status.FAILED,
            finished_at=timezone.now(),
            added=0,
            changed=0,
            unchanged=0,
            report={
                "format": format_name,
                "files": [],
                "problems": [
                    {
                        "file": ", ".join(p.name for p in paths),
                        "line": None,
                        "field": None,
                        "problem": f"the job failed ({kind}); nothing was stored",
                    }
                ],
            },
        )
        audit.record(
            actor=actor,
            action="exchange:import:fail",
            outcome="failure",
            target=f"import:{run.pk}",
            details={"format": format_name, "error": kind, "dry_run": dry_run},
        )
        run.refresh_from_db()
        return run
    finally:
        for path in remove_after or []:
            path.unlink(missing_ok=True)


def queue_import(
    *,
    actor: Actor,
    format_name: str,
    paths: list[Path],
    dry_run: bool,
    mapping: str | None = None,
    channel: str = "cli",
    run: ImportRun | None = None,
    remove_after: list[Path] | None = None,
) -> ImportRun:
    """Start an import job and return its run without waiting for a worker.

    Inline (no broker) the run is finished when this returns; with a broker it is ``running``
    and a Celery worker fills it in. The caller polls ``ImportRun`` for the outcome.
    """
    if run is None:
        run = new_run(
            actor=actor, format_name=format_name, dry_run=dry_run, mapping=mapping, channel=channel
        )
    if jobs_inline():
        return run_job(
            run=run,
            actor=actor,
            format_name=format_name,
            paths=paths,
            dry_run=dry_run,
            mapping=mapping,
            remove_after=remove_after,
        )
    from .tasks import import_task

    # The job id is stored before the task is sent: the worker then reads and rewrites a run
    # that already has it (an update after sending could race the worker's own save).
    job_id = str(uuid.uuid4())
    ImportRun.objects.filter(pk=run.pk).update(job_id=job_id)
    run.job_id = job_id
    import_task.apply_async(
        args=(
            run.pk,
            _actor_payload(actor),
            format_name,
            [str(p) for p in paths],
            dry_run,
            mapping,
            [str(p) for p in remove_after or []],
        ),
        task_id=job_id,
    )
    return run


def start_import(
    *,
    actor: Actor,
    format_name: str,
    paths: list[Path],
    dry_run: bool,
    mapping: str | None = None,
    channel: str = "cli",
    progress: Callable[[str, int], None] | None = None,
) -> ImportRun:
    """Run the import inline, or queue it on Celery and wait, showing progress from ImportRun."""
    if jobs_inline():
        return import_files(
            actor=actor,
            format_name=format_name,
            paths=paths,
            dry_run=dry_run,
            mapping=mapping,
            channel=channel,
            progress=progress,
        )
    run = queue_import(
        actor=actor,
        format_name=format_name,
        paths=paths,
        dry_run=dry_run,
        mapping=mapping,
        channel=channel,
    )
    done = 0
    while True:
        run.refresh_from_db()
        if progress and run.rows_done > done:
            progress(format_name, run.rows_done - done)
            done = run.rows_done
        if run.status != ImportRun.Status.RUNNING:
            return run
        time.sleep(POLL_SECONDS)
