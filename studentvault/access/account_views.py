"""Self-service account pages: active sessions, policy acknowledgement (under /accounts/)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from studentvault.access.actors import actor_for_user
from studentvault.access.guards import account_setup, rule
from studentvault.people import services
from studentvault.people.models import UserSession
from studentvault.people.sessions import active_sessions, session_ended


@rule(account_setup)
@require_http_methods(["GET", "POST"])
def sessions_view(request: HttpRequest) -> HttpResponse:
    """List the user's signed-in sessions; POST ends one of them (never another user's)."""
    if request.method == "POST":
        key_id = request.POST.get("session", "")
        row = UserSession.objects.filter(
            pk=int(key_id) if key_id.isdigit() else -1,
            user_id=int(request.user.pk or 0),
            ended_at__isnull=True,
        ).first()
        if row is not None:
            session_ended(session_key=row.session_key, reason="ended_by_user")
        return HttpResponseRedirect(request.path)
    rows = active_sessions(user_id=int(request.user.pk or 0))
    return render(
        request,
        "people/sessions.html",
        {"rows": rows, "current": request.session.session_key},
    )


@rule(account_setup)
@require_http_methods(["GET", "POST"])
def policy_view(request: HttpRequest) -> HttpResponse:
    """Show the current policy version and record the user's acknowledgement."""
    acknowledged = request.user.policy_acknowledgements.filter(  # type: ignore[union-attr]
        policy_version=settings.POLICY_VERSION
    ).exists()
    if request.method == "POST" and request.POST.get("acknowledge") == "yes":
        services.policy_acknowledge(
            actor=actor_for_user(request.user, request=request), user=request.user
        )
        return HttpResponseRedirect(request.path)
    return render(
        request,
        "people/policy.html",
        {"version": settings.POLICY_VERSION, "acknowledged": acknowledged},
    )
