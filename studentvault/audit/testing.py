"""Helpers for other modules' tests: assert that something was audited.

from studentvault.audit.testing import assert_audited
assert_audited(action="records:student:read", actor_id="user:7", student=42)
"""

from __future__ import annotations

from studentvault.core.categories import DataCategory

from .models import AuditEntry


def assert_audited(
    *,
    action: str,
    actor_id: str | None = None,
    student: int | None = None,
    category: DataCategory | None = None,
    outcome: str | None = None,
) -> AuditEntry:
    """The latest entry matching every given criterion; AssertionError listing what was logged."""
    entries = AuditEntry.objects.filter(action=action)
    if actor_id is not None:
        entries = entries.filter(actor_id=actor_id)
    if student is not None:
        entries = entries.filter(student_rows__student_id=student)
    if category is not None:
        entries = entries.filter(categories__contains=f",{DataCategory(category).value},")
    if outcome is not None:
        entries = entries.filter(outcome=outcome)
    found = entries.order_by("-seq").first()
    if found is None:
        recent = list(
            AuditEntry.objects.order_by("-seq").values_list("seq", "action", "actor_id")[:10]
        )
        raise AssertionError(
            f"no audit entry action={action!r} actor_id={actor_id!r} student={student!r} "
            f"category={category!r} outcome={outcome!r}; latest entries: {recent}"
        )
    return found


def assert_not_audited(*, action: str, student: int | None = None) -> None:
    """Fail when an entry with ``action`` (for ``student``, if given) exists."""
    entries = AuditEntry.objects.filter(action=action)
    if student is not None:
        entries = entries.filter(student_rows__student_id=student)
    if entries.exists():
        raise AssertionError(f"unexpected audit entry {action!r} for student {student!r}")
