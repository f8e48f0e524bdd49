"""Benchmark of the audit log: append throughput (single and concurrent) and verification time.

Run from the project root:

    .venv/bin/python bench/bench_audit.py [--entries 1000000] [--appends 2000] [--writers 20]

It creates its own PostgreSQL database (``studentvault_bench`` on BENCH_PG, default
postgres://postgres@127.0.0.1:5432), migrates it, measures, and drops it. Checkpoints and the
signing key go to a temporary STUDENTVAULT_HOME. Target (issue 5): verify 1,000,000 entries in
under 30 s.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DATABASE = "studentvault_bench"


def _admin(sql: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def _setup_django(home: str) -> None:
    os.environ["DATABASE_URL"] = f"{SERVER}/{DATABASE}"
    os.environ["STUDENTVAULT_HOME"] = home
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _actor(number: int) -> object:
    from studentvault.core.actors import Actor, ActorKind

    return Actor(
        kind=ActorKind.STAFF,
        id=f"user:{number}",
        username=f"bench{number}",
        role="teacher",
        client_ip="10.1.2.3",
        user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0",
        device_id=f"device-{number}",
    )


def bench_appends(total: int, writers: int, *, alerts: bool) -> float:
    """Entries per second with ``writers`` threads appending ``total`` entries in all."""
    from django.conf import settings
    from django.db import connection

    from studentvault import audit

    settings.AUDIT_ALERTS_INLINE = alerts
    per_writer = total // writers
    start_line = threading.Barrier(writers + 1)
    errors: list[BaseException] = []

    def work(number: int) -> None:
        actor = _actor(number)
        try:
            start_line.wait()
            for n in range(per_writer):
                audit.record(
                    actor=actor,  # type: ignore[arg-type]
                    action="records:student:read",
                    students=[n % 5000 + 1],
                    categories=["enrollment"],
                )
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    start_line.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    return per_writer * writers / elapsed


def load_chain(count: int) -> float:
    """COPY ``count`` precomputed, correctly chained entries after the current head."""
    from django.db import connection

    from studentvault.audit import chain
    from studentvault.audit.checkpoints import current_head

    size, previous = current_head()
    began = time.perf_counter()
    base = datetime(2025, 9, 1, 8, 0, tzinfo=UTC)
    entries = io.StringIO()
    students = io.StringIO()
    for seq in range(size + 1, size + count + 1):
        student = seq % 50_000 + 1
        row: dict[str, object] = {
            "seq": seq,
            "prev_hash": previous,
            "occurred_at": base + timedelta(milliseconds=seq * 50),
            "actor_kind": "staff",
            "actor_id": f"user:{seq % 300}",
            "actor_username": f"bench{seq % 300}",
            "actor_role": "teacher",
            "action": "records:student:read",
            "outcome": "success",
            "student_ids": f"[{student}]",
            "categories": ",enrollment,",
            "purpose": "",
            "target": "",
            "details": "{}",
            "client_ip": "10.1.2.3",
            "user_agent": "Mozilla/5.0",
            "device": "Other on Other",
            "device_id": f"device-{seq % 300}",
            "site": "outside district",
        }
        row["entry_hash"] = previous = chain.entry_hash(row)
        row["occurred_at"] = chain.timestamp_text(row["occurred_at"])  # type: ignore[arg-type]
        entries.write("\t".join(str(row[c]) for c in (*chain.HASHED_FIELDS, "entry_hash")) + "\n")
        students.write(f"{seq}\t{student}\n")
    prepared = time.perf_counter() - began
    raw = connection.connection
    assert raw is not None
    with raw.cursor() as cursor:
        columns = ", ".join((*chain.HASHED_FIELDS, "entry_hash"))
        with cursor.copy(f"COPY audit_auditentry ({columns}) FROM STDIN") as copy:
            copy.write(entries.getvalue())
        with cursor.copy("COPY audit_auditentrystudent (entry_id, student_id) FROM STDIN") as copy:
            copy.write(students.getvalue())
    raw.commit()
    print(
        f"  prepared {count:,} chained rows in {prepared:.1f} s, loaded in "
        f"{time.perf_counter() - began - prepared:.1f} s"
    )
    return prepared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--writers", type=int, default=20)
    args = parser.parse_args()

    _admin(f"DROP DATABASE IF EXISTS {DATABASE}")
    _admin(f"CREATE DATABASE {DATABASE}")
    try:
        with tempfile.TemporaryDirectory() as home:
            _setup_django(home)
            from studentvault.audit.verify import verify_log

            print("audit append throughput (PostgreSQL, each append its own transaction)")
            for writers, alerts in (
                (1, False),
                (1, True),
                (args.writers, False),
                (args.writers, True),
            ):
                rate = bench_appends(args.appends, writers, alerts=alerts)
                rules = "with monitoring rules" if alerts else "rules off"
                print(f"  {writers:>2} writer(s), {rules:<22}: {rate:8.0f} entries/s")

            print(f"audit verification of {args.entries:,} entries")
            load_chain(args.entries - args.appends * 4)
            for check_index in (False, True):
                began = time.perf_counter()
                report = verify_log(check_index=check_index)
                elapsed = time.perf_counter() - began
                what = "chain + student index" if check_index else "chain only"
                status = "OK" if report.ok else f"FAILED {report.findings[:1]}"
                print(
                    f"  {what:<22}: {report.entries:,} entries in {elapsed:.1f} s "
                    f"({report.entries / elapsed:,.0f}/s) {status} (target < 30 s)"
                )
            from django.db import connections

            connections.close_all()
    finally:
        _admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


if __name__ == "__main__":
    main()
