"""Report pages: public published reports, and the staff page that runs and publishes.

The public views read ``PublishedReport`` rows only (display texts that passed the audit);
they never touch student data. The run page needs a signed-in actor who can reach enrollment
data (route rule); whether they may *report* is decided by ``services.report_run``, which
audits every attempt.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from studentvault.access.actors import request_actor
from studentvault.access.guards import rule
from studentvault.access.policy import current_school_year
from studentvault.core.categories import DataCategory
from studentvault.reporting.disclosure import DisclosureNotPublishable

from .aggregates import ReportDefinitionError
from .forms import ReportRunForm
from .models import PublishedReport
from .outputs import document_csv, document_json, report_context
from .services import ReportDenied, published_document, report_publish, report_run


def _document_or_404(report_id: int) -> tuple[PublishedReport, dict[str, Any]]:
    report = get_object_or_404(PublishedReport, pk=report_id)
    try:
        return report, published_document(report)
    except DisclosureNotPublishable:
        raise Http404("report not available") from None


@rule(public=True)
def published_list(request: HttpRequest) -> HttpResponse:
    """Every published report, newest first (public)."""
    reports = PublishedReport.objects.only("pk", "title", "school_year", "rule_set", "generated_at")
    return render(request, "reporting/published_list.html", {"reports": reports})


@rule(public=True)
def published(request: HttpRequest, report_id: int) -> HttpResponse:
    """One published report as HTML with charts (public; suppressed cells show only "*")."""
    report, document = _document_or_404(report_id)
    context = report_context(document, internal=False)
    context["report"] = report
    return render(request, "reporting/published_detail.html", context)


def _download(text: str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@rule(public=True)
def published_csv(request: HttpRequest, report_id: int) -> HttpResponse:
    report, document = _document_or_404(report_id)
    name = f"{report.name}-{report.school_year}-{report.pk}.csv"
    return _download(document_csv(document), "text/csv; charset=utf-8", name)


@rule(public=True)
def published_json(request: HttpRequest, report_id: int) -> HttpResponse:
    report, document = _document_or_404(report_id)
    name = f"{report.name}-{report.school_year}-{report.pk}.json"
    return _download(document_json(document), "application/json", name)


@rule(student_data=DataCategory.ENROLLMENT)
def run(request: HttpRequest) -> HttpResponse:
    """Run a report for the signed-in actor (staff view with reason codes); optionally publish."""
    context: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        form = ReportRunForm(request.POST)
        if form.is_valid():
            actor = request_actor(request)
            data = form.cleaned_data
            try:
                result = report_run(
                    actor=actor,
                    name=data["report"],
                    school_year=data["school_year"],
                    rule_set=data["rule_set"],
                    subgroups=data["subgroups"] or None,
                )
                if request.POST.get("do") == "publish":
                    context["published"] = report_publish(actor=actor, result=result)
                generated_by = actor.id
                document = result.document(
                    internal=True, generated_at="(not published)", generated_by=generated_by
                )
                context.update(report_context(document, internal=True))
            except ReportDenied as denied:
                context["error"] = f"Refused: {denied}"
                status = 403
            except (ReportDefinitionError, DisclosureNotPublishable) as error:
                context["error"] = str(error)
                status = 422
        else:
            status = 400
    else:
        form = ReportRunForm(initial={"school_year": current_school_year()})
    context["form"] = form
    return render(request, "reporting/run.html", context, status=status)
