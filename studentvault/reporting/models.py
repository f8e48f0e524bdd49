"""Published reports: what the public may read, with the rule set and audit that allowed it.

Invariant: ``publication`` is what ``DisclosureResult.publication()`` (and the rate and median
equivalents) returned for a report whose every table passed the disclosure audit: display
texts only, a suppressed cell as "*", never a true value or a reason code. ``checksum`` is the
SHA-256 of its canonical JSON, so a later edit of the stored text is detectable.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import models


def canonical_json(document: Any) -> str:
    """The one JSON text a publication is hashed and served as."""
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def publication_checksum(document: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``document``."""
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


class PublishedReport(models.Model):
    """One aggregate report released to the public; written only by ``report_publish``."""

    name = models.CharField(max_length=60, help_text="Report definition name, e.g. enrollment")
    title = models.CharField(max_length=200)
    school_year = models.PositiveSmallIntegerField(
        help_text="Ending calendar year (2027 = 2026-27)"
    )
    rule_set = models.CharField(max_length=60, help_text="Disclosure rule set that was applied")
    generated_at = models.DateTimeField()
    generated_by = models.CharField(max_length=120, help_text="Actor id, e.g. user:17")
    audit_passed = models.BooleanField(
        help_text="Every table passed the disclosure audit (always true: others are refused)"
    )
    publication = models.JSONField(help_text="Display texts only; no suppressed value")
    checksum = models.CharField(max_length=64, help_text="SHA-256 of the canonical JSON")

    class Meta:
        ordering = ["-generated_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(audit_passed=True), name="published_report_audit_passed"
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.school_year})"

    def checksum_matches(self) -> bool:
        """True when the stored publication still hashes to the recorded checksum."""
        return publication_checksum(self.publication) == self.checksum
