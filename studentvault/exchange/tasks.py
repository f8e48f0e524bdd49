"""Celery tasks of the exchange app (see ``jobs``)."""

from __future__ import annotations

from pathlib import Path

from celery import shared_task

from .models import ImportRun


@shared_task(name="exchange.import")  # type: ignore[untyped-decorator]
def import_task(
    run_id: int,
    actor: dict[str, object],
    format_name: str,
    paths: list[str],
    dry_run: bool,
    mapping: str | None,
    remove_after: list[str] | None = None,
) -> str:
    """Run one import for the actor the caller signed in as; returns the final status."""
    from .jobs import actor_from_payload, run_job

    run = ImportRun.objects.get(pk=run_id)
    done = run_job(
        run=run,
        actor=actor_from_payload(actor),
        format_name=format_name,
        paths=[Path(p) for p in paths],
        dry_run=dry_run,
        mapping=mapping,
        remove_after=[Path(p) for p in remove_after or []],
    )
    return str(done.status)
