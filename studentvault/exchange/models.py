"""Import history, saved column mappings and SFTP keys.

No model here holds a student value: an import run keeps file names, SHA-256 hashes, counts and
an error report whose entries name file, line, field and the kind of value found, never the value.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ImportRun(models.Model):
    """One import of one or more files: who, when, which files (SHA-256), outcome and counts.

    Created by ``exchange.services.new_run`` (for the command line, the import screens and
    the jobs they queue) and completed by ``exchange.services.import_files``, or marked failed
    by ``exchange.jobs.run_job`` when the job crashed; kept as the import history.
    """

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        PREVIEWED = "previewed", "Previewed (dry run, nothing stored)"
        COMMITTED = "committed", "Committed"
        REJECTED = "rejected", "Rejected (nothing stored)"
        FAILED = "failed", "Failed (nothing stored)"

    actor_id = models.CharField(max_length=100)
    actor_username = models.CharField(max_length=150)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    format = models.CharField(max_length=40)
    dry_run = models.BooleanField(default=False)
    channel = models.CharField(max_length=20, default="cli")
    files = models.JSONField(default=list, help_text="[{name, sha256, bytes}] of every file")
    mapping = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    added = models.PositiveBigIntegerField(default=0)
    changed = models.PositiveBigIntegerField(default=0)
    unchanged = models.PositiveBigIntegerField(default=0)
    errors = models.PositiveBigIntegerField(default=0)
    rows_done = models.PositiveBigIntegerField(default=0)
    rows_total = models.PositiveBigIntegerField(default=0)
    report = models.JSONField(
        default=dict, help_text="Per-file counts, column mapping notes, preview and errors"
    )
    job_id = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"Import #{self.pk} {self.format} {self.status}"


class ColumnMapping(models.Model):
    """A saved custom column mapping for one import format: source header -> canonical column.

    Created by staff who import; a run names the mapping it used.
    """

    name = models.CharField(max_length=100)
    format = models.CharField(max_length=40)
    columns = models.JSONField(default=dict, help_text="{source header: canonical column}")
    options = models.JSONField(default=dict, help_text="Format options (e.g. code maps)")
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["format", "name"], name="mapping_name_unique")
        ]

    def __str__(self) -> str:
        return f"{self.format}:{self.name}"


class SftpKey(models.Model):
    """An SSH public key that lets one account sign in to the SFTP gateway (key-only login)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sftp_keys"
    )
    public_key = models.TextField()
    fingerprint = models.CharField(max_length=100, unique=True)
    comment = models.CharField(max_length=200, blank=True)
    added_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"SFTP key {self.fingerprint}"
