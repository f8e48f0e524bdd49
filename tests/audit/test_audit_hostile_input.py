"""Hostile usernames and user agents: stored bounded, shown as one escaped entry."""

from __future__ import annotations

import csv
import io

import pytest
from audit_helpers import staff
from django.core.management import call_command

from studentvault import audit
from studentvault.audit.display import printable
from studentvault.audit.models import AuditEntry
from studentvault.audit.reports import entries_for_student, write_csv

pytestmark = pytest.mark.django_db

HOSTILE_NAME = "mallory\n2025-09-01 auth:login:success admin\x1b[2J\x1b]0;owned\x07"
HOSTILE_AGENT = "curl/8\r\n\x1b[31mFAKE\x1b[0m\u202egnp.exe" + "A" * 5000


def test_printable_escapes_controls_and_cannot_be_forged() -> None:
    assert printable("a\nb\x1b[2J\u202e\\n") == "a\\nb\\x1b[2J\\u202e\\\\n"
    assert printable("Zoë 李") == "Zoë 李"


def test_a_hostile_username_and_agent_show_as_one_escaped_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    actor = staff(username=HOSTILE_NAME, user_agent=HOSTILE_AGENT)
    entry = audit.record(actor=actor, action="records:student:read", students=[42])
    stored = AuditEntry.objects.get(seq=entry.seq)
    assert stored.actor_username == HOSTILE_NAME  # kept as given
    assert len(stored.user_agent) == 512  # bounded
    call_command("audit", "report", "--student", "42")
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "records:student:read" in line]
    assert len(lines) == 1
    assert "\x1b" not in out and "\r" not in out and "\u202e" not in out
    assert "mallory\\n2025-09-01 auth:login:success admin\\x1b[2J" in lines[0]


def test_the_csv_report_is_formula_safe_and_one_row_per_entry() -> None:
    audit.record(
        actor=staff(username='=HYPERLINK("http://evil")', user_agent="@SUM(1)\nx"),
        action="records:student:read",
        students=[42],
        purpose="+cmd|' /C calc'!A0",
    )
    out = io.StringIO()
    assert write_csv(entries_for_student(42), out) == 1
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["username"] == '\'=HYPERLINK("http://evil")'
    assert row["purpose"] == "'+cmd|' /C calc'!A0"
    assert "\n" not in out.getvalue().split("\r\n", 1)[1].rstrip("\r\n")
