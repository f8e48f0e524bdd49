"""Staff UI pages: dashboard, student search and the student record.

Views only translate HTTP to selector calls: every read goes through
``studentvault.records.selectors`` (authorized by the access module, audited).
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from studentvault.access.actors import request_actor
from studentvault.access.guards import rule
from studentvault.core.categories import DataCategory
from studentvault.records import selectors
from studentvault.records.models import School

from .forms import PurposeForm, StudentSearchForm

PURPOSE_SESSION_KEY = "studentvault.purposes"


@rule(authenticated=True)
@require_http_methods(["GET"])
def dashboard(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    return render(
        request,
        "web/dashboard.html",
        {"visible_count": selectors.visible_student_count(actor=actor)},
    )


@rule(student_data=DataCategory.ENROLLMENT)
@require_http_methods(["GET"])
def students(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    schools = list(School.objects.order_by("name").values_list("pk", "name"))
    searched = bool(request.GET)
    form = StudentSearchForm(request.GET if searched else None, schools=schools)
    rows = None
    truncated = False
    if searched and form.is_valid():
        data = form.cleaned_data
        query = selectors.StudentQuery(
            sasid=(data.get("sasid") or "").strip(),
            local_id=(data.get("local_id") or "").strip(),
            last_name=(data.get("last_name") or "").strip(),
            birth_date=data.get("birth_date"),
            school_id=data.get("school"),
            grade_level=data.get("grade_level") or "",
        )
        rows, truncated = selectors.student_search(actor=actor, query=query)
    return render(
        request, "web/students.html", {"form": form, "rows": rows, "truncated": truncated}
    )


@rule(student_data=DataCategory.ENROLLMENT)
@require_http_methods(["GET", "POST"])
def student(request: HttpRequest, student_id: int) -> HttpResponse:
    actor = request_actor(request)
    purposes: dict[str, str] = request.session.get(PURPOSE_SESSION_KEY, {})
    if request.method == "POST":
        form = PurposeForm(request.POST)
        if form.is_valid():
            stated = form.cleaned_data["purpose"]
            if form.cleaned_data["details"]:
                stated += ": " + form.cleaned_data["details"]
            purposes[str(student_id)] = stated
            request.session[PURPOSE_SESSION_KEY] = purposes
            return redirect(reverse("web:student", args=[student_id]))
    else:
        form = PurposeForm()
    try:
        record = selectors.student_record(
            actor=actor, student_id=student_id, purpose=purposes.get(str(student_id), "")
        )
    except selectors.StudentNotFound:
        raise Http404("No such student in your scope.") from None
    response = render(request, "web/student.html", {"record": record, "purpose_form": form})
    return response
