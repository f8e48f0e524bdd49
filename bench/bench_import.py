"""Import speed (issue 6): a synthetic district through the real import pipeline into PostgreSQL
(field encryption, blind indexes, authorization and audit), against a plain COPY of the same
student rows into a plain table, in the same run.

Creates and drops its own database (default
postgres://postgres@127.0.0.1:5432/studentvault_bench_import), runs the migrations into it with
``studentvault migrate`` in a subprocess, generates the district with ``studentvault generate
--students N --seed 1 --school-year 2027``, imports it as the district data steward (format
``district``, one transaction, audited) and prints students/s for both and their ratio.
Target: >= 10,000 students/s for 1,000,000 students. Never fails on time.

    python bench/bench_import.py [--students 100000] [--profile FILE] [--keep-files DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/studentvault_bench_import"


def admin_url(url: str) -> tuple[str, str]:
    """The URL of the server's ``postgres`` database and the name of the bench database."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    return urlunsplit(parts._replace(path="/postgres")), name


def recreate(url: str, *, drop_only: bool = False) -> None:
    import psycopg

    admin, name = admin_url(url)
    if not name.startswith("studentvault_bench"):
        raise SystemExit(f"refusing to drop {name!r}: the bench database name must start with "
                         "studentvault_bench")  # fmt: skip
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def children_cpu() -> float:
    """CPU seconds (user and system) of this process's children that have ended and been
    waited for: the import's worker processes (and the bench's own subprocesses)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def studentvault(*args: str, env: dict[str, str]) -> None:
    command = [str(Path(sys.executable).with_name("studentvault")), *args]
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_IMPORT_URL", DEFAULT_URL))
    parser.add_argument("--profile", help="write a cProfile of the import here and print the top")
    parser.add_argument("--district", help="use this generated district instead of generating")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-import-"))
    env = dict(os.environ)
    env.update(
        DATABASE_URL=args.database_url,
        STUDENTVAULT_HOME=str(work / "home"),
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    os.environ.update(env)
    try:
        district = Path(args.district) if args.district else work / "district"
        if not args.district:
            started = time.perf_counter()
            studentvault("generate", "--students", str(args.students), "--seed", "1",
                         "--school-year", "2027", "--out", str(district), env=env)  # fmt: skip
            print(f"generated {args.students:,} students in {time.perf_counter() - started:.1f} s")
        recreate(args.database_url)
        studentvault("migrate", env=env)
        return run(args, district)
    finally:
        with contextlib.suppress(ImportError):  # Django may not be set up yet
            from django.db import connections

            connections.close_all()
        recreate(args.database_url, drop_only=True)
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, district: Path) -> int:
    import django

    django.setup()
    from django.db import connection

    from studentvault.access.actors import actor_for_user
    from studentvault.access.personas import PERSONAS_BY_NAME
    from studentvault.access.services import persona_create
    from studentvault.audit.models import AuditEntry
    from studentvault.core.actors import Actor
    from studentvault.crypto.keysets import ensure_keysets
    from studentvault.exchange.engine import Engine
    from studentvault.exchange.models import ImportRun
    from studentvault.exchange.services import import_files
    from studentvault.records.models import Student

    user = persona_create(
        actor=Actor.system("bench"),
        persona=PERSONAS_BY_NAME["alice"],
        password="x-Bench-Only-1234",  # noqa: S106 - throwaway account, scratch database
        scope_ids={},
        school_codes={},
        caseload=(),
        contract=None,
    )
    plain = actor_for_user(user)
    # As after `--otp`: the command line checks the TOTP code; the bench has no authenticator.
    actor = Actor(kind=plain.kind, id=plain.id, username=plain.username, role=plain.role,
                  extra={"mfa": "verified"})  # fmt: skip
    students_csv = district / "students.csv"
    with students_csv.open(encoding="utf-8") as handle:
        students = sum(1 for _ in handle) - 1
    rows = sum(sum(1 for _ in p.open(encoding="utf-8")) - 1 for p in district.glob("*.csv"))
    files = len(list(district.glob("*.csv")))
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}; "
          f"{students:,} students, {rows:,} rows in {files} files")  # fmt: skip

    # As `studentvault keys init` does at installation: the keysets exist before any import.
    ensure_keysets(actor=Actor.system("bench"))
    per_field_costs()
    parallel_seal_probe()
    by_file: dict[str, float] = {}
    apply = Engine.apply

    def timed_apply(self: Engine, source: Any) -> Any:
        started = time.perf_counter()
        try:
            return apply(self, source)
        finally:
            by_file[source.name] = time.perf_counter() - started

    Engine.apply = timed_apply  # type: ignore[method-assign]
    # The backend's CPU when every row is written and the commit (deferred foreign-key checks,
    # audit entries) is about to start.
    from studentvault.exchange import services

    audit_commit = services._audit_commit
    before_commit: list[tuple[float | None, float]] = []

    def timed_audit_commit(*a: Any, **kw: Any) -> Any:
        before_commit.append((backend(), time.perf_counter()))
        try:
            return audit_commit(*a, **kw)
        finally:
            before_commit.append((backend(), time.perf_counter()))

    services._audit_commit = timed_audit_commit  # type: ignore[assignment]
    # A first load rebuilds the student tables' indexes and constraints once, at the end
    # (ADR 0080, 0081).
    from studentvault.exchange import first_load

    add_back = first_load._add_back
    added_back: list[tuple[float, float | None]] = []

    def timed_add_back(*a: Any, **kw: Any) -> Any:
        started, cpu = time.perf_counter(), backend()
        try:
            return add_back(*a, **kw)
        finally:
            after = backend()
            cpu_s = after - cpu if after is not None and cpu is not None else None
            added_back.append((time.perf_counter() - started, cpu_s))

    first_load._add_back = timed_add_back
    profiler = cProfile.Profile() if args.profile else None
    backend = backend_cpu_reader(connection)
    load_before = os.getloadavg()
    rss_before = memory_mb("self", "VmRSS")
    backend_before = backend()
    cpu_started = time.process_time()
    children_started = children_cpu()
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    run_ = import_files(actor=actor, format_name="district", paths=[district])
    if profiler:
        profiler.disable()
    import_s = time.perf_counter() - started
    client_cpu = time.process_time() - cpu_started
    workers_cpu = children_cpu() - children_started
    backend_cpu = backend() - backend_before if backend_before is not None else None
    load_after = os.getloadavg()
    if run_.status != ImportRun.Status.COMMITTED:
        print(f"import {run_.status}: {run_.report.get('problems', [])[:3]}")
        return 1
    assert Student.objects.count() == students
    audited = AuditEntry.objects.filter(action="exchange:import:commit").count()
    print(f"pipeline import: {import_s:.1f} s, {students / import_s:,.0f} students/s "
          f"({run_.added:,} rows added, {rows / import_s:,.0f} rows/s; encrypted fields, "
          f"blind indexes, authorization, {audited} audit entries)")  # fmt: skip
    server = f"{backend_cpu:.1f} s" if backend_cpu is not None else "not readable"
    print(f"CPU during the import: this process {client_cpu:.1f} s, its worker processes "
          f"{workers_cpu:.1f} s (exchange.workers), its PostgreSQL backend "
          f"{server}; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after "
          f"({os.cpu_count()} CPUs)")  # fmt: skip
    if len(before_commit) == 2 and before_commit[0][0] is not None and backend_before is not None:
        (at_audit, audit_started), (at_commit, commit_started) = before_commit
        assert at_audit is not None and at_commit is not None and backend_cpu is not None
        print(f"of which the commit audit entries: {commit_started - audit_started:.1f} s wall, "
              f"backend {at_commit - at_audit:.1f} s CPU; then the commit (deferred foreign-key "
              f"checks) and the run's bookkeeping: {started + import_s - commit_started:.1f} s "
              f"wall, backend {backend_cpu - (at_commit - backend_before):.1f} s CPU")  # fmt: skip
    peak, backend_peak = memory_mb("self", "VmHWM"), memory_mb(backend_pid(connection), "VmHWM")
    if peak is not None and rss_before is not None:
        server = f"{backend_peak:,.0f} MB" if backend_peak is not None else "not readable"
        import resource

        child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"memory: this process {rss_before:,.0f} MB before the import, {peak:,.0f} MB at its "
              f"peak; its largest child process {child_peak:,.0f} MB at its peak (the import's "
              f"workers and the bench's own subprocesses; pages shared with this process "
              f"included); its PostgreSQL backend {server} at its peak (shared "
              f"buffers it touched included)")  # fmt: skip
    if added_back:
        wall, cpu_s = added_back[0]
        backend_s = f"{cpu_s:.1f} s" if cpu_s is not None else "not readable"
        print(f"first load: the student tables' indexes and constraints rebuilt (one pass "
              f"each) in {wall:.1f} s wall, backend {backend_s} CPU")  # fmt: skip
    else:
        print("first load: not taken (indexes kept row by row, foreign keys checked at commit)")
    if backend_cpu is not None:
        busy = client_cpu + workers_cpu + backend_cpu
        cores = os.cpu_count() or 1
        print(f"students per CPU-second (importer, its workers and its backend): "
              f"{students / busy:,.0f}; with all {cores} cores busy all the time that bounds "
              f"the rate at {students * cores / busy:,.0f} students/s")  # fmt: skip

    with connection.cursor() as cursor:
        with students_csv.open(encoding="utf-8") as handle:
            header = handle.readline().strip().split(",")
        columns = ", ".join(f'"{c}" text' for c in header)
        cursor.execute(f"CREATE TABLE bench_plain_students ({columns})")
        started = time.perf_counter()
        with cursor.copy(
            "COPY bench_plain_students FROM STDIN WITH (FORMAT csv, HEADER true)"
        ) as copy, students_csv.open("rb") as handle:  # fmt: skip
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        connection.commit() if not connection.get_autocommit() else None
        copy_s = time.perf_counter() - started
        cursor.execute("SELECT count(*) FROM bench_plain_students")
        copied = cursor.fetchone()[0]
    assert copied == students
    slowest = sorted(by_file.items(), key=lambda item: -item[1])[:6]
    shown = ", ".join(f"{name} {secs:.1f} s" for name, secs in slowest)
    print(f"slowest files the importer applied itself (not its workers' files): {shown}")
    print(f"plain COPY of students.csv: {copy_s:.2f} s, {students / copy_s:,.0f} students/s")
    verdict = "met" if students / import_s >= 10_000 else "NOT met"
    print(f"ratio: the pipeline takes {import_s / copy_s:,.1f}x the time of a plain COPY "
          f"of the student rows; target 10,000 students/s: {verdict} at {students:,}")  # fmt: skip
    if profiler and args.profile:
        profiler.dump_stats(args.profile)
        pstats.Stats(args.profile).sort_stats("cumulative").print_stats(35)
    return 0


def per_field_costs(count: int = 50_000) -> None:
    """CPU microseconds per value (process time, so other load on the machine counts less):
    the Tink primitive alone, sealing one value at a time as save() does, seal_many with its
    payloads and associated data, and index_for against index_function."""
    import uuid

    from studentvault.crypto.blind_index import index_for, index_function
    from studentvault.crypto.fields import associated_data, seal_many
    from studentvault.crypto.keysets import category_keys
    from studentvault.records.models import Student

    field: Any = Student._meta.get_field("last_name")
    uids = [uuid.uuid4() for _ in range(count)]
    values = [f"Quillfeather{n}" for n in range(count)]

    def timed(work: Any) -> float:
        started = time.process_time()
        work()
        return (time.process_time() - started) / count * 1e6

    keys = category_keys(field.category)
    aad = associated_data("records_student", "last_name", uids[0])
    tink_us = timed(lambda: [keys.primitive.encrypt(v.encode(), aad) for v in values])
    encoded = [v.encode() for v in values]
    sealer_us = timed(lambda: keys.sealer.seal_many(encoded, [aad] * count))
    one_us = timed(lambda: [field.seal(v, u) for v, u in zip(values, uids, strict=True)])
    many_us = timed(
        lambda: seal_many(
            field.category,
            [field.payload(v) for v in values],
            [associated_data("records_student", "last_name", u) for u in uids],
        )
    )
    index_us = timed(lambda: [index_for("sasid", v) for v in values])
    index = index_function("sasid")
    function_us = timed(lambda: [index(v) for v in values])
    print(f"CPU per value ({count:,}): Tink AEAD encrypt alone {tink_us:.2f} us, through the "
          f"primary sealer {sealer_us:.2f} us; field.seal {one_us:.2f} us; seal_many "
          f"{many_us:.2f} us (payload and associated data included); index_for "
          f"{index_us:.2f} us, index_function {function_us:.2f} us")  # fmt: skip


def _seal_chunk(category: str, payloads: list[bytes], aads: list[bytes]) -> list[bytes]:
    from studentvault.crypto.fields import seal_many

    return seal_many(category, payloads, aads)


def parallel_seal_probe(count: int = 200_000, workers: int = 2) -> None:
    """Wall time of sealing ``count`` values in this process against a pool of forked worker
    processes (keys inherited unwrapped from this process; payloads and ciphertexts cross
    process boundaries by pickling), to judge parallel encryption on this machine."""
    import multiprocessing
    import uuid

    from django.db import connections

    from studentvault.crypto.fields import associated_data, seal_many
    from studentvault.crypto.keysets import category_keys

    category = "demographics"
    category_keys(category)  # unwrapped and cached before the fork
    payloads = [f"Quillfeather{n}".encode() for n in range(count)]
    aads = [associated_data("records_student", "last_name", uuid.uuid4()) for _ in range(count)]
    started = time.perf_counter()
    seal_many(category, payloads, aads)
    alone = time.perf_counter() - started
    connections.close_all()  # no database connection crosses the fork
    chunk = 5000
    jobs = [
        (category, payloads[i : i + chunk], aads[i : i + chunk]) for i in range(0, count, chunk)
    ]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pool.starmap(_seal_chunk, jobs[:workers])  # workers started
        started = time.perf_counter()
        sealed = pool.starmap(_seal_chunk, jobs)
        pooled = time.perf_counter() - started
    assert sum(len(part) for part in sealed) == count
    print(f"sealing {count:,} values: one process {alone:.2f} s ({count / alone:,.0f}/s); "
          f"{workers} worker processes {pooled:.2f} s ({count / pooled:,.0f}/s), "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip


def memory_mb(pid: int | str, field: str) -> float | None:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of a process on this machine in MB, or None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        return None
    return None


def backend_pid(connection: Any) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def backend_cpu_reader(connection: Any) -> Any:
    """A function giving the CPU seconds used so far by this connection's PostgreSQL backend
    (from /proc: the server runs on this machine), or None when it cannot be read."""
    pid = backend_pid(connection)
    ticks = os.sysconf("SC_CLK_TCK")

    def read() -> float | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime

    return read


if __name__ == "__main__":
    raise SystemExit(main())
