"""Staff UI for imports: upload, preview, commit or discard, job status, history.

Views only translate HTTP to the exchange services (``exchange.uploads``, which stage the files
and start the import jobs of ``exchange.jobs``); the import itself, its authorization per row
and its audit entries are those of ``exchange.services``.

Invariants:
- the pages answer only accounts that may change some category of some student: the route
  rule ``student_change`` (``access.guards``, ``access.policy.change_denial``) refuses the
  others with 403 before the view runs, audited as ``access:route:deny``;
- an upload is refused from its declared length before its body is read when that is over
  ``IMPORT_MAX_BYTES``, and a file whose bytes pass the limit is skipped while it streams
  (never stored); the refusal names the file and the limit, and nothing is staged or imported;
- a run's page shows the run only to the account that started it (or to an account with the
  audit-read permission); another run id gives the same 404 as a missing one;
- the page never shows a value from a file: counts, file names, lines, fields and reasons only.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from studentvault import audit
from studentvault.access.actors import request_actor
from studentvault.access.guards import rule, user_has_permission
from studentvault.core.actors import Actor
from studentvault.exchange.errors import ImportRejected, Problem
from studentvault.exchange.formats import registry
from studentvault.exchange.intake import max_bytes
from studentvault.exchange.jobs import jobs_inline
from studentvault.exchange.models import ColumnMapping, ImportRun
from studentvault.exchange.uploads import (
    UploadNotFound,
    commit_upload,
    discard_upload,
    refuse_upload,
    staged_upload,
    upload_preview,
)
from studentvault.people.roles import Permission

# Room for the form fields and multipart boundaries around the files themselves.
FORM_OVERHEAD = 64 * 1024
HISTORY_ROWS = 25
PREVIEW_ROWS = 100
POLL_SECONDS = 2


class UploadForm(forms.Form):
    """The format of the files and an optional saved column mapping (files come separately)."""

    format = forms.ChoiceField()
    mapping = forms.ChoiceField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        chosen: Any = self.fields["format"]
        chosen.choices = [
            (name, f"{name}: {fmt.description}") for name, fmt in sorted(registry().items())
        ]
        saved: Any = self.fields["mapping"]
        saved.choices = [("", "The format's own columns")] + [
            (m.name, f"{m.format}: {m.name}")
            for m in ColumnMapping.objects.order_by("format", "name")
        ]


class UploadLimit(FileUploadHandler):
    """Counts the bytes of every file of one upload; past the limit a file is skipped.

    Django then reads the rest of that file and throws it away: it never reaches a temporary
    file, the staging folder or the import.
    """

    def __init__(self, request: HttpRequest, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.too_big: list[str] = []

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.limit:
            name = str(self.file_name or "upload")
            if name not in self.too_big:
                self.too_big.append(name)
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def _history(request: HttpRequest, actor: Actor) -> list[ImportRun]:
    runs = ImportRun.objects.all()
    if not user_has_permission(request.user, Permission.AUDIT_READ):
        runs = runs.filter(actor_id=actor.id)
    return list(runs[:HISTORY_ROWS])


def _upload_page(
    request: HttpRequest,
    actor: Actor,
    form: UploadForm,
    problems: list[Problem] | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "web/imports.html",
        {
            "form": form,
            "problems": problems or [],
            "history": _history(request, actor),
            "limit": max_bytes(),
            "inline": jobs_inline(),
        },
        status=status,
    )


@rule(student_change=True)
@csrf_exempt  # checked by csrf_protect below, after the upload handlers are in place
@require_http_methods(["GET", "POST"])
def imports(request: HttpRequest) -> HttpResponse:
    """The upload form and the import history; POST uploads files and starts their preview."""
    actor = request_actor(request)
    if request.method != "POST":
        return _upload_page(request, actor, UploadForm())
    limit = max_bytes()
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared > limit + FORM_OVERHEAD:
        problem = Problem(
            "upload",
            None,
            None,
            f"the upload has {declared} bytes, more than the limit of {limit} bytes "
            "(IMPORT_MAX_BYTES); nothing was stored. Send larger files by SFTP or the "
            "command line.",
        )
        audit.record(
            actor=actor,
            action="exchange:upload:reject",
            outcome="failure",
            details={"channel": "web", "problem": problem.problem[:300]},
        )
        # The body is not read.
        return _upload_page(request, actor, UploadForm(), [problem], status=413)
    counter = UploadLimit(request, limit)
    request.upload_handlers.insert(0, counter)
    received: HttpResponse = _receive(request, actor, counter)
    return received


@csrf_protect
def _receive(request: HttpRequest, actor: Actor, counter: UploadLimit) -> HttpResponse:
    form = UploadForm(request.POST)
    files = request.FILES.getlist("files")
    if not form.is_valid():
        return _upload_page(request, actor, form, status=400)
    format_name = form.cleaned_data["format"]
    mapping = form.cleaned_data["mapping"] or None
    try:
        if counter.too_big:
            refuse_upload(
                actor=actor,
                format_name=format_name,
                file=counter.too_big[0],
                problem=(
                    f"the upload passes the limit of {counter.limit} bytes (IMPORT_MAX_BYTES) "
                    "in this file; nothing was stored. Send larger files by SFTP or the "
                    "command line."
                ),
            )
        run = upload_preview(
            actor=actor,
            format_name=format_name,
            files=[(f.name or "", f.chunks()) for f in files],
            mapping=mapping,
        )
    except ImportRejected as rejected:
        return _upload_page(request, actor, form, rejected.problems, status=400)
    return redirect(reverse("web:import_run", args=[run.pk]))


def _visible_run(request: HttpRequest, actor: Actor, run_id: int) -> ImportRun:
    run = ImportRun.objects.filter(pk=run_id).first()
    if run is None or (
        run.actor_id != actor.id and not user_has_permission(request.user, Permission.AUDIT_READ)
    ):
        raise Http404("No such import.")
    return run


def _file_rows(run: ImportRun) -> list[dict[str, Any]]:
    rows = []
    for counts in run.report.get("files", []):
        rows.append(
            {
                "name": counts.get("name", ""),
                "kind": counts.get("model", ""),
                "rows": counts.get("rows", 0),
                "added": counts.get("added", 0),
                "changed": counts.get("changed", 0),
                "unchanged": counts.get("unchanged", 0),
                "refused": counts.get("refused", 0),
                "refusals": counts.get("refusals", []),
                "notes": counts.get("notes", []),
                "skipped": ", ".join(f"{k} {v}" for k, v in counts.get("skipped", {}).items()),
                "merged": ", ".join(f"{k} {v}" for k, v in counts.get("merged", {}).items()),
            }
        )
    return rows


@rule(student_change=True)
@require_http_methods(["GET"])
def import_run(request: HttpRequest, run_id: int) -> HttpResponse:
    """One run: its job status while it runs (polled with htmx), then its preview or result."""
    actor = request_actor(request)
    run = _visible_run(request, actor, run_id)
    staged = staged_upload(run)
    own = run.actor_id == actor.id
    return render(
        request,
        "web/import_run.html",
        {
            "run": run,
            "running": run.status == ImportRun.Status.RUNNING,
            "poll_seconds": POLL_SECONDS,
            "file_rows": _file_rows(run),
            "problems": run.report.get("problems", []),
            "preview_rows": run.report.get("preview", [])[:PREVIEW_ROWS],
            "staged": staged,
            "can_commit": own and staged is not None and staged.can_commit,
            "can_discard": own and staged is not None and staged.can_discard,
        },
    )


@rule(student_change=True)
@require_http_methods(["POST"])
def import_commit(request: HttpRequest, run_id: int) -> HttpResponse:
    """Commit a previewed upload (once) as a job, then show the commit run."""
    actor = request_actor(request)
    try:
        run = commit_upload(actor=actor, run_id=run_id)
    except UploadNotFound:
        raise Http404("No such import.") from None
    except ImportRejected as rejected:
        return _run_refused(request, actor, run_id, rejected)
    return redirect(reverse("web:import_run", args=[run.pk]))


@rule(student_change=True)
@require_http_methods(["POST"])
def import_discard(request: HttpRequest, run_id: int) -> HttpResponse:
    """Delete the staged files of an upload that was not committed."""
    actor = request_actor(request)
    try:
        discard_upload(actor=actor, run_id=run_id)
    except UploadNotFound:
        raise Http404("No such import.") from None
    except ImportRejected as rejected:
        return _run_refused(request, actor, run_id, rejected)
    return redirect(reverse("web:import_run", args=[run_id]))


def _run_refused(
    request: HttpRequest, actor: Actor, run_id: int, rejected: ImportRejected
) -> HttpResponse:
    run = _visible_run(request, actor, run_id)
    staged = staged_upload(run)
    return render(
        request,
        "web/import_run.html",
        {
            "run": run,
            "running": False,
            "file_rows": _file_rows(run),
            "problems": run.report.get("problems", []),
            "preview_rows": run.report.get("preview", [])[:PREVIEW_ROWS],
            "staged": staged,
            "action_problems": rejected.problems,
            "can_commit": False,
            "can_discard": staged is not None and staged.can_discard,
        },
        status=409,
    )
