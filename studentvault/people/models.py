"""Staff profiles, training, policy acknowledgements, vendors, contracts and sessions.

Invariants:
- a staff member's role decides whether MFA is mandatory (roles.toml); it is never stored
  twice, so a role change takes effect on the next request;
- a contract is active only between its start and end dates, once signed, with privacy
  obligations signed and SDTSA clauses attested; a vendor's access ends with its contract;
- password history keeps hashes only (the configured hasher), never a password.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone

from studentvault.core.categories import DataCategory

from .roles import Role, get_role


class StaffProfile(models.Model):
    """The district facts about a staff (or vendor staff) account: role, scope hints, status."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    role = models.CharField(max_length=40, help_text="A role code of roles.toml")
    school_codes = models.JSONField(
        default=list, blank=True, help_text="State codes of the schools the person works at"
    )
    active = models.BooleanField(default=True)
    contract = models.ForeignKey(
        "people.Contract",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
        help_text="For vendor staff: the contract under which they work",
    )
    password_changed_at = models.DateTimeField(null=True, blank=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Staff profile #{self.pk} ({self.role})"

    @property
    def role_definition(self) -> Role | None:
        return get_role(self.role)

    @property
    def mfa_required(self) -> bool:
        """True when the role has district scope, administrative rights or is a vendor."""
        role = self.role_definition
        return True if role is None else role.requires_mfa


class TrainingRecord(models.Model):
    """One completed annual security and privacy awareness training."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="training_records"
    )
    completed_on = models.DateField()
    course = models.CharField(max_length=200)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["user", "-completed_on"])]

    def __str__(self) -> str:
        return f"Training #{self.pk} on {self.completed_on}"


class PolicyAcknowledgement(models.Model):
    """A staff member's acknowledgement of one version of the data policy."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="policy_acknowledgements"
    )
    policy_version = models.CharField(max_length=40)
    acknowledged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "policy_version"], name="acknowledgement_once_per_version"
            )
        ]

    def __str__(self) -> str:
        return f"Acknowledgement #{self.pk} of {self.policy_version}"


class Designation(models.TextChoices):
    SCHOOL_OFFICIAL = "school_official", "School official"
    CONTRACT_PROVIDER = "contract_provider", "School service contract provider"
    ON_DEMAND_PROVIDER = "on_demand_provider", "School service on-demand provider"


class Vendor(models.Model):
    """An outside party that receives student data under a contract, with its designation."""

    name = models.CharField(max_length=200, unique=True)
    designation = models.CharField(max_length=30, choices=Designation.choices)

    def __str__(self) -> str:
        return self.name


ALL_SCHOOLS = "*"


class Contract(models.Model):
    """A signed agreement naming what a vendor may receive, for which schools and until when."""

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="contracts")
    title = models.CharField(max_length=200)
    starts_on = models.DateField()
    ends_on = models.DateField()
    signed_on = models.DateField(null=True, blank=True)
    privacy_obligations_signed = models.BooleanField(default=False)
    sdtsa_clauses_attested = models.BooleanField(default=False)
    purposes = models.JSONField(default=list, help_text="Purposes the data may be used for")
    categories = models.JSONField(default=list, help_text="Data category codes covered")
    fields = models.JSONField(
        default=list,
        blank=True,
        help_text='Optional narrowing to data elements "model.field"; empty = whole categories',
    )
    schools = models.JSONField(
        default=list, help_text='School state codes covered, or ["*"] for every school'
    )
    destruction_terms = models.TextField(blank=True)
    document = models.FileField(upload_to="contracts/", blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")),
                name="contract_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"Contract #{self.pk} {self.title}"

    def inactive_reason(self, on: dt.date | None = None) -> str | None:
        """Why the contract does not allow access on ``on`` (today), or None when it does."""
        day = on or timezone.localdate()
        if self.signed_on is None:
            return "contract not signed"
        if not self.privacy_obligations_signed:
            return "privacy obligations not signed"
        if not self.sdtsa_clauses_attested:
            return "SDTSA clauses not attested"
        if day < self.starts_on:
            return "contract not yet started"
        if day > self.ends_on:
            return "contract ended"
        if not self.vendor.designation:
            return "vendor has no designation"
        return None

    def is_active(self, on: dt.date | None = None) -> bool:
        return self.inactive_reason(on) is None

    @property
    def category_set(self) -> frozenset[DataCategory]:
        out: set[DataCategory] = set()
        for code in self.categories:
            try:
                out.add(DataCategory(code))
            except ValueError:
                continue  # validated on save by contract_create; ignore stale codes
        return frozenset(out)

    @property
    def covers_all_schools(self) -> bool:
        return ALL_SCHOOLS in self.schools


class VendorClient(models.Model):
    """An OAuth2 client-credentials application bound to exactly one contract."""

    application = models.OneToOneField(
        "oauth2_provider.Application", on_delete=models.CASCADE, related_name="vendor_client"
    )
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="clients")

    def __str__(self) -> str:
        return f"Vendor client #{self.pk}"


class PasswordHistory(models.Model):
    """A hash of a password a user has had; the last N are refused when setting a new one."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="password_history"
    )
    password_hash = models.CharField(max_length=256)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return f"Password history #{self.pk}"


class UserSession(models.Model):
    """A signed-in session of a user, so sessions can be listed and ended."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="user_sessions"
    )
    session_key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    ip_address = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=40, blank=True)

    def __str__(self) -> str:
        return f"Session #{self.pk}"
