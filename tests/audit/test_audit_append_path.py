"""The append path of the API read (ADR 0065): prepare/append, the PostgreSQL append function
(hash checked against chain.py, a mismatch refused and rolled back), no savepoint of its own,
and the alert dedup keys remembered only once committed."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from audit_helpers import staff
from django.conf import LazySettings
from django.db import DatabaseError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from studentvault import audit
from studentvault.audit import alerts, chain, disclosures, writer
from studentvault.audit.models import (
    ActorStudentRead,
    Alert,
    AuditEntry,
    AuditEntryStudent,
    Disclosure,
)
from studentvault.audit.verify import verify_log
from studentvault.audit.writer import AuditError

# A Saturday, 23:00 in America/Denver: outside working hours.
SATURDAY_NIGHT = datetime(2025, 9, 7, 5, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def forget_known_alerts() -> Iterator[None]:
    alerts._KNOWN_RAISED.clear()
    yield
    alerts._KNOWN_RAISED.clear()


@pytest.mark.django_db
def test_prepare_then_append_is_record_and_the_chain_verifies() -> None:
    first = audit.record(actor=staff(), action="records:student:read", students=[3, 1])
    prepared = writer.prepare(
        actor=staff(8), action="records:student:read", students=[2], categories=["enrollment"]
    )
    assert AuditEntry.objects.count() == 1  # preparing writes nothing
    second = writer.append(prepared)
    third = audit.record(actor=staff(), action="exchange:disclosure:create", students=[2])
    assert [first.seq, second.seq, third.seq] == [1, 2, 3]
    stored = AuditEntry.objects.get(seq=2)
    assert stored.prev_hash == first.entry_hash and third.prev_hash == stored.entry_hash
    fields = {name: getattr(stored, name) for name in chain.HASHED_FIELDS}
    assert stored.entry_hash == chain.entry_hash(fields) == second.entry_hash
    assert list(
        AuditEntryStudent.objects.filter(entry_id=2).values_list("student_id", flat=True)
    ) == [2]
    assert set(ActorStudentRead.objects.values_list("actor_id", "student_id")) == {
        ("user:7", 1),
        ("user:7", 3),
        ("user:8", 2),
    }
    assert verify_log().ok


@pytest.mark.django_db
def test_prepare_refuses_what_record_refuses() -> None:
    with pytest.raises(AuditError, match="source:subject:action"):
        writer.prepare(actor=staff(), action="Read")
    with pytest.raises(AuditError, match="positive integer"):
        writer.prepare(actor=staff(), action="records:student:read", students=[0])
    assert AuditEntry.objects.count() == 0


@pytest.mark.django_db
def test_postgres_hash_disagreeing_with_chain_py_is_refused(monkeypatch: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the append function exists on PostgreSQL only")
    audit.record(actor=staff(), action="records:student:read", students=[1])
    # chain.py changed (or the SQL drifted): the hash the function stored is not chain.py's.
    real = chain.entry_hash
    monkeypatch.setattr(chain, "entry_hash", lambda fields: real({**fields, "target": "x"}))
    with pytest.raises(AuditError, match="disagree"), transaction.atomic():
        audit.record(actor=staff(), action="records:student:read", students=[2])
    assert list(AuditEntry.objects.values_list("seq", flat=True)) == [1]
    assert not AuditEntryStudent.objects.filter(student_id=2).exists()


@pytest.mark.django_db
def test_a_failed_append_dooms_the_callers_transaction(monkeypatch: Any) -> None:
    """No savepoint of its own: the caller cannot catch the failure and commit its change."""
    audit.record(actor=staff(), action="records:student:read", students=[1])

    def broken(*args: Any, **kwargs: Any) -> None:
        raise AuditError("simulated append failure")

    with transaction.atomic():
        audit.record(actor=staff(), action="records:student:read", students=[5])
        monkeypatch.setattr(writer, "_append_postgres", broken)
        monkeypatch.setattr(writer, "_lock_and_read_head", broken)
        with contextlib.suppress(AuditError):
            audit.record(actor=staff(), action="records:student:read", students=[6])
        # leaving the block normally: Django rolls the whole transaction back
    assert list(AuditEntry.objects.values_list("seq", flat=True)) == [1]


@pytest.mark.django_db(transaction=True)
def test_a_committed_alert_key_costs_no_query_the_next_time(settings: LazySettings) -> None:
    settings.TIME_ZONE = "America/Denver"
    settings.AUDIT_ALERTS_INLINE = True
    settings.AUDIT_CHECKPOINT_EVERY = 0
    actor = staff()
    audit.record(
        actor=actor, action="records:student:read", students=[1], occurred_at=SATURDAY_NIGHT
    )
    assert Alert.objects.filter(rule=Alert.Rule.OUTSIDE_HOURS).count() == 1
    with CaptureQueriesContext(connection) as captured:
        audit.record(
            actor=actor, action="records:student:read", students=[1], occurred_at=SATURDAY_NIGHT
        )
    assert not [q for q in captured.captured_queries if "outside_hours" in q["sql"]]
    assert Alert.objects.filter(rule=Alert.Rule.OUTSIDE_HOURS).count() == 1


@pytest.mark.django_db
def test_alert_keys_seen_inside_a_transaction_are_not_remembered(settings: LazySettings) -> None:
    """A key seen inside a transaction could still roll back: it is looked up again."""
    settings.TIME_ZONE = "America/Denver"
    actor = staff()
    entry = audit.record(
        actor=actor, action="records:student:read", students=[1], occurred_at=SATURDAY_NIGHT
    )
    assert alerts.evaluate_rules(entry.seq, entry=entry)  # raised, inside the test transaction
    assert not alerts._KNOWN_RAISED
    assert alerts.evaluate_rules(entry.seq, entry=entry) == []  # found in the table instead


def _release(student: int) -> tuple[writer.PreparedEntry, list[dict[str, object]]]:
    return disclosures.prepare_disclosure(
        actor=staff(),
        students=[student],
        recipient="Synthetic Assessments Inc",
        recipient_kind="vendor",
        basis="Deliver interim assessments",
        contract_ref="contract:1",
        elements=["student.first_name"],
        channel="api",
    )


@pytest.mark.django_db(transaction=True)
def test_append_many_in_autocommit_writes_entries_and_disclosures_in_order(
    settings: LazySettings,
) -> None:
    """On PostgreSQL outside a transaction: one statement; elsewhere: one transaction."""
    settings.AUDIT_CHECKPOINT_EVERY = 0
    audit.record(actor=staff(), action="auth:login:success")
    disclosure, rows = _release(4)
    read = writer.prepare(actor=staff(), action="records:student:read", students=[4])
    appended = writer.append_many([disclosure, read], rows)
    assert [e.seq for e in appended] == [2, 3]
    assert [e.action for e in AuditEntry.objects.order_by("seq")] == [
        "auth:login:success",
        "exchange:disclosure:create",
        "records:student:read",
    ]
    stored = Disclosure.objects.get()
    assert (stored.audit_entry_id, stored.student_id) == (2, 4)
    assert stored.elements == ["student.first_name"] and stored.channel == "api"
    assert stored.disclosed_at == AuditEntry.objects.get(seq=2).occurred_at
    assert appended[1].entry_hash == AuditEntry.objects.get(seq=3).entry_hash
    assert ActorStudentRead.objects.filter(actor_id="user:7", student_id=4).exists()
    assert verify_log().ok


@pytest.mark.django_db(transaction=True)
def test_append_many_is_all_or_nothing(settings: LazySettings) -> None:
    settings.AUDIT_CHECKPOINT_EVERY = 0
    disclosure, rows = _release(4)
    rows[0]["student_id"] = None  # NOT NULL: the disclosure insert fails
    read = writer.prepare(actor=staff(), action="records:student:read", students=[4])
    with pytest.raises(DatabaseError):
        writer.append_many([disclosure, read], rows)
    assert AuditEntry.objects.count() == 0 and Disclosure.objects.count() == 0
    with pytest.raises(AuditError, match="names entry"):
        writer.append_many([read], [{**rows[0], "entry": 1}])
    assert AuditEntry.objects.count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("grouped", [False, True], ids=["alone", "grouped"])
def test_concurrent_append_many_keeps_the_chain_gap_free(
    settings: LazySettings, grouped: bool
) -> None:
    settings.AUDIT_GROUP_APPEND = grouped
    settings.AUDIT_CHECKPOINT_EVERY = 0
    settings.AUDIT_ALERTS_INLINE = False
    if connection.vendor != "postgresql":
        pytest.skip("SQLite in-memory test databases are not shared between threads")

    def reader(n: int) -> None:
        try:
            for i in range(5):
                disclosure, rows = _release(100 * n + i + 1)
                read = writer.prepare(
                    actor=staff(n), action="records:student:read", students=[100 * n + i + 1]
                )
                writer.append_many([disclosure, read], rows)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True)) == list(
        range(1, 81)
    )
    assert Disclosure.objects.count() == 40
    for entry in AuditEntry.objects.filter(action="exchange:disclosure:create"):
        read = AuditEntry.objects.get(seq=entry.seq + 1)  # each pair is appended together
        assert read.action == "records:student:read" and read.student_ids == entry.student_ids
    assert verify_log().ok


@pytest.mark.django_db(transaction=True)
def test_group_append_writes_a_batch_at_once_and_isolates_a_bad_request(
    settings: LazySettings,
) -> None:
    """Requests queued by several threads are appended in one call; when one of them would
    fail that call, each is appended alone and only the faulty one fails."""
    if connection.vendor != "postgresql":
        pytest.skip("the group append serves the PostgreSQL autocommit path only")
    settings.AUDIT_CHECKPOINT_EVERY = 0
    settings.AUDIT_ALERTS_INLINE = False

    def request(student: int, *, bad: bool = False) -> writer._Request:
        disclosure, rows = _release(student)
        if bad:
            rows[0]["student_id"] = None  # NOT NULL: this request's insert fails
        read = writer.prepare(actor=staff(), action="records:student:read", students=[student])
        return writer._Request("default", [disclosure, read], rows)

    group = writer._GroupAppend()
    together = [request(1), request(2)]
    group._run(together)
    assert [[e.seq for e in r.result or []] for r in together] == [[1, 2], [3, 4]]
    mixed = [request(3), request(4, bad=True), request(5)]
    group._run(mixed)
    assert all(r.finished for r in mixed)
    assert isinstance(mixed[1].error, DatabaseError) and mixed[1].result is None
    assert [[e.seq for e in r.result or []] for r in (mixed[0], mixed[2])] == [[5, 6], [7, 8]]
    assert sorted(Disclosure.objects.values_list("student_id", "audit_entry_id")) == [
        (1, 1),
        (2, 3),
        (3, 5),
        (5, 7),
    ]
    assert verify_log().ok


@pytest.mark.django_db(transaction=True)
def test_each_caller_runs_its_own_after_commit_work(
    settings: LazySettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a group append the leader writes everyone's entries, but the rules and checkpoints
    of an entry run in the thread that asked for it (ADR 0079), so no request waits for
    another request's rules."""
    if connection.vendor != "postgresql":
        pytest.skip("the group append serves the PostgreSQL autocommit path only")
    settings.AUDIT_GROUP_APPEND = True
    ran_in: dict[int, int] = {}
    monkeypatch.setattr(writer, "_after_commit", lambda e: ran_in.__setitem__(e.seq, _me()))
    execute, calls = writer._execute_many, []
    started = threading.Barrier(4)

    def slow_execute(*args: Any) -> Any:
        calls.append(len(args[1]))
        if len(calls) == 1:
            threading.Event().wait(0.3)  # the first leader holds the lead while others queue
        return execute(*args)

    monkeypatch.setattr(writer, "_execute_many", slow_execute)
    asked_by: dict[int, int] = {}

    def reader(n: int) -> None:
        try:
            started.wait()
            disclosure, rows = _release(n)
            read = writer.prepare(actor=staff(n), action="records:student:read", students=[n])
            for entry in writer.append_many([disclosure, read], rows):
                asked_by[entry.seq] = _me()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert max(calls) > 2, "no group formed: the test proves nothing"
    assert sorted(ran_in) == list(range(1, 9))
    assert ran_in == asked_by


def _me() -> int:
    return threading.get_ident()
