"""Session bookkeeping: start, touch, end one, end all of a user's sessions.

Invariants:
- ``end_all_sessions`` deletes the user's rows from the session store, so a stolen cookie dies
  with them (used on password change and deactivation);
- the session store keeps the signed-in time (``SESSION_STARTED_KEY``) that the absolute
  lifetime is measured from; the idle timeout is measured from the last request.
"""

from __future__ import annotations

import time
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest
from django.utils import timezone

from .models import UserSession

SESSION_STARTED_KEY = "sv_started_at"
SESSION_LAST_SEEN_KEY = "sv_last_seen_at"


def _store(session_key: str) -> SessionBase:
    from importlib import import_module

    from django.conf import settings

    engine = import_module(settings.SESSION_ENGINE)
    store: SessionBase = engine.SessionStore(session_key=session_key)
    return store


def session_started(*, request: HttpRequest, user: Any) -> UserSession:
    """Record a new signed-in session (called on ``user_logged_in``)."""
    now = time.time()
    request.session[SESSION_STARTED_KEY] = now
    request.session[SESSION_LAST_SEEN_KEY] = now
    if request.session.session_key is None:
        request.session.save()
    key = request.session.session_key or ""
    from .network import request_client_ip

    row, _ = UserSession.objects.update_or_create(
        session_key=key,
        defaults={
            "user": user,
            "ip_address": request_client_ip(request),
            "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300],
            "last_seen_at": timezone.now(),
            "ended_at": None,
            "end_reason": "",
        },
    )
    return row


def session_ended(*, session_key: str, reason: str) -> None:
    """Mark one session ended and remove it from the store."""
    UserSession.objects.filter(session_key=session_key, ended_at__isnull=True).update(
        ended_at=timezone.now(), end_reason=reason
    )
    _store(session_key).delete()


def end_all_sessions(*, user_id: int, reason: str, keep: str | None = None) -> int:
    """End every live session of a user except ``keep``; returns how many were ended."""
    rows = UserSession.objects.filter(user_id=user_id, ended_at__isnull=True)
    if keep:
        rows = rows.exclude(session_key=keep)
    keys = list(rows.values_list("session_key", flat=True))
    for key in keys:
        _store(key).delete()
    rows.update(ended_at=timezone.now(), end_reason=reason)
    return len(keys)


def active_sessions(*, user_id: int) -> list[UserSession]:
    """The user's sessions that have not ended, newest first."""
    return list(
        UserSession.objects.filter(user_id=user_id, ended_at__isnull=True).order_by("-last_seen_at")
    )
