"""The tables of the audit module: the hash-chained log, its student index, sites, disclosures,
alerts.

Invariants:
- ``AuditEntry`` and ``AuditEntryStudent`` are append-only: the database refuses UPDATE, DELETE
  and TRUNCATE on them (triggers, migration 0002); on PostgreSQL the application's role holds
  INSERT and SELECT only (``studentvault audit grant-sql``).
- ``AuditEntry.seq`` is gap-free from 1; ``entry_hash`` is SHA-256 over the canonical form of
  the entry's own columns and ``prev_hash`` (``chain.entry_hash``), so any edit, deletion,
  insertion or reordering breaks the chain where it happened.
- Students are plain integers (primary keys of ``records.Student``), never foreign keys: the log
  outlives the records it describes and must not cascade. No entry holds a PII value.
"""

from __future__ import annotations

from django.db import models


class AuditEntry(models.Model):
    """One appended fact: who did what to which students' data, when, from which device and site.

    Written only by ``studentvault.audit.record``; never changed or deleted.
    """

    seq = models.BigIntegerField(primary_key=True)
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64, unique=True)
    occurred_at = models.DateTimeField()
    actor_kind = models.CharField(max_length=16)
    actor_id = models.CharField(max_length=200)
    actor_username = models.CharField(max_length=150, blank=True)
    actor_role = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=100)
    outcome = models.CharField(max_length=16)
    # JSON list of integer student primary keys, exactly as hashed; AuditEntryStudent indexes it.
    student_ids = models.TextField(default="[]")
    # ",demographics,discipline," so that one category can be matched with a LIKE on any database.
    categories = models.CharField(max_length=400, blank=True)
    purpose = models.CharField(max_length=500, blank=True)
    target = models.CharField(max_length=200, blank=True)
    # Canonical JSON object of non-PII facts (str, int, bool or null values).
    details = models.TextField(default="{}")
    client_ip = models.CharField(max_length=45, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    device = models.CharField(max_length=200, blank=True)
    device_id = models.CharField(max_length=64, blank=True)
    site = models.CharField(max_length=100, blank=True)

    class Meta:
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["actor_id", "occurred_at"], name="audit_actor_time"),
            models.Index(fields=["occurred_at"], name="audit_time"),
        ]

    def __str__(self) -> str:
        return f"audit entry #{self.seq} {self.action}"

    @property
    def student_list(self) -> list[int]:
        """The students this entry concerns, as hashed."""
        import json

        return [int(s) for s in json.loads(self.student_ids)]

    @property
    def category_list(self) -> list[str]:
        """The data categories this entry concerns."""
        return [c for c in self.categories.split(",") if c]


class AuditEntryStudent(models.Model):
    """Index row: entry ``entry`` concerns student ``student_id``. Append-only like the log.

    It exists so "who accessed this student" is one indexed query on every database; the hashed
    truth is ``AuditEntry.student_ids`` and ``audit verify`` checks the two agree.
    """

    entry = models.ForeignKey(AuditEntry, on_delete=models.PROTECT, related_name="student_rows")
    student_id = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["student_id", "entry"], name="audit_student_entry")]
        constraints = [
            models.UniqueConstraint(fields=["entry", "student_id"], name="audit_entry_student_once")
        ]

    def __str__(self) -> str:
        return f"audit entry #{self.entry_id} concerns student #{self.student_id}"


class NetworkSite(models.Model):
    """A district network range and the site it belongs to ("Central Office", "Lincoln Elementary").

    The audit log names the most specific matching site for each entry's client address, else
    "outside district".
    """

    name = models.CharField(max_length=100)
    cidr = models.CharField(
        max_length=49, unique=True, help_text="e.g. 10.20.0.0/16 or 2001:db8::/48"
    )

    class Meta:
        ordering = ["name", "cidr"]

    def __str__(self) -> str:
        return f"{self.name} ({self.cidr})"

    def clean(self) -> None:
        import ipaddress

        from django.core.exceptions import ValidationError

        try:
            ipaddress.ip_network(self.cidr, strict=False)
        except ValueError:
            raise ValidationError(
                {"cidr": f"{self.cidr!r} is not a network range like 10.0.0.0/8"}
            ) from None


