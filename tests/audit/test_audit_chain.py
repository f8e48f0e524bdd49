"""The hash chain: appends, append-only triggers, and tampering caught and located by verify."""

from __future__ import annotations

import json

import pytest
from audit_helpers import staff, tamper
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, IntegrityError, connection, transaction

from studentvault import audit
from studentvault.audit import chain
from studentvault.audit.checkpoints import checkpoint_path, read_checkpoints, write_checkpoint
from studentvault.audit.models import AuditEntry, AuditEntryStudent
from studentvault.audit.verify import verify_log
from studentvault.audit.writer import AuditError
from studentvault.core.categories import DataCategory

pytestmark = pytest.mark.django_db


def _fill(count: int) -> list[AuditEntry]:
    return [
        audit.record(
            actor=staff(),
            action="records:student:read",
            students=[100 + n, 200 + n],
            categories=[DataCategory.DEMOGRAPHICS],
            purpose="class roster",
        )
        for n in range(count)
    ]


def _rehash_from(first: int) -> list[tuple[str, list[object]]]:
    """SQL that recomputes every hash from ``first`` on, as a careful attacker would."""
    statements: list[tuple[str, list[object]]] = []
    rows = list(AuditEntry.objects.order_by("seq").values())
    previous = chain.GENESIS_HASH
    for row in rows:
        if row["seq"] >= first:
            row["prev_hash"] = previous
            row["entry_hash"] = chain.entry_hash(row)
            statements.append(
                (
                    "UPDATE audit_auditentry SET prev_hash = %s, entry_hash = %s WHERE seq = %s",
                    [row["prev_hash"], row["entry_hash"], row["seq"]],
                )
            )
        previous = row["entry_hash"]
    return statements


def _verify_fails(kind: str, seq: int) -> str:
    report = verify_log()
    assert not report.ok
    first = report.findings[0]
    assert (first.kind, first.seq) == (kind, seq), report.findings
    with pytest.raises(CommandError) as failure:
        call_command("audit", "verify")
    assert failure.value.returncode == 1
    assert f"{kind} at entry {seq}" in str(failure.value)
    return first.message


def test_entries_are_gap_free_chained_and_hold_no_pii_values() -> None:
    entries = _fill(3)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == chain.GENESIS_HASH
    assert entries[1].prev_hash == entries[0].entry_hash
    stored = AuditEntry.objects.get(seq=2)
    assert stored.student_list == [101, 201]
    assert stored.category_list == ["demographics"]
    assert stored.site == "outside district"  # no network sites configured
    assert stored.device.startswith("Firefox 128 on Linux")
    assert chain.entry_hash(AuditEntry.objects.filter(seq=2).values().get()) == stored.entry_hash
    assert set(
        AuditEntryStudent.objects.filter(entry=stored).values_list("student_id", flat=True)
    ) == {
        101,
        201,
    }


def test_every_column_is_covered_by_the_hash() -> None:
    columns = {f.column for f in AuditEntry._meta.concrete_fields}
    assert columns - {"entry_hash"} == set(chain.HASHED_FIELDS)


def test_bad_arguments_are_refused_with_the_reason() -> None:
    with pytest.raises(AuditError, match="source:subject:action"):
        audit.record(actor=staff(), action="read student")
    with pytest.raises(AuditError, match="positive integer primary key"):
        audit.record(actor=staff(), action="records:student:read", students=["Jane Doe"])  # type: ignore[list-item]
    with pytest.raises(AuditError, match="not a data category"):
        audit.record(actor=staff(), action="records:student:read", categories=["shoe_size"])
    with pytest.raises(AuditError, match="must be a string"):
        audit.record(actor=staff(), action="records:student:read", details={"x": 1.5})  # type: ignore[dict-item]
    assert AuditEntry.objects.count() == 0


def test_entry_rolls_back_with_the_callers_transaction() -> None:
    _fill(1)
    with pytest.raises(RuntimeError), transaction.atomic():
        audit.record(actor=staff(), action="records:student:update", students=[5])
        raise RuntimeError("the change failed")
    assert list(AuditEntry.objects.values_list("seq", flat=True)) == [1]
    nxt = audit.record(actor=staff(), action="records:student:update", students=[5])
    assert nxt.seq == 2  # no gap left by the rolled-back entry
    assert verify_log().ok


