"""How API callers authenticate: OAuth2 client-credentials Bearer tokens (vendors), or the
staff session cookie (the staff UI's own account, MFA included).

Invariant: a Bearer token that validates is bound to its application (a vendor client); the
request then carries ``access_token`` so ``access.actors.request_actor`` builds the vendor
actor ``client:<client_id>``. Nothing a client sends can make it a staff actor.
"""

from __future__ import annotations

from typing import Any

from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request


class ClientPrincipal:
    """The ``request.user`` of a vendor client authenticated by client credentials."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    pk = None

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id

    def get_username(self) -> str:
        return f"client:{self.client_id}"

    def __str__(self) -> str:
        return self.get_username()


class VendorTokenAuthentication(OAuth2Authentication):  # type: ignore[misc]
    """Bearer tokens of django-oauth-toolkit; client-credentials tokens get a ClientPrincipal."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user, token = result
        application = getattr(token, "application", None)
        if application is None:
            return None
        # read by access.actors.request_actor
        request._request.access_token = token  # type: ignore[attr-defined]
        return (user if user is not None else ClientPrincipal(application.client_id)), token


class StaffSessionAuthentication(SessionAuthentication):
    """The staff UI's session (CSRF enforced by DRF on unsafe methods; the API is read-only)."""
