"""Audit pages for the security contact: latest checkpoint, alerts, a student's disclosures.

Every view requires a signed-in account holding ``audit.view_auditentry`` (disclosures:
``audit.view_disclosure``); the access guard middleware may add its own rule on top. Stored
text is shown through ``printable`` and Django's HTML escaping, so hostile input stays inert.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from studentvault.core.actors import Actor, ActorKind

from .alerts import open_alerts
from .checkpoints import CheckpointError, current_head, latest_checkpoint
from .disclosures import disclosures_for_student
from .display import printable
from .writer import record


@login_required
@permission_required("audit.view_auditentry", raise_exception=True)
def checkpoint_view(request: HttpRequest) -> HttpResponse:
    """The latest signed checkpoint and the current head of the log."""
    error = ""
    try:
        checkpoint = latest_checkpoint()
    except CheckpointError as problem:
        checkpoint, error = None, str(problem)
    size, head = current_head()
    return render(
        request,
        "audit/checkpoint.html",
        {"checkpoint": checkpoint, "size": size, "head": head, "error": error},
    )


@login_required
@permission_required("audit.view_auditentry", raise_exception=True)
def alert_list_view(request: HttpRequest) -> HttpResponse:
    """Monitoring alerts, newest first."""
    rows = [
        {
            "raised_at": alert.raised_at,
            "rule": alert.get_rule_display(),
            "account": printable(alert.actor_username or alert.actor_id),
            "summary": printable(alert.summary),
            "entry": alert.entry_id,
            "emailed": alert.emailed,
        }
        for alert in open_alerts()
    ]
    return render(request, "audit/alerts.html", {"alerts": rows})


def _actor(request: HttpRequest) -> Actor:
    user = request.user
    return Actor(
        kind=ActorKind.STAFF,
        id=f"user:{user.pk}",
        username=user.get_username(),
        client_ip=request.META.get("REMOTE_ADDR"),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )


@login_required
@permission_required("audit.view_disclosure", raise_exception=True)
def student_disclosures_view(request: HttpRequest, student_id: int) -> HttpResponse:
    """A student's FERPA 99.32 record of disclosures (the read itself is audited)."""
    disclosures = list(disclosures_for_student(student_id))
    record(
        actor=_actor(request),
        action="audit:disclosures:read",
        students=[student_id],
        purpose="FERPA 99.32 record of disclosures",
    )
    return render(
        request,
        "audit/disclosures.html",
        {"student_id": student_id, "disclosures": disclosures},
    )