def test_the_database_refuses_update_delete_and_truncate() -> None:
    _fill(2)
    for sql in (
        "UPDATE audit_auditentry SET action = 'x:y:z' WHERE seq = 1",
        "DELETE FROM audit_auditentry WHERE seq = 2",
        "DELETE FROM audit_auditentrystudent",
        "UPDATE audit_auditentrystudent SET student_id = 1",
    ):
        with (
            pytest.raises((DatabaseError, IntegrityError)) as refused,
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
        assert "append-only" in str(refused.value)
    if connection.vendor == "postgresql":
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("TRUNCATE audit_auditentrystudent")
    assert AuditEntry.objects.count() == 2


def test_a_clean_log_verifies_and_verify_writes_a_checkpoint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _fill(5)
    call_command("audit", "verify")
    out = capsys.readouterr().out
    assert "audit log OK: 5 entries" in out
    assert read_checkpoints()[-1].size == 5
    call_command("audit", "verify")
    assert "matches signed checkpoint" in capsys.readouterr().out


def test_an_edited_entry_is_named() -> None:
    _fill(6)
    tamper([("UPDATE audit_auditentry SET purpose = 'nothing to see' WHERE seq = 4", [])])
    assert "entry 4 was modified" in _verify_fails("modified", 4)


def test_an_edited_student_list_is_named() -> None:
    _fill(6)
    tamper([("UPDATE audit_auditentry SET student_ids = '[101]' WHERE seq = 2", [])])
    _verify_fails("modified", 2)


def test_an_edited_and_re_hashed_entry_is_named() -> None:
    _fill(6)
    row = AuditEntry.objects.filter(seq=3).values().get()
    row["actor_id"] = "user:1"
    tamper(
        [
            (
                "UPDATE audit_auditentry SET actor_id = %s, entry_hash = %s WHERE seq = 3",
                ["user:1", chain.entry_hash(row)],
            )
        ]
    )
    assert "no longer links" in _verify_fails("modified", 3)


def test_a_deleted_middle_entry_is_named() -> None:
    _fill(6)
    tamper(
        [
            ("DELETE FROM audit_auditentrystudent WHERE entry_id = 3", []),
            ("DELETE FROM audit_auditentry WHERE seq = 3", []),
        ]
    )
    assert "missing" in _verify_fails("deleted", 3)


def test_a_deleted_entry_with_renumbering_is_named() -> None:
    _fill(6)
    statements: list[tuple[str, list[object]]] = [
        ("DELETE FROM audit_auditentrystudent", []),
        ("DELETE FROM audit_auditentry WHERE seq = 3", []),
    ]
    for seq in (4, 5, 6):
        statements.append(("UPDATE audit_auditentry SET seq = %s WHERE seq = %s", [seq - 1, seq]))
    tamper(statements)
    assert "renumbered" in _verify_fails("deleted", 3)


def test_a_deleted_tail_is_caught_by_the_checkpoint() -> None:
    _fill(8)
    write_checkpoint()
    tamper(
        [
            ("DELETE FROM audit_auditentrystudent WHERE entry_id > 5", []),
            ("DELETE FROM audit_auditentry WHERE seq > 5", []),
        ]
    )
    message = _verify_fails("truncated", 6)
    assert "entries 6 to 8 were deleted" in message


def test_a_rewritten_and_re_hashed_chain_is_caught_by_the_checkpoint() -> None:
    _fill(4)
    write_checkpoint()  # size 4
    _fill(4)
    write_checkpoint()  # size 8
    statements: list[tuple[str, list[object]]] = [
        ("UPDATE audit_auditentry SET actor_id = 'user:1' WHERE seq = 6", [])
    ]
    tamper(statements)
    tamper(_rehash_from(6))
    # The chain alone is now self-consistent...
    report = verify_log()
    assert [f.kind for f in report.findings] == ["rewritten"]
    # ...but the signed checkpoint places the rewrite after entry 4 and by entry 8.
    message = _verify_fails("rewritten", 5)
    assert "between entry 5 and entry 8" in message


def test_a_whole_rewritten_log_is_caught() -> None:
    _fill(5)
    write_checkpoint()
    tamper([("UPDATE audit_auditentry SET purpose = 'rewritten'", [])])
    tamper(_rehash_from(1))
    _verify_fails("rewritten", 1)


def test_an_inserted_entry_is_named() -> None:
    _fill(5)
    # Make room at 3 by renumbering 3..5 up, then insert a well-formed entry 3 linked to 2.
    statements: list[tuple[str, list[object]]] = [("DELETE FROM audit_auditentrystudent", [])]
    for seq in (5, 4, 3):
        statements.append(("UPDATE audit_auditentry SET seq = %s WHERE seq = %s", [seq + 1, seq]))
    tamper(statements)
    forged = AuditEntry.objects.filter(seq=2).values().get()
    forged.update(seq=3, prev_hash=forged["entry_hash"], purpose="forged")
    forged["entry_hash"] = chain.entry_hash(forged)
    columns = list(forged)
    tamper(
        [
            (
                f"INSERT INTO audit_auditentry ({', '.join(columns)}) "  # noqa: S608
                f"VALUES ({', '.join(['%s'] * len(columns))})",
                [forged[c] for c in columns],
            )
        ]
    )
    assert "inserted" in _verify_fails("inserted", 3)


def test_reordered_entries_are_named() -> None:
    _fill(5)
    tamper(
        [
            ("DELETE FROM audit_auditentrystudent", []),
            ("UPDATE audit_auditentry SET seq = 100 WHERE seq = 2", []),
            ("UPDATE audit_auditentry SET seq = 2 WHERE seq = 3", []),
            ("UPDATE audit_auditentry SET seq = 3 WHERE seq = 100", []),
        ]
    )
    assert "swapped" in _verify_fails("reordered", 2)


def test_a_changed_student_index_is_named() -> None:
    _fill(4)
    tamper([("DELETE FROM audit_auditentrystudent WHERE entry_id = 3 AND student_id = 102", [])])
    _verify_fails("index", 3)


def test_a_forged_checkpoint_line_is_refused() -> None:
    _fill(3)
    write_checkpoint()
    path = checkpoint_path()
    line = json.loads(path.read_text().splitlines()[-1])
    line["size"] = 2
    with path.open("a") as handle:
        handle.write(json.dumps(line) + "\n")
    report = verify_log()
    assert [f.kind for f in report.findings] == ["bad-signature"]
    assert "line 2" in report.findings[0].message
