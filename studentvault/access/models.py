"""Grants, caseloads, break-glass grants and access reviews.

Invariants:
- a grant narrows its role: its effective categories are the grant's categories that the role
  also has; an unknown category or a category outside the role is refused by ``grant_create``;
- a grant counts only between ``valid_from`` and ``valid_until`` and until revoked;
- students are referred to by id only (``records`` is a higher layer; no foreign key to it),
  so a caseload entry for a student that no longer exists matches nothing;
- a break-glass grant always has a typed reason and expires at most BREAK_GLASS_MAX_HOURS
  after it opens; every use is audited as ``access:breakglass:use``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from studentvault.people.roles import ScopeKind

GRANT_SCOPES = [
    (ScopeKind.DISTRICT.value, "District"),
    (ScopeKind.SCHOOL.value, "School"),
    (ScopeKind.SECTION_ROSTER.value, "Section roster"),
    (ScopeKind.CASELOAD.value, "Caseload"),
]


class GrantQuerySet(models.QuerySet["Grant"]):
    def current(self) -> GrantQuerySet:
        """Grants in force now: started, not yet expired, not revoked."""
        now = timezone.now()
        return self.filter(revoked_at__isnull=True, valid_from__lte=now).filter(
            models.Q(valid_until__isnull=True) | models.Q(valid_until__gt=now)
        )


class Grant(models.Model):
    """A role given to a staff member over a scope, for some categories and a purpose."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_grants"
    )
    role = models.CharField(max_length=40, help_text="A role code of roles.toml")
    scope_kind = models.CharField(max_length=20, choices=GRANT_SCOPES)
    scope_value = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="School id for school scope, section id for section roster; else empty",
    )
    categories = models.JSONField(default=list, help_text="Data category codes granted")
    purpose = models.CharField(max_length=300)
    valid_from = models.DateTimeField(default=timezone.now)
    valid_until = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = GrantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["user", "revoked_at"])]

    def __str__(self) -> str:
        return f"Grant #{self.pk} {self.role}/{self.scope_kind}"


class GrantStudent(models.Model):
    """One student of a caseload grant (by id: records is a higher layer)."""

    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="caseload")
    student_id = models.BigIntegerField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["grant", "student_id"], name="caseload_once")
        ]

    def __str__(self) -> str:
        return f"Caseload entry #{self.pk}"


class BreakGlassGrant(models.Model):
    """Emergency, time-limited, audited district-wide access for stated categories."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="break_glass_grants"
    )
    reason = models.TextField()
    categories = models.JSONField(default=list)
    opened_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("opened_at")),
                name="break_glass_expires_after_open",
            )
        ]

    def __str__(self) -> str:
        return f"Break-glass #{self.pk}"


class AccessReview(models.Model):
    """A periodic review of one account's grants by a district administrator."""

    class Outcome(models.TextChoices):
        CONFIRMED = "confirmed", "Access confirmed as needed"
        REDUCED = "reduced", "Access reduced"
        REVOKED = "revoked", "All access revoked"

    reviewed_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_reviews"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    notes = models.TextField(blank=True)
    reviewed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Access review #{self.pk}"
