"""Building the ``Actor`` for a signed-in user or a vendor API client.

Invariant: ``extra["mfa"] == "verified"`` only when allauth recorded a passed second factor in
this very session for this very user; nothing a client sends can set it.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from studentvault.core.actors import ANONYMOUS, Actor, ActorKind


def session_mfa_verified(request: HttpRequest) -> bool:
    """True when the current session passed a second factor (allauth's record)."""
    from allauth.account.authentication import get_authentication_records

    user = getattr(request, "user", None)
    records = get_authentication_records(request, user) if user is not None else []
    return any(r.get("method") == "mfa" for r in records if isinstance(r, dict))


def actor_for_user(user: Any, *, request: HttpRequest | None = None) -> Actor:
    """The staff actor for ``user``; with ``request``, its address, agent and MFA state."""
    if user is None or not getattr(user, "is_authenticated", False):
        return ANONYMOUS
    profile = getattr(user, "staff_profile", None)
    extra: dict[str, str] = {}
    client_ip: str | None = None
    agent = ""
    if request is not None:
        from studentvault.people.network import request_client_ip

        if session_mfa_verified(request):
            extra["mfa"] = "verified"
        client_ip = request_client_ip(request) or None
        agent = str(request.META.get("HTTP_USER_AGENT", ""))[:300]
    return Actor(
        kind=ActorKind.STAFF,
        id=f"user:{user.pk}",
        username=str(user.get_username()),
        role=str(getattr(profile, "role", "")),
        client_ip=client_ip,
        user_agent=agent,
        extra=extra,
    )


def actor_for_client(client_id: str, *, request: HttpRequest | None = None) -> Actor:
    """The vendor actor for an OAuth2 client (authenticated by client credentials)."""
    client_ip: str | None = None
    if request is not None:
        from studentvault.people.network import request_client_ip

        client_ip = request_client_ip(request) or None
    return Actor(
        kind=ActorKind.VENDOR,
        id=f"client:{client_id}",
        username=f"client:{client_id}",
        role="vendor",
        client_ip=client_ip,
    )


def request_actor(request: HttpRequest) -> Actor:
    """The actor of a request: an OAuth2 vendor client (Bearer token) or the session user."""
    token = getattr(request, "access_token", None)
    application = getattr(token, "application", None)
    if application is not None:
        return actor_for_client(str(application.client_id), request=request)
    return actor_for_user(getattr(request, "user", None), request=request)
