"""How API callers authenticate: OAuth2 client-credentials Bearer tokens (vendors), or the
staff session cookie (the staff UI's own account, MFA included).

Invariant: a Bearer token that validates is bound to its application (a vendor client); the
request then carries ``access_token`` so ``access.actors.request_actor`` builds the vendor
actor ``client:<client_id>``. Nothing a client sends can make it a staff actor.

The common case, an unexpired client-credentials token in the Authorization header, is looked
up with one fixed SQL statement (``_client_token``) instead of django-oauth-toolkit's ORM query,
whose compilation cost more CPU than the rest of the request (docs/adr/0065). It accepts only a
token whose SHA-256 checksum is stored, that has not expired, belongs to an application, is not
bound to a user and is not audience-restricted; anything else (missing, unknown, expired, user
or resource-bound tokens, a token in the query string) goes through the toolkit exactly as before,
which then also sets the error the WWW-Authenticate header reports.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

from django.db import connections, router
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from oauth2_provider.models import get_access_token_model, get_application_model
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


_BEARER = re.compile(r"Bearer ([A-Za-z0-9\-._~+/]+=*)")  # RFC 6750 b64token, whole header
_LOOKUP_SQL = (
    "SELECT t.id, t.token_checksum, t.application_id, t.expires, t.scope, t.resource, "
    "a.client_id FROM {tokens} t JOIN {applications} a ON a.id = t.application_id "
    "WHERE t.token_checksum = %s AND t.user_id IS NULL AND t.expires > %s"
)
_UNRESTRICTED: tuple[object, ...] = (None, "", "[]", "null", [])


def _aware(value: object) -> datetime:
    if isinstance(value, str):  # SQLite hands raw cursors text
        parsed = parse_datetime(value)
        assert parsed is not None, "stored token expiry is not a timestamp"
        value = parsed
    assert isinstance(value, datetime)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _client_token(header: str) -> Any | None:
    """The unexpired client-credentials token named by an ``Authorization: Bearer`` header,
    with its application's id and client id loaded (other columns load on access), or None."""
    match = _BEARER.fullmatch(header)
    if match is None:
        return None
    token_model = get_access_token_model()
    application_model = get_application_model()
    using = router.db_for_read(token_model)
    connection = connections[using]
    checksum = hashlib.sha256(match.group(1).encode("utf-8")).hexdigest()
    sql = _LOOKUP_SQL.format(
        tokens=connection.ops.quote_name(token_model._meta.db_table),
        applications=connection.ops.quote_name(application_model._meta.db_table),
    )
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(sql, [checksum, now])
        row = cursor.fetchone()
    if row is None or row[5] not in _UNRESTRICTED:
        return None
    token = token_model.from_db(
        using,
        ["id", "user_id", "token_checksum", "application_id", "expires", "scope"],
        [row[0], None, row[1], row[2], _aware(row[3]), row[4]],
    )
    token.resource = []
    token.application = application_model.from_db(using, ["id", "client_id"], [row[2], row[6]])
    if not token.is_valid([]) or token.user_id is not None:
        return None
    return token


class VendorTokenAuthentication(OAuth2Authentication):  # type: ignore[misc]
    """Bearer tokens of django-oauth-toolkit; client-credentials tokens get a ClientPrincipal."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = request._request.META.get("HTTP_AUTHORIZATION", "")
        token = _client_token(header) if header.startswith("Bearer ") else None
        if token is not None and token.application.is_usable(request._request):
            request._request.access_token = token  # type: ignore[attr-defined]
            return ClientPrincipal(token.application.client_id), token
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