class Disclosure(models.Model):
    """FERPA 34 CFR 99.32 record: one release of one student's PII outside the school-official
    exception. Kept as long as the student's record (retention removes it with the record).

    Written only by ``record_disclosure`` or ``writer.append_many`` (rows from
    ``prepare_disclosure``), together with the audit entry it points to.
    """

    class RecipientKind(models.TextChoices):
        VENDOR = "vendor", "Vendor (contract)"
        STATE = "state", "State education agency"
        AGENCY = "agency", "Other agency or institution"
        RESEARCHER = "researcher", "Research organisation"
        OTHER = "other", "Other party"

    class Channel(models.TextChoices):
        API = "api", "API pull"
        EXPORT = "export", "File export"
        SFTP = "sftp", "SFTP delivery"
        STATE_SUBMISSION = "state_submission", "State submission"
        OTHER = "other", "Other"

    student_id = models.BigIntegerField(db_index=True)
    recipient = models.CharField(max_length=200)
    recipient_kind = models.CharField(max_length=16, choices=RecipientKind.choices)
    basis = models.CharField(
        max_length=500,
        help_text="Legitimate interest or legal basis (FERPA exception) of the release",
    )
    contract_ref = models.CharField(max_length=100, blank=True)
    elements = models.JSONField(help_text="Names of the data elements released")
    channel = models.CharField(max_length=20, choices=Channel.choices)
    redisclosure_to = models.CharField(
        max_length=500, blank=True, help_text="Further parties allowed to receive it (99.32(b))"
    )
    disclosed_at = models.DateTimeField()
    audit_entry = models.ForeignKey(
        AuditEntry, on_delete=models.PROTECT, related_name="disclosures"
    )

    class Meta:
        ordering = ["-disclosed_at", "-id"]

    def __str__(self) -> str:
        return f"disclosure #{self.pk} to {self.recipient}"


class Alert(models.Model):
    """A monitoring rule fired on an audit entry; listed for and emailed to the security contact."""

    class Rule(models.TextChoices):
        BULK_READ = "bulk_read", "Bulk read"
        OUTSIDE_HOURS = "outside_hours", "Access outside working hours"
        NEW_DEVICE = "new_device", "New device for an account"
        NEW_SITE = "new_site", "New location for an account"
        FAILED_SIGNINS = "failed_signins", "Repeated sign-in failures"
        BREAK_GLASS = "break_glass", "Break-glass access"

    rule = models.CharField(max_length=20, choices=Rule.choices)
    # One alert per rule, actor and window: a repeat in the same window is not raised again.
    dedup_key = models.CharField(max_length=300, unique=True)
    actor_id = models.CharField(max_length=200)
    actor_username = models.CharField(max_length=150, blank=True)
    summary = models.CharField(max_length=500)
    entry = models.ForeignKey(AuditEntry, on_delete=models.PROTECT, related_name="alerts")
    raised_at = models.DateTimeField()
    emailed = models.BooleanField(default=False)

    class Meta:
        ordering = ["-raised_at", "-id"]

    def __str__(self) -> str:
        return f"alert #{self.pk} {self.rule}"


class ActorStudentRead(models.Model):
    """When an actor last read a student (successful read entries only): the bulk-read rule's
    window, kept so the rule needs no scan of the log (docs/adr/0037).

    Derived data, not evidence: written by ``record`` in the same transaction as the entry it
    comes from (so it never runs ahead of or behind the committed log), pruned after
    ``alerts.READ_WINDOW_KEEP``; the hashed log stays the truth and the rule re-checks the log
    before it raises.
    """

    actor_id = models.CharField(max_length=200)
    student_id = models.BigIntegerField()
    last_read_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["actor_id", "last_read_at"], name="audit_read_actor_time")]
        constraints = [
            models.UniqueConstraint(fields=["actor_id", "student_id"], name="audit_read_once")
        ]

    def __str__(self) -> str:
        return f"{self.actor_id} last read student #{self.student_id} at {self.last_read_at}"
