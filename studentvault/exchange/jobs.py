"""Long imports as jobs: a Celery task over Redis when a broker is set, inline otherwise.

With ``CELERY_TASK_ALWAYS_EAGER`` (no ``CELERY_BROKER_URL``) the task runs in the caller's
process and the caller's progress callback sees every batch. With a broker, the worker runs the
import and the caller polls ``ImportRun`` (status, ``rows_done``) until it is finished.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from studentvault.core.actors import Actor, ActorKind

from .models import ImportRun
from .services import import_files

POLL_SECONDS = 1.0


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
    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", True):
        return import_files(
            actor=actor,
            format_name=format_name,
            paths=paths,
            dry_run=dry_run,
            mapping=mapping,
            channel=channel,
            progress=progress,
        )
    from .tasks import import_task

    run = ImportRun.objects.create(
        actor_id=actor.id,
        actor_username=actor.username,
        format=format_name,
        dry_run=dry_run,
        channel=channel,
        mapping=mapping or "",
    )
    result = import_task.delay(
        run.pk, _actor_payload(actor), format_name, [str(p) for p in paths], dry_run, mapping
    )
    ImportRun.objects.filter(pk=run.pk).update(job_id=str(result.id))
    done = 0
    while True:
        run.refresh_from_db()
        if progress and run.rows_done > done:
            progress(format_name, run.rows_done - done)
            done = run.rows_done
        if run.status != ImportRun.Status.RUNNING:
            return run
        time.sleep(POLL_SECONDS)
