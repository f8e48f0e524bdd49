"""Benchmark of the audit log: append throughput (single and concurrent, with and without the
monitoring rules) and verification of 1,000,000 entries, for the current code and, in the same
run on the same machine, for a baseline revision of the audit module read from git.

Run from the project root:

    .venv/bin/python bench/bench_audit.py [--entries 1000000] [--appends 2000] [--writers 20]
        [--baseline REV | --no-baseline] [--breakdown 300]

It creates its own PostgreSQL database (``studentvault_bench_audit`` on BENCH_PG, default
postgres://postgres@127.0.0.1:5432), migrates it, measures, and drops it. Checkpoints and the
signing key go to a temporary STUDENTVAULT_HOME. Target (issue 5): verify 1,000,000 entries in
under 30 s. The machine may be shared: every figure is printed with the wall time and the CPU
time of this process (and, for verification, of the PostgreSQL backend serving it), and the
baseline and current code run alternately in one process.

The baseline (default: the revision before docs/adr/0036-0037) is the audit module's chain,
writer, alerts and verify files from git, loaded as a separate package over the current models
(its sites, devices, checkpoints and display modules are the current ones).
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import subprocess
import sys
import tempfile
import threading
import time
import types
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DATABASE = "studentvault_bench_audit"  # its own: other benches drop theirs
BASELINE_REV = "ebffff4"  # the audit module before the performance work (ADR 0036, 0037)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


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


def load_baseline(rev: str) -> types.ModuleType:
    """The baseline chain, alerts, writer and verify modules from git, as package
    ``_audit_baseline`` whose other modules are the current ones."""
    package = types.ModuleType("_audit_baseline")
    package.__path__ = []
    sys.modules[package.__name__] = package
    for name in ("models", "checkpoints", "devices", "sites", "display"):
        module = importlib.import_module(f"studentvault.audit.{name}")
        sys.modules[f"_audit_baseline.{name}"] = module
        setattr(package, name, module)
    for name in ("chain", "alerts", "writer", "verify"):
        path = f"studentvault/audit/{name}.py"
        source = subprocess.run(
            ["git", "show", f"{rev}:{path}"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        module = types.ModuleType(f"_audit_baseline.{name}")
        module.__file__ = f"{rev}:{path}"
        module.__package__ = "_audit_baseline"
        sys.modules[module.__name__] = module
        setattr(package, name, module)
        exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102 - our own git history
    return package


def _actor(number: int) -> Any:
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


def bench_appends(
    record: Callable[..., Any], total: int, writers: int, *, alerts: bool, first_actor: int
) -> tuple[float, float]:
    """(entries per second, CPU ms of this process per entry) with ``writers`` threads."""
    from django.conf import settings
    from django.db import connection

    settings.AUDIT_ALERTS_INLINE = alerts
    per_writer = total // writers
    start_line = threading.Barrier(writers + 1)
    errors: list[BaseException] = []

    def work(number: int) -> None:
        actor = _actor(first_actor + number)
        try:
            start_line.wait()
            for n in range(per_writer):
                record(
                    actor=actor,
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
    began, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.join()
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    if errors:
        raise errors[0]
    done = per_writer * writers
    return done / elapsed, cpu / done * 1000


def append_breakdown(count: int) -> None:
    """Where one append's time goes (single writer, PostgreSQL), phase by phase."""
    from django.db import connection, transaction

    from studentvault.audit import writer
    from studentvault.audit.alerts import evaluate_rules
    from studentvault.audit.devices import describe_device
    from studentvault.audit.models import AuditEntry
    from studentvault.audit.sites import site_for

    actor = _actor(900)
    phases = dict.fromkeys(
        (
            "user agent parse (uncached)",
            "user agent parse (cached)",
            "site lookup",
            "prepare (checks, canonical fields)",
            "append function + hash check",
            "commit",
            "rules (after commit)",
        ),
        0.0,
    )

    def timed(name: str, began: float) -> float:
        now = time.perf_counter()
        phases[name] += now - began
        return now

    for n in range(count):
        t = time.perf_counter()
        describe_device.__wrapped__(actor.user_agent)
        t = timed("user agent parse (uncached)", t)
        describe_device(actor.user_agent)
        t = timed("user agent parse (cached)", t)
        site_for(actor.client_ip)
        t = timed("site lookup", t)
        prepared = writer.prepare(
            actor=actor,
            action="records:student:read",
            students=[n % 5000 + 1],
            categories=["enrollment"],
        )
        fields = dict(prepared.fields)
        t = timed("prepare (checks, canonical fields)", t)
        with transaction.atomic():
            # One call of studentvault_audit_append: lock, head, hash, entry, index and read
            # window; then the writer's own hash check (docs/adr/0065).
            writer._append_postgres(
                "default", fields, list(prepared.students), list(prepared.reads)
            )
            t = timed("append function + hash check", t)
        t = timed("commit", t)
        entry = AuditEntry(**fields)
        evaluate_rules(entry.seq, entry=entry)
        timed("rules (after commit)", t)
    assert connection.vendor == "postgresql"
    total = sum(v for k, v in phases.items() if k != "user agent parse (uncached)")
    print(f"  append phases, single writer, {count} appends (ms per append; wall):")
    for name, seconds in phases.items():
        print(f"    {name:<30} {seconds / count * 1000:7.3f}")
    print(f"    {'total (cached agent)':<30} {total / count * 1000:7.3f}")


