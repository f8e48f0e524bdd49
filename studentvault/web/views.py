"""Staff UI pages: dashboard, student search and the student record.

Views only translate HTTP to selector calls: every read goes through
``studentvault.records.selectors`` (authorized by the access module, audited).
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from studentvault import audit
from studentvault.access.actors import request_actor
from studentvault.access.guards import rule, user_has_permission
from studentvault.audit.display import printable
from studentvault.audit.reports import entries_for_student
from studentvault.core.actors import Actor
from studentvault.core.categories import DataCategory
from studentvault.crypto.rotation import keys_status
from studentvault.people.roles import Permission
from studentvault.records import selectors
from studentvault.records.models import School

from .forms import PurposeForm, StudentSearchForm

PURPOSE_SESSION_KEY = "studentvault.purposes"
ACCESS_PANEL_ROWS = 25


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
    access_rows = None
    if user_has_permission(request.user, Permission.AUDIT_READ):
        access_rows = _access_panel(actor, record.id)
    return render(
        request,
        "web/student.html",
        {"record": record, "purpose_form": form, "access_rows": access_rows},
    )


def _access_panel(actor: Actor, student_id: int) -> list[dict[str, str]]:
    """The latest audit entries about one student ("who accessed this record"), newest first.

    Only for roles with the audit-read permission, and only once the record itself was
    authorized; the look-up is itself audited.
    """
    entries = entries_for_student(student_id).reverse()[:ACCESS_PANEL_ROWS]
    rows = [
        {
            "when": entry.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),
            "who": printable(entry.actor_username or entry.actor_id),
            "role": printable(entry.actor_role),
            "action": printable(entry.action),
            "categories": ", ".join(entry.category_list) or "—",
            "purpose": printable(entry.purpose) or "—",
            "outcome": printable(entry.outcome),
        }
        for entry in entries
    ]
    audit.record(
        actor=actor,
        action="audit:access_report:read",
        students=[student_id],
        purpose="who accessed this record",
        details={"entries": len(rows)},
    )
    return rows


@rule(permission=Permission.AUDIT_READ)
@require_http_methods(["GET"])
def keys(request: HttpRequest) -> HttpResponse:
    """Key status: keysets per category, primary key ids, values per key id (no key material)."""
    statuses = [
        {
            "category": status.category,
            "created": status.created,
            "primary_key_id": status.primary_key_id,
            "key_ids": status.key_ids,
            "per_key": ", ".join(
                f"{key_id if key_id is not None else 'plain'}: {count}"
                for key_id, count in sorted(
                    status.rows_per_key.items(), key=lambda item: (item[0] is None, item[0] or 0)
                )
            ),
            "rotation_running": status.rotation_running,
        }
        for status in keys_status()
    ]
    audit.record(actor=request_actor(request), action="crypto:keys:status")
    return render(request, "web/keys.html", {"statuses": statuses})
