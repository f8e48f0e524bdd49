"""Password age: when a staff password expires and when to warn.

PASSWORD_MAX_AGE_DAYS (default 90, 0 = never) is a documented deviation from NIST SP 800-63B
(docs/adr/0042-password-expiry.md). A password whose set date is unknown counts from the day
the account was created.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.utils import timezone

WARN_DAYS = 14


def password_set_at(user: Any) -> dt.datetime:
    """When the user's current password was set (account creation when unknown)."""
    profile = getattr(user, "staff_profile", None)
    changed = getattr(profile, "password_changed_at", None) if profile is not None else None
    set_at: dt.datetime = changed or user.date_joined
    return set_at


def password_expires_at(user: Any) -> dt.datetime | None:
    """When the password expires, or None when expiry is off."""
    days = int(getattr(settings, "PASSWORD_MAX_AGE_DAYS", 90))
    if days <= 0:
        return None
    return password_set_at(user) + dt.timedelta(days=days)


def password_expired(user: Any, *, now: dt.datetime | None = None) -> bool:
    expires = password_expires_at(user)
    return expires is not None and (now or timezone.now()) >= expires


def password_expiry_warning(user: Any, *, now: dt.datetime | None = None) -> int | None:
    """Days left when the password expires within WARN_DAYS (and has not yet), else None."""
    expires = password_expires_at(user)
    if expires is None:
        return None
    left = expires - (now or timezone.now())
    if dt.timedelta(0) < left <= dt.timedelta(days=WARN_DAYS):
        return max(1, left.days + (1 if left.seconds else 0))
    return None
