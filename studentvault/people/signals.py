"""Receivers that keep the session table and the password facts in step with Django auth.

Invariants:
- every sign-in gets a new session key (Django's ``login`` cycles it) and a ``UserSession`` row;
- sign-out ends the row; a password change or a deactivation ends every session of the user
  (``people.sessions.end_all_sessions``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest

from . import sessions


@receiver(user_logged_in, dispatch_uid="people.session_started")
def _session_started(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        sessions.session_started(request=request, user=user)


@receiver(user_logged_out, dispatch_uid="people.session_ended")
def _session_ended(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session") and request.session.session_key:
        sessions.session_ended(session_key=request.session.session_key, reason="sign_out")
