"""Concurrent appends: 20 writers, 10,000 entries, one unbroken gap-free chain.

PostgreSQL: 20 threads in this process, each with its own connection (advisory-lock path).
SQLite: 20 processes on one database file (write-lock path); the in-memory test database's
shared cache does not wait for locks the way a file does, so the file is the honest test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from audit_helpers import staff
from django.conf import LazySettings
from django.db import connection

from studentvault import audit
from studentvault.audit.models import AuditEntry
from studentvault.audit.verify import verify_log

WRITERS = 20
PER_WRITER = 500
ROOT = Path(__file__).resolve().parents[2]

WRITER_SCRIPT = """
import sys, django
django.setup()
from studentvault import audit
from studentvault.core.actors import Actor, ActorKind
number = int(sys.argv[1])
actor = Actor(kind=ActorKind.STAFF, id=f"user:{number}", username=f"w{number}", role="teacher")
from django.db import OperationalError
retries = 0
for n in range(int(sys.argv[2])):
    while True:
        try:
            student = number * 1000 + n + 1
            audit.record(actor=actor, action="records:student:read", students=[student])
            break
        except OperationalError as error:  # SQLite busy timeout under 20 writers: try again
            if "locked" not in str(error) or retries > 1000:
                raise
            retries += 1
print(retries)
"""


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_writers_on_postgresql(settings: LazySettings) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the SQLite variant runs writer processes on a file (test below)")
    settings.AUDIT_ALERTS_INLINE = False  # rules are tested on their own; this is about the chain
    errors: list[BaseException] = []
    start = threading.Barrier(WRITERS)

    def writer(number: int) -> None:
        try:
            start.wait()
            for n in range(PER_WRITER):
                audit.record(
                    actor=staff(number),
                    action="records:student:read",
                    students=[number * 1000 + n + 1],
                    categories=["enrollment"],
                )
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    seqs = list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, WRITERS * PER_WRITER + 1))
    report = verify_log()
    assert report.ok, report.findings
    assert report.entries == WRITERS * PER_WRITER
    # A checkpoint was written after every 1,000th commit; all of them match the chain.
    assert report.checkpoints_checked >= 1


@pytest.mark.slow
def test_twenty_concurrent_writer_processes_on_a_sqlite_file(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'audit.db'}",
        "DATABASE_ENCRYPTION": "0",
        "STUDENTVAULT_HOME": str(tmp_path / "home"),
        "AUDIT_ALERTS_INLINE": "0",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, cwd=ROOT, check=True)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER_SCRIPT, str(n), str(PER_WRITER)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(WRITERS)
    ]
    results = [(*w.communicate(), w.returncode) for w in writers]
    assert [err for _, err, code in results if code != 0] == []
    retries = sum(int(out.split()[-1]) for out, _, _ in results)
    print(f"appends retried after SQLite's busy timeout: {retries}")
    verified = subprocess.run(
        [*manage, "audit", "verify"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert verified.returncode == 0, verified.stderr
    assert f"audit log OK: {WRITERS * PER_WRITER} entries" in verified.stdout
