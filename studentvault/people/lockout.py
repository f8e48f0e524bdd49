"""What a locked-out client sees, and the audited admin unlock.

Invariant: the lockout page is the same whether the account exists or not, and names no
account; every lockout and every unlock is audited.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from studentvault.core.actors import ANONYMOUS, Actor

from .auditing import record
from .network import request_client_ip


def lockout_response(
    request: HttpRequest, credentials: Any = None, *args: Any, **kw: Any
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: a 429 page; the lockout itself is audited."""
    record(
        actor=ANONYMOUS,
        action="people:signin:lockout",
        outcome="failure",
        details={"ip": request_client_ip(request)},
    )
    body = render_to_string(
        "people/locked_out.html",
        {"cooloff_minutes": settings.AXES_COOLOFF_MINUTES},
        request=request,
    )
    return HttpResponse(body, status=429)


def lockout_clear(
    *, actor: Actor, username: str | None = None, ip_address: str | None = None
) -> int:
    """Unlock an account and/or an address (district administrator); audited."""
    from axes.utils import reset

    count = int(reset(ip=ip_address, username=username))
    record(
        actor=actor,
        action="people:signin:unlock",
        details={"username": username or "", "ip": ip_address or "", "cleared": count},
    )
    return count


def lockout_username(request: HttpRequest, credentials: Any = None) -> str | None:
    """AXES_USERNAME_CALLABLE: the account name of a sign-in attempt, whichever form sent it
    (allauth's form posts ``login``; ``authenticate`` receives ``username``)."""
    for source in (credentials or {}, request.POST):
        for key in ("username", "login"):
            value = source.get(key)
            if value:
                return str(value).strip().lower()
    return None
