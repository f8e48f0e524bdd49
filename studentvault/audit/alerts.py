"""Monitoring rules over the audit log, and the alerts they raise.

Rules (settings read at call time):
- bulk read: one actor read more than ``AUDIT_BULK_READ_STUDENTS`` distinct students within
  ``AUDIT_BULK_READ_MINUTES`` (reads are actions whose last part is read, list, search, view or
  export);
- outside hours: a staff or vendor entry outside ``AUDIT_WORK_HOURS`` ("06:00-19:00", local
  time) or on a Saturday or Sunday;
- new device / new site: a successful sign-in from a device cookie or a site the account has not
  signed in from before (the first sign-in of an account sets the baseline and raises nothing);
- repeated failures: ``AUDIT_FAILED_SIGNINS`` failed sign-in steps for one username within
  ``AUDIT_FAILED_SIGNIN_MINUTES``, or any lockout;
- break-glass: any "access:breakglass:*" entry.

Cost (docs/adr/0037): the bulk-read rule first counts, with an index range bounded at the limit,
the actor's ``ActorStudentRead`` rows (last read per student, written with the entry) read since
the window's start; that number is never below the exact count, so at or under the limit it
decides "no alert" with O(limit) work and no scan of the log. Only above it, and when this
window has no alert yet, does the exact count over the log run (once per window in practice).
The other rules read nothing unless the entry is a sign-in, a failure or a lockout.

Invariants: rules run after the entry commits (never under the append lock); each alert has a
``dedup_key`` so one burst raises one alert per window (a key seen committed is remembered in
the process for ``KNOWN_RAISED_SECONDS``, so an outside-hours evening or a bulk-read window
already alerted costs no query per entry; alerts are never deleted, so this cannot hide one);
alert texts carry no student PII, only counts, sequence numbers and the staff username (escaped
when shown). Alerts are emailed to ``SECURITY_CONTACT_EMAIL`` through Django's mail backend; a
mail failure is logged and the alert stays listed with ``emailed`` false.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from time import monotonic as _monotonic

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from studentvault.core.actors import ActorKind

from .display import printable
from .models import ActorStudentRead, Alert, AuditEntry, AuditEntryStudent

logger = logging.getLogger(__name__)

READ_VERBS = frozenset({"read", "list", "search", "view", "export"})
# How long the bulk-read window keeps a last-read time (far longer than any sensible window).
READ_WINDOW_KEEP = timedelta(days=2)
SIGNIN_SUCCESS = "auth:login:success"


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def work_hours() -> tuple[time, time]:
    """The configured working hours, from ``AUDIT_WORK_HOURS`` ("HH:MM-HH:MM")."""
    text = str(getattr(settings, "AUDIT_WORK_HOURS", "06:00-19:00"))
    try:
        start_text, end_text = text.split("-")
        return time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
    except ValueError:
        raise ValueError(f"AUDIT_WORK_HOURS must look like 06:00-19:00, not {text!r}") from None


# Dedup keys of alerts known to be committed, with when that was seen (time.monotonic()):
# alerts are never deleted, so a key seen committed needs no second look for a while. Filled
# only outside transactions (a key seen inside one could still roll back).
_KNOWN_RAISED: dict[str, float] = {}
KNOWN_RAISED_SECONDS = 300.0
KNOWN_RAISED_MAX = 4096


def _known_raised(dedup_key: str) -> bool:
    seen = _KNOWN_RAISED.get(dedup_key)
    return seen is not None and _monotonic() - seen < KNOWN_RAISED_SECONDS


def _remember_raised(dedup_key: str) -> None:
    if connection.in_atomic_block:
        return
    if len(_KNOWN_RAISED) >= KNOWN_RAISED_MAX:
        _KNOWN_RAISED.clear()
    _KNOWN_RAISED[dedup_key] = _monotonic()


def _already_raised(dedup_key: str) -> bool:
    if _known_raised(dedup_key):
        return True
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {Alert._meta.db_table} WHERE dedup_key = %s", [dedup_key])  # noqa: S608 - table name from the model
        found = cursor.fetchone() is not None
    if found:
        _remember_raised(dedup_key)
    return found


def _bounded_reads(actor_id: str, since: datetime, cap: int, dedup_key: str) -> tuple[int, bool]:
    """(students the actor last read at or after ``since``, counted up to ``cap``; whether the
    alert ``dedup_key`` exists), in one round trip."""
    if _known_raised(dedup_key):
        return 0, True
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM {ActorStudentRead._meta.db_table} "  # noqa: S608 - table names from the models
            "WHERE actor_id = %s AND last_read_at >= %s LIMIT %s) AS recent), "
            f"EXISTS (SELECT 1 FROM {Alert._meta.db_table} WHERE dedup_key = %s)",
            [actor_id, connection.ops.adapt_datetimefield_value(since), cap, dedup_key],
        )
        row = cursor.fetchone()
    assert row is not None
    if row[1]:
        _remember_raised(dedup_key)
    return int(row[0]), bool(row[1])


def _raise(entry: AuditEntry, rule: Alert.Rule, dedup_key: str, summary: str) -> Alert | None:
    dedup_key = dedup_key[:300]
    if _already_raised(dedup_key):
        return None  # already raised in this window (the unique key settles races)
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                rule=rule,
                dedup_key=dedup_key,
                actor_id=entry.actor_id,
                actor_username=entry.actor_username,
                summary=summary[:500],
                entry=entry,
                raised_at=timezone.now(),
            )
    except IntegrityError:
        _remember_raised(dedup_key)
        return None  # already raised in this window
    _remember_raised(dedup_key)
    transaction.on_commit(lambda: _email(alert.pk))
    return alert


def _email(alert_id: int) -> None:
    contact = str(getattr(settings, "SECURITY_CONTACT_EMAIL", "") or "")
    if not contact:
        return
    alert = Alert.objects.get(pk=alert_id)
    subject = f"[StudentVault] {alert.get_rule_display()} ({printable(alert.actor_username)})"
    body = (
        f"Rule: {alert.get_rule_display()}\n"
        f"Account: {printable(alert.actor_username)} ({printable(alert.actor_id)})\n"
        f"What: {printable(alert.summary)}\n"
        f"Audit entry: {alert.entry_id}\n"
        f"Raised at: {alert.raised_at.isoformat()}\n"
    )
    try:
        send_mail(subject.replace("\n", " "), body, None, [contact])
    except Exception:
        logger.exception("audit alert %s could not be emailed", alert_id)
        return
    Alert.objects.filter(pk=alert_id).update(emailed=True)


def _verb(action: str) -> str:
    return action.rsplit(":", 1)[-1]


def window_covers(since: datetime) -> bool:
    """Whether ``ActorStudentRead`` still holds every read at or after ``since`` (rows are kept
    ``READ_WINDOW_KEEP``; a margin of a day covers clock differences between processes)."""
    return since >= timezone.now() - READ_WINDOW_KEEP + timedelta(days=1)


def prune_read_window() -> int:
    """Delete read-window rows older than ``READ_WINDOW_KEEP``; returns how many went."""
    deleted, _ = ActorStudentRead.objects.filter(
        last_read_at__lt=timezone.now() - READ_WINDOW_KEEP
    ).delete()
    return deleted


def _students_read(entry: AuditEntry, since: datetime) -> int:
    """The exact rule: distinct students in the actor's successful reads in [since, entry]."""
    rows = AuditEntryStudent.objects.filter(
        entry__actor_id=entry.actor_id,
        entry__occurred_at__gte=since,
        entry__occurred_at__lte=entry.occurred_at,
        entry__outcome="success",
    )
    is_read = Q()
    for verb in READ_VERBS:
        is_read |= Q(entry__action__endswith=f":{verb}")
    return rows.filter(is_read).values("student_id").distinct().count()