def load_chain(count: int) -> None:
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
        values: list[Any] = [
            seq,
            previous,
            chain.timestamp_text(base + timedelta(milliseconds=seq * 50)),
            "staff",
            f"user:{seq % 300}",
            f"bench{seq % 300}",
            "teacher",
            "records:student:read",
            "success",
            f"[{student}]",
            ",enrollment,",
            "",
            "",
            "{}",
            "10.1.2.3",
            "Mozilla/5.0",
            "Other on Other",
            f"device-{seq % 300}",
            "outside district",
        ]
        previous = chain.entry_hash(dict(zip(chain.HASHED_FIELDS, values, strict=True)))
        entries.write("\t".join(str(v) for v in values) + f"\t{previous}\n")
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
    with raw.cursor() as cursor:
        cursor.execute("ANALYZE audit_auditentry")
        cursor.execute("ANALYZE audit_auditentrystudent")
    raw.commit()
    print(
        f"  prepared {count:,} chained rows in {prepared:.1f} s, loaded in "
        f"{time.perf_counter() - began - prepared:.1f} s"
    )


def _backend_cpu() -> float:
    """CPU seconds used so far by the PostgreSQL backend of Django's connection (same host)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        row = cursor.fetchone()
    assert row is not None
    try:
        fields = Path(f"/proc/{row[0]}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")  # the server is on another host
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def bench_verify(
    verify_log: Callable[..., Any], *, check_index: bool
) -> tuple[Any, float, float, float]:
    """(report, wall s, CPU s of this process, CPU s of the PostgreSQL backend)."""
    server = _backend_cpu()
    began, cpu = time.perf_counter(), time.process_time()
    report = verify_log(check_index=check_index)
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    return report, elapsed, cpu, _backend_cpu() - server


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--baseline", default=BASELINE_REV, help="git revision to compare with")
    parser.add_argument("--no-baseline", action="store_true", help="measure the current code only")
    parser.add_argument("--breakdown", type=int, default=300, help="appends timed phase by phase")
    args = parser.parse_args()

    _admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    _admin(f"CREATE DATABASE {DATABASE}")
    try:
        with tempfile.TemporaryDirectory() as home:
            _setup_django(home)
            from studentvault.audit import record
            from studentvault.audit.verify import verify_log

            versions: list[tuple[str, Any, Any]] = []
            if not args.no_baseline:
                baseline = load_baseline(args.baseline)
                versions.append(
                    (
                        f"baseline {args.baseline}",
                        baseline.writer.record,
                        baseline.verify.verify_log,
                    )
                )
            versions.append(("current", record, verify_log))

            print(
                f"audit append throughput (PostgreSQL, each append its own transaction, "
                f"{args.appends} entries per line)"
            )
            configs = ((1, False), (1, True), (args.writers, False), (args.writers, True))
            for number, (writers, alerts) in enumerate(configs):
                for offset, (label, write, _) in enumerate(versions):
                    rate, cpu_ms = bench_appends(
                        write,
                        args.appends,
                        writers,
                        alerts=alerts,
                        first_actor=1000 * (number * 2 + offset),
                    )
                    rules = "with monitoring rules" if alerts else "rules off"
                    print(
                        f"  {label:<17} {writers:>2} writer(s), {rules:<22}: {rate:8.0f} entries/s "
                        f"(client CPU {cpu_ms:.2f} ms/entry)",
                        flush=True,
                    )
            if args.breakdown:
                append_breakdown(args.breakdown)

            from studentvault.audit.checkpoints import current_head

            print(f"audit verification of {args.entries:,} entries")
            load_chain(args.entries - current_head()[0])
            for label, _, verify in versions:
                for check_index in (False, True):
                    report, wall, cpu, server = bench_verify(verify, check_index=check_index)
                    what = "chain + student index" if check_index else "chain only"
                    status = "OK" if report.ok else f"FAILED {report.findings[:1]}"
                    print(
                        f"  {label:<17} {what:<22}: {report.entries:,} entries in {wall:.1f} s "
                        f"wall ({report.entries / wall:,.0f}/s), CPU {cpu:.1f} s client + "
                        f"{server:.1f} s PostgreSQL backend; {status} (target < 30 s)",
                        flush=True,
                    )
            from django.db import connections

            connections.close_all()
    finally:
        _admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


if __name__ == "__main__":
    main()
