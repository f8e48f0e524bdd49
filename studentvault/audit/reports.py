"""Access reports: who accessed a student's record, what a person accessed; CSV export.

Selectors return querysets of ``AuditEntry``; filters are optional and combine. The CSV writer
escapes every cell against formula injection (``core.csv_safe``) and shows control characters
as visible escapes (``display.printable``) so one entry is one row.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import datetime
from typing import TextIO

from django.db.models import QuerySet

from studentvault.core.categories import DataCategory
from studentvault.core.csv_safe import safe_row

from .display import printable
from .models import AuditEntry


def _filtered(
    entries: QuerySet[AuditEntry],
    *,
    since: datetime | None,
    until: datetime | None,
    action: str | None,
    category: DataCategory | None,
) -> QuerySet[AuditEntry]:
    if since is not None:
        entries = entries.filter(occurred_at__gte=since)
    if until is not None:
        entries = entries.filter(occurred_at__lt=until)
    if action:
        # "records:student:read" exactly, or a prefix ending in ":" such as "records:".
        entries = (
            entries.filter(action__startswith=action)
            if action.endswith(":")
            else entries.filter(action=action)
        )
    if category is not None:
        entries = entries.filter(categories__contains=f",{DataCategory(category).value},")
    return entries.order_by("seq")


def entries_for_student(
    student_id: int,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    action: str | None = None,
    category: DataCategory | None = None,
) -> QuerySet[AuditEntry]:
    """Every audit entry concerning ``student_id`` ("who accessed this record"), oldest first."""
    entries = AuditEntry.objects.filter(student_rows__student_id=student_id)
    return _filtered(entries, since=since, until=until, action=action, category=category)


def entries_for_actor(
    actor_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    action: str | None = None,
    category: DataCategory | None = None,
) -> QuerySet[AuditEntry]:
    """Every audit entry made by ``actor_id`` ("what did this person access"), oldest first."""
    entries = AuditEntry.objects.filter(actor_id=actor_id)
    return _filtered(entries, since=since, until=until, action=action, category=category)


CSV_HEADER = [
    "seq",
    "occurred_at",
    "actor_id",
    "username",
    "role",
    "action",
    "outcome",
    "students",
    "categories",
    "purpose",
    "target",
    "client_ip",
    "device",
    "device_id",
    "site",
    "details",
]


def entry_row(entry: AuditEntry) -> list[str]:
    """One entry as display-safe text cells (control characters escaped)."""
    values = [
        str(entry.seq),
        entry.occurred_at.isoformat(),
        entry.actor_id,
        entry.actor_username,
        entry.actor_role,
        entry.action,
        entry.outcome,
        " ".join(str(s) for s in entry.student_list),
        " ".join(entry.category_list),
        entry.purpose,
        entry.target,
        entry.client_ip,
        entry.device,
        entry.device_id,
        entry.site,
        entry.details,
    ]
    return [printable(v) for v in values]


def write_csv(entries: Iterable[AuditEntry], out: TextIO) -> int:
    """Write ``entries`` as CSV with formula-safe cells; return the number of rows written."""
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    count = 0
    for entry in entries:
        writer.writerow(safe_row(entry_row(entry)))
        count += 1
    return count


def format_line(entry: AuditEntry) -> str:
    """One entry as one terminal line (every field escaped)."""
    cells = entry_row(entry)
    return " | ".join(cells[:11] + cells[12:15])