def _bulk_read(entry: AuditEntry) -> Alert | None:
    if _verb(entry.action) not in READ_VERBS or entry.student_ids == "[]":
        return None
    limit = _setting("AUDIT_BULK_READ_STUDENTS", 200)
    minutes = _setting("AUDIT_BULK_READ_MINUTES", 10)
    since = entry.occurred_at - timedelta(minutes=minutes)
    window = int(entry.occurred_at.timestamp() // (minutes * 60))
    dedup_key = f"bulk_read:{entry.actor_id}:{window}"
    if window_covers(since):
        # Students whose last read is at or after ``since``: every student the exact rule
        # counts is among them (its last read is no earlier than the read in the window), so
        # at most ``limit`` of them means no alert. Counting stops at limit + 1; the same
        # round trip asks whether this window's alert exists already.
        recent, raised = _bounded_reads(entry.actor_id, since, limit + 1, dedup_key[:300])
        if recent <= limit or raised:
            return None
    elif _already_raised(dedup_key[:300]):
        return None  # raised already in this window: no need to count
    count = _students_read(entry, since)
    if count <= limit:
        return None
    return _raise(
        entry,
        Alert.Rule.BULK_READ,
        dedup_key,
        f"{count} students read within {minutes} minutes (limit {limit}), up to entry {entry.seq}",
    )


def _outside_hours(entry: AuditEntry) -> Alert | None:
    if entry.actor_kind not in (ActorKind.STAFF, ActorKind.VENDOR):
        return None
    local = timezone.localtime(entry.occurred_at)
    start, end = work_hours()
    inside = local.weekday() < 5 and start <= local.time() < end
    if inside:
        return None
    return _raise(
        entry,
        Alert.Rule.OUTSIDE_HOURS,
        f"outside_hours:{entry.actor_id}:{local.date().isoformat()}",
        f"{entry.action} at {local:%a %Y-%m-%d %H:%M} local time, outside working hours "
        f"{start:%H:%M}-{end:%H:%M} Mon-Fri (entry {entry.seq})",
    )


def _new_device_or_site(entry: AuditEntry) -> list[Alert]:
    if entry.action != SIGNIN_SUCCESS:
        return []
    earlier = AuditEntry.objects.filter(
        actor_id=entry.actor_id, action=SIGNIN_SUCCESS, seq__lt=entry.seq
    )
    if not earlier.exists():
        return []  # first sign-in of the account: the baseline
    raised: list[Alert] = []
    if entry.device_id and not earlier.filter(device_id=entry.device_id).exists():
        alert = _raise(
            entry,
            Alert.Rule.NEW_DEVICE,
            f"new_device:{entry.actor_id}:{entry.device_id}",
            f"sign-in from a new device: {entry.device or 'unknown device'} (entry {entry.seq})",
        )
        if alert:
            raised.append(alert)
    if entry.site and not earlier.filter(site=entry.site).exists():
        alert = _raise(
            entry,
            Alert.Rule.NEW_SITE,
            f"new_site:{entry.actor_id}:{entry.site}",
            f"sign-in from a new location: {entry.site} (entry {entry.seq})",
        )
        if alert:
            raised.append(alert)
    return raised


def _failed_signins(entry: AuditEntry) -> Alert | None:
    if not entry.action.startswith("auth:"):
        return None
    if entry.action.endswith(":lockout"):
        return _raise(
            entry,
            Alert.Rule.FAILED_SIGNINS,
            f"lockout:{entry.seq}",
            f"account locked out after failed sign-ins (entry {entry.seq})",
        )
    if entry.outcome != "failure" or not entry.actor_username:
        return None
    limit = _setting("AUDIT_FAILED_SIGNINS", 5)
    minutes = _setting("AUDIT_FAILED_SIGNIN_MINUTES", 15)
    count = AuditEntry.objects.filter(
        actor_username=entry.actor_username,
        action__startswith="auth:",
        outcome="failure",
        occurred_at__gte=entry.occurred_at - timedelta(minutes=minutes),
        occurred_at__lte=entry.occurred_at,
    ).count()
    if count < limit:
        return None
    window = int(entry.occurred_at.timestamp() // (minutes * 60))
    return _raise(
        entry,
        Alert.Rule.FAILED_SIGNINS,
        f"failed_signins:{entry.actor_username}:{window}",
        f"{count} failed sign-in steps within {minutes} minutes (entry {entry.seq})",
    )


def _break_glass(entry: AuditEntry) -> Alert | None:
    if not entry.action.startswith("access:breakglass:"):
        return None
    return _raise(
        entry,
        Alert.Rule.BREAK_GLASS,
        f"break_glass:{entry.seq}",
        f"break-glass {entry.action.rsplit(':', 1)[-1]} (entry {entry.seq})",
    )


def evaluate_rules(seq: int, *, entry: AuditEntry | None = None) -> list[Alert]:
    """Run every monitoring rule on entry ``seq``; return the alerts newly raised.

    ``entry`` is the committed entry when the writer has it in hand (no second read).
    """
    if entry is None or entry.seq != seq:
        entry = AuditEntry.objects.filter(seq=seq).first()
    if entry is None:
        return []
    raised: list[Alert] = []
    for rule in (_bulk_read, _outside_hours, _failed_signins, _break_glass):
        alert = rule(entry)
        if alert is not None:
            raised.append(alert)
    raised.extend(_new_device_or_site(entry))
    return raised


def open_alerts() -> list[Alert]:
    """Alerts for the security contact's list, newest first."""
    return list(Alert.objects.select_related("entry")[:500])
