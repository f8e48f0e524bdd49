"""Session limits: idle timeout, absolute lifetime, ended sessions; password-expiry warning.

Invariants:
- a session idle for SESSION_IDLE_MINUTES (15) or older than SESSION_MAX_HOURS (8) since
  sign-in is ended and the user signed out before the view runs;
- a session whose ``UserSession`` row was ended (from the sessions page, a password change or
  a deactivation) is signed out on its next request;
- a session with no sign-in time (made before this middleware) is treated as expired.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from .expiry import password_expiry_warning
from .models import UserSession
from .sessions import SESSION_LAST_SEEN_KEY, SESSION_STARTED_KEY, session_ended

TOUCH_EVERY_SECONDS = 60
WARNED_KEY = "sv_expiry_warned"


class SessionLimitsMiddleware:
    """Ends sessions past their idle or absolute limit; keeps ``UserSession`` up to date."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            reason = self._expired(request)
            if reason is not None:
                key = request.session.session_key
                logout(request)
                if key:
                    session_ended(session_key=key, reason=reason)
            else:
                self._touch(request)
                self._warn(request, user)
        return self.get_response(request)

    def _expired(self, request: HttpRequest) -> str | None:
        now = time.time()
        started = request.session.get(SESSION_STARTED_KEY)
        last = request.session.get(SESSION_LAST_SEEN_KEY)
        if not isinstance(started, int | float) or not isinstance(last, int | float):
            return "no_start_time"
        if now - started > settings.SESSION_MAX_HOURS * 3600:
            return "absolute_timeout"
        if now - last > settings.SESSION_IDLE_MINUTES * 60:
            return "idle_timeout"
        key = request.session.session_key
        if key and UserSession.objects.filter(session_key=key, ended_at__isnull=False).exists():
            return "ended"
        return None

    def _touch(self, request: HttpRequest) -> None:
        now = time.time()
        last = float(request.session.get(SESSION_LAST_SEEN_KEY, 0))
        request.session[SESSION_LAST_SEEN_KEY] = now
        if now - last >= TOUCH_EVERY_SECONDS and request.session.session_key:
            UserSession.objects.filter(session_key=request.session.session_key).update(
                last_seen_at=timezone.now()
            )

    def _warn(self, request: HttpRequest, user: object) -> None:
        if request.session.get(WARNED_KEY):
            return
        days = password_expiry_warning(user)
        if days is not None:
            messages.warning(
                request, f"Your password expires in {days} day(s). Change it before then."
            )
            request.session[WARNED_KEY] = True
