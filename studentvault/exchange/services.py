"""Import services: receive -> validate -> preview -> commit, with history and audit.

Invariants:
- each run is one transaction: every file of the run commits, or nothing does (a dry run always
  rolls back, after computing exactly what a commit would do, authorization included);
- the run is recorded in ``ImportRun`` whatever the outcome: who, when, format, file names with
  SHA-256 and size, counts and the error report (file, line, field, kind of value, why);
- a commit writes ``exchange:import:commit`` audit entries in the same transaction, with the
  counts, file hashes, the data categories changed and the ids of the students added or changed
  (in parts of at most ``AUDIT_STUDENTS_PER_ENTRY`` ids); a preview writes
  ``exchange:import:preview`` and a refusal ``exchange:import:reject`` (no student ids);
- the actor's rights are applied by the engine (``access.policy``); the service adds none.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from studentvault import audit
from studentvault.core.actors import Actor
from studentvault.core.collector import fewer_collections

from . import first_load, workers
from .engine import Engine
from .errors import ImportRejected, Problem
from .formats import FormatOptions, get_format
from .intake import receive
from .models import ColumnMapping, ImportRun

AUDIT_STUDENTS_PER_ENTRY = 5000


class _DryRun(Exception):
    """Raised inside the transaction of a dry run so that it rolls back."""


def _options(format_name: str, mapping: str | None) -> FormatOptions:
    if not mapping:
        return FormatOptions()
    saved = ColumnMapping.objects.filter(format=format_name, name=mapping).first()
    if saved is None:
        raise ImportRejected(
            [Problem(mapping, None, None, f"no saved column mapping of format {format_name!r}")]
        )
    return FormatOptions(columns=dict(saved.columns), options=dict(saved.options))


def mapping_save(
    *, actor: Actor, format_name: str, name: str, columns: dict[str, str], options: dict[str, Any]
) -> ColumnMapping:
    """Save (or replace) a custom column mapping for a format; audited."""
    get_format(format_name)
    with transaction.atomic():
        saved, _ = ColumnMapping.objects.update_or_create(
            format=format_name,
            name=name,
            defaults={"columns": columns, "options": options, "created_by": actor.username},
        )
        audit.record(
            actor=actor,
            action="exchange:mapping:save",
            target=f"mapping:{saved.pk}",
            details={"format": format_name, "name": name, "columns": len(columns)},
        )
    return saved


def new_run(
    *, actor: Actor, format_name: str, dry_run: bool, mapping: str | None, channel: str
) -> ImportRun:
    """The ``ImportRun`` row of a job about to start (status running)."""
    return ImportRun.objects.create(
        actor_id=actor.id,
        actor_username=actor.username,
        format=format_name,
        dry_run=dry_run,
        channel=channel,
        mapping=mapping or "",
    )


def import_files(
    *,
    actor: Actor,
    format_name: str,
    paths: list[Path],
    dry_run: bool = False,
    mapping: str | None = None,
    channel: str = "cli",
    progress: Callable[[str, int], None] | None = None,
    run: ImportRun | None = None,
) -> ImportRun:
    """Import ``paths`` in ``format_name`` for ``actor``: all or nothing, recorded and audited.

    Who may call: any actor; rows outside the actor's change rights are refused by the engine.
    Returns the ``ImportRun`` (status committed, previewed or rejected); never raises for bad
    input, which is reported in ``run.report["problems"]``.
    """
    fmt = get_format(format_name)
    if run is None:
        run = new_run(
            actor=actor, format_name=format_name, dry_run=dry_run, mapping=mapping, channel=channel
        )
    report: dict[str, Any] = {"files": [], "problems": [], "preview": [], "format": format_name}
    engine = Engine(actor=actor, progress=progress)
    try:
        options = _options(format_name, mapping)
        expanded = fmt.expand(paths)
        if not expanded:
            raise ImportRejected([Problem(", ".join(map(str, paths)), None, None, "no files")])
        received = [receive(p, text=fmt.text) for p in expanded]
        run.files = [{"name": r.name, "sha256": r.sha256, "bytes": r.size} for r in received]
        run.save(update_fields=["files"])
        with fewer_collections(), transaction.atomic():
            with first_load.checked_once() as rebuild:
                engine.first_load = rebuild is not None
                workers.apply_all(engine, fmt.canonical_files(received, options), rebuild)
                if engine.failed:
                    raise ImportRejected(engine.problems)
            engine.check_new_students()
            if engine.failed:
                raise ImportRejected(engine.problems)
            _fill(run, engine, report)
            if dry_run:
                raise _DryRun
            _audit_commit(actor, run, engine)
            run.status = ImportRun.Status.COMMITTED
    except _DryRun:
        run.status = ImportRun.Status.PREVIEWED
        audit.record(
            actor=actor,
            action="exchange:import:preview",
            target=f"import:{run.pk}",
            details=_summary(run),
        )
    except ImportRejected as rejected:
        _fill(run, engine, report)
        run.added = run.changed = run.unchanged = 0
        run.status = ImportRun.Status.REJECTED
        report["problems"] = [p.as_dict() for p in rejected.problems]
        run.errors = len(rejected.problems)
        audit.record(
            actor=actor,
            action="exchange:import:reject",
            outcome="failure",
            target=f"import:{run.pk}",
            details={**_summary(run), "first_problem": str(rejected.problems[0])[:300]},
        )
    run.report = report
    run.finished_at = timezone.now()
    run.save()
    return run


def _fill(run: ImportRun, engine: Engine, report: dict[str, Any]) -> None:
    run.added = sum(c.added for c in engine.counts)
    run.changed = sum(c.changed for c in engine.counts)
    run.unchanged = sum(c.unchanged for c in engine.counts)
    run.rows_done = sum(c.rows for c in engine.counts)
    run.errors = len(engine.problems)
    report["refused"] = sum(c.refused for c in engine.counts)
    report["files"] = [c.as_dict() for c in engine.counts]
    report["preview"] = engine.preview


def _summary(run: ImportRun) -> dict[str, str | int | bool | None]:
    return {
        "format": run.format,
        "files": ",".join(f"{f['name']}:{f['sha256']}" for f in run.files)[:1000],
        "added": run.added,
        "changed": run.changed,
        "unchanged": run.unchanged,
        "errors": run.errors,
        "dry_run": run.dry_run,
    }


def _audit_commit(actor: Actor, run: ImportRun, engine: Engine) -> None:
    students = sorted(engine.touched_students)
    parts = max(1, -(-len(students) // AUDIT_STUDENTS_PER_ENTRY))
    for part in range(parts):
        chunk = students[part * AUDIT_STUDENTS_PER_ENTRY : (part + 1) * AUDIT_STUDENTS_PER_ENTRY]
        details: dict[str, str | int | bool | None] = {"part": part + 1, "parts": parts}
        if part == 0:
            details.update(_summary(run))
        audit.record(
            actor=actor,
            action="exchange:import:commit",
            students=chunk,
            categories=sorted(engine.touched_categories),
            target=f"import:{run.pk}",
            details=details,
        )


def report_text(run: ImportRun) -> str:
    """A plain-text result report of a run (what the CLI prints and SFTP writes beside a file)."""
    lines = [
        f"Import #{run.pk} format {run.format}: {run.status}",
        f"added {run.added}, changed {run.changed}, unchanged {run.unchanged}, errors {run.errors}",
    ]
    for f in run.files:
        lines.append(f"file {f['name']} sha256 {f['sha256']} ({f['bytes']} bytes)")
    for c in run.report.get("files", []):
        line = (
            f"  {c['name']} -> {c['model']}: {c['rows']} rows, added {c['added']}, "
            f"changed {c['changed']}, unchanged {c['unchanged']}"
        )
        if c.get("refused"):
            line += f", refused {c['refused']}"
        if c.get("merged"):
            line += "; read into other records: " + ", ".join(
                f"{k} {v}" for k, v in c["merged"].items()
            )
        if c.get("skipped"):
            line += "; not stored: " + ", ".join(f"{k} {v}" for k, v in c["skipped"].items())
        lines.append(line)
        lines += [f"    note: {n}" for n in c.get("notes", [])]
        for r in c.get("refusals", []):
            where = f"line {r['line']}" + (f", field {r['field']!r}" if r.get("field") else "")
            lines.append(f"    refused {where}: {r['reason']}")
    for p in run.report.get("problems", []):
        lines.append(f"ERROR {Problem(**p)}")
    return "\n".join(lines) + "\n"
