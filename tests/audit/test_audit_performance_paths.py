"""The fast paths of verify and of the bulk-read rule give the reference answers.

Verify on PostgreSQL builds canonical bytes from COPY text (docs/adr/0036); these tests check
that it accepts exactly what the reference code accepts, across chunk boundaries and for bytes
that COPY or JSON escape. The bulk-read rule counts a bounded read window first (ADR 0037);
these tests check it raises exactly when the exact count over the log says so.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from audit_helpers import staff, tamper
from django.conf import LazySettings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from studentvault import audit
from studentvault.audit import alerts, chain, verify
from studentvault.audit.checkpoints import write_checkpoint
from studentvault.audit.models import ActorStudentRead, Alert

pytestmark = pytest.mark.django_db

HOSTILE = [
    'quote " and backslash \\ and \\N and \\t literally',
    "tab\there, newline\nthere, return\r, escape \x1b[2J, bell \x07, nul-free \x01\x1f",
    "Zoë 李 \u202e \u2028 \x7f",
    "\\",
    "",
]


def _fill_mixed(count: int) -> None:
    for n in range(count):
        text = HOSTILE[n % len(HOSTILE)] if n % 3 == 0 else "plain"
        audit.record(
            actor=staff(n % 4, username=f"user{text}", user_agent=text),
            action="records:student:read",
            students=[n + 1, n + 500] if n % 2 else [],
            purpose=text,
            details={"note": text, "n": n},
            occurred_at=datetime(2025, 9, 3, 16, 0, n % 60, n * 7 % 1_000_000, tzinfo=UTC),
        )


def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the COPY fast path is PostgreSQL's; SQLite runs the reference pass")


def test_fast_and_reference_passes_agree_on_hostile_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    _postgres_only()
    _fill_mixed(40)
    write_checkpoint()
    monkeypatch.setattr(verify, "COPY_CHUNK", 7)  # many chunk boundaries

    def no_reference(*args: Any) -> bool:
        raise AssertionError("a clean row fell back to the reference check")

    monkeypatch.setattr(verify, "_check_one", no_reference)
    fast = verify.verify_log()
    monkeypatch.undo()
    reference = verify.verify_log(fast=False)
    assert fast.ok and reference.ok, (fast.findings, reference.findings)
    assert (fast.entries, fast.head, fast.checkpoints_checked) == (
        reference.entries,
        reference.head,
        reference.checkpoints_checked,
    )


def test_copy_timestamps_are_the_canonical_text() -> None:
    _postgres_only()
    moments = [
        datetime(2025, 1, 1, 0, 0, 0, 0, tzinfo=UTC),
        datetime(2025, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2026, 3, 8, 2, 30, 0, 1, tzinfo=UTC),
        timezone.localtime(timezone.now()),
    ]
    for moment in moments:
        audit.record(actor=staff(), action="auth:login:success", occurred_at=moment)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT occurred_at, {verify._SQL_TIMESTAMP} FROM audit_auditentry e ORDER BY seq"  # noqa: S608
        )
        for stored, text in cursor.fetchall():
            assert text == chain.timestamp_text(stored)


@pytest.mark.parametrize("chunk", [2, 50_000])
def test_tampering_is_named_the_same_across_chunks(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    _postgres_only()
    monkeypatch.setattr(verify, "COPY_CHUNK", chunk)
    _fill_mixed(9)
    tamper([("UPDATE audit_auditentry SET purpose = 'x' WHERE seq = 6", [])])
    fast = verify.verify_log()
    reference = verify.verify_log(fast=False)
    assert fast.findings == reference.findings
    assert (fast.findings[0].kind, fast.findings[0].seq) == ("modified", 6)


def test_index_disagreement_is_named_once_at_the_first_entry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _postgres_only()
    monkeypatch.setattr(verify, "COPY_CHUNK", 3)
    _fill_mixed(10)
    tamper(
        [
            ("DELETE FROM audit_auditentrystudent WHERE entry_id = 8", []),
            ("DELETE FROM audit_auditentrystudent WHERE entry_id = 4 AND student_id = 4", []),
        ]
    )
    assert [(f.kind, f.seq) for f in verify.verify_log().findings] == [("index", 4)]
    assert verify.verify_log(check_index=False).ok


def test_read_window_moves_forward_only_with_successful_reads() -> None:
    now = timezone.now()
    audit.record(actor=staff(), action="records:student:read", students=[1, 2], occurred_at=now)
    audit.record(
        actor=staff(), action="records:student:read", students=[2], occurred_at=now - timedelta(1)
    )
    audit.record(actor=staff(), action="records:student:update", students=[3], occurred_at=now)
    audit.record(
        actor=staff(),
        action="records:student:read",
        outcome="denied",
        students=[4],
        occurred_at=now,
    )
    rows = dict(ActorStudentRead.objects.values_list("student_id", "last_read_at"))
    assert rows == {1: now, 2: now}


def _random_reads(seed: int) -> list[tuple[int, list[int], int]]:
    chooser = random.Random(seed)
    return [
        (
            chooser.choice([1, 2]),
            chooser.sample(range(1, 40), chooser.randint(1, 4)),
            chooser.randint(0, 25),  # minutes after the start
        )
        for _ in range(40)
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bounded_window_raises_exactly_what_the_exact_count_raises(
    settings: LazySettings,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
    seed: int,
) -> None:
    settings.AUDIT_BULK_READ_STUDENTS = 6
    settings.AUDIT_BULK_READ_MINUTES = 5
    start = timezone.now() - timedelta(hours=1)
    reads = sorted(_random_reads(seed), key=lambda r: r[2])

    def replay(first_actor: int) -> list[tuple[int, str, str]]:
        for actor, students, minutes in reads:
            with django_capture_on_commit_callbacks(execute=True):
                audit.record(
                    actor=staff(first_actor + actor),
                    action="records:student:list",
                    students=students,
                    occurred_at=start + timedelta(minutes=minutes),
                )
        raised = Alert.objects.filter(
            rule="bulk_read", actor_id__startswith=f"user:{first_actor // 100}"
        )
        return sorted(
            (int(key.split(":")[2]) - first_actor, key.split(":")[3], summary.split(", up to")[0])
            for key, summary in raised.values_list("dedup_key", "summary")
        )

    with monkeypatch.context() as exact_only:
        exact_only.setattr(alerts, "window_covers", lambda since: False)
        exact = replay(100)
    fast = replay(200)
    assert fast == exact
    assert fast  # the seeds do cross the limit


def test_a_reader_under_the_limit_never_scans_the_log(
    settings: LazySettings, django_capture_on_commit_callbacks: Any
) -> None:
    settings.AUDIT_BULK_READ_STUDENTS = 50
    settings.AUDIT_WORK_HOURS = "00:00-23:59"
    now = timezone.now()
    for n in range(5):
        audit.record(
            actor=staff(), action="records:student:read", students=[n + 1], occurred_at=now
        )
    entry = audit.record(actor=staff(), action="records:student:read", students=[9])
    with CaptureQueriesContext(connection) as queries:
        alerts._bulk_read(entry)
    assert len(queries) == 1
    assert "audit_actorstudentread" in queries[0]["sql"]
    assert "audit_auditentrystudent" not in queries[0]["sql"]


def test_old_entries_use_the_exact_count_and_pruning_keeps_recent_reads() -> None:
    old = timezone.now() - alerts.READ_WINDOW_KEEP - timedelta(hours=1)
    assert not alerts.window_covers(old)
    assert alerts.window_covers(timezone.now() - timedelta(minutes=10))
    audit.record(actor=staff(), action="records:student:read", students=[1], occurred_at=old)
    audit.record(actor=staff(), action="records:student:read", students=[2])
    assert alerts.prune_read_window() == 1
    assert list(ActorStudentRead.objects.values_list("student_id", flat=True)) == [2]
