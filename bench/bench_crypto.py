"""Encryption at rest, measured (issue 3): field encrypt/decrypt time, rotation rate on 100,000
students, and the load time of a synthetic district with and without field encryption.

Standalone: makes a temporary STUDENTVAULT_HOME with its own master key and an encrypted
(SQLCipher) database file, or uses BENCH_DATABASE_URL (a scratch PostgreSQL database: it is
flushed). Prints figures; never fails on time. Target: load with encryption <= 3x without.

    python bench/bench_crypto.py [--students 100000] [--district-students 5000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100_000, help="rows for the rotation")
    parser.add_argument("--district-students", type=int, default=5_000, help="district size")
    parser.add_argument("--fields", type=int, default=50_000, help="field operations timed")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-crypto-"))
    os.environ["STUDENTVAULT_HOME"] = str(work / "home")
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL") or (
        f"sqlite:///{work / 'bench.db'}"
    )
    # The rotation waits this long for other processes' caches (none here); keep it short.
    os.environ["CRYPTO_KEYSET_CACHE_SECONDS"] = "1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    try:
        return run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> int:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from studentvault.core.actors import Actor
    from studentvault.crypto.rotation import rotate
    from studentvault.records.models import District, Student

    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor} ({settings.DATABASES['default']['ENGINE']})")

    # 1. Field encrypt / decrypt.
    field = Student._meta.get_field("last_name")
    row_uid = uuid.uuid4()
    field.seal("warm-up", row_uid)  # type: ignore[attr-defined]
    started = time.perf_counter()
    sealed = [field.seal(f"Quillfeather{i}", row_uid) for i in range(args.fields)]  # type: ignore[attr-defined]
    encrypt_us = (time.perf_counter() - started) / args.fields * 1e6
    started = time.perf_counter()
    for value in sealed:
        field.open(value, row_uid=row_uid, row=0)  # type: ignore[attr-defined]
    decrypt_us = (time.perf_counter() - started) / args.fields * 1e6
    print(
        f"field encrypt: {encrypt_us:.2f} us/field; decrypt: {decrypt_us:.2f} us/field "
        f"({args.fields} text fields, AES-256-GCM via Tink, with associated data)"
    )

    # 2. Load time of a synthetic district, with and without field encryption.
    district_dir = work / "district"
    command = Path(sys.executable).with_name("studentvault")
    generated = subprocess.run(
        [
            str(command),
            "generate",
            "--students",
            str(args.district_students),
            "--seed",
            "1",
            "--school-year",
            "2026",
            "--out",
            str(district_dir),
            "--verbosity",
            "0",
        ],
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if generated.returncode == 0:
        from studentvault.records.district_files import load_district

        timings = {}
        for mode in (True, False):
            call_command("flush", interactive=False, verbosity=0)
            settings.FIELD_ENCRYPTION = mode
            started = time.perf_counter()
            report = load_district(district_dir)
            timings[mode] = time.perf_counter() - started
            rows = sum(report.rows.values())
            print(
                f"load district ({args.district_students} students, {rows} rows), field "
                f"encryption {'on ' if mode else 'off'}: {timings[mode]:.2f} s"
            )
        settings.FIELD_ENCRYPTION = True
        ratio = timings[True] / timings[False]
        print(
            f"load ratio on/off: {ratio:.2f}x (target <= 3x: {'met' if ratio <= 3 else 'NOT met'})"
        )
    else:
        print(f"load comparison skipped: `studentvault generate` failed: {generated.stderr[-300:]}")

    # 3. Rotation rate on N students.
    call_command("flush", interactive=False, verbosity=0)
    district = District.objects.create(state_code="9997", name="Bench District")
    import datetime as dt

    batch = []
    for n in range(args.students):
        batch.append(
            Student(
                district=district,
                sasid=f"98{n:08d}",
                local_id=f"B{n:07d}",
                first_name="Bench",
                last_name=f"Student{n}",
                birth_date=dt.date(2010, 1 + n % 12, 1 + n % 28),
                gender="01",
                language_background="eng",
                white=True,
                federal_race_ethnicity="05",
            )
        )
        if len(batch) == 5000:
            Student.objects.bulk_create(batch)
            batch = []
    Student.objects.bulk_create(batch)
    from studentvault.crypto.rotation import key_usage

    values = sum(key_usage("demographics").values())
    started = time.perf_counter()
    job = rotate("demographics", actor=Actor.system("bench"), batch_size=1000)
    seconds = time.perf_counter() - started
    print(
        f"rotation of demographics on {args.students} students: {seconds:.1f} s, "
        f"{args.students / seconds:,.0f} students/s, {job.rows_reencrypted:,} values "
        f"re-encrypted (of {values:,}), {job.batches} batches"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
