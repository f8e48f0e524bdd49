"""Key rotation: new primary key, every value re-encrypted, old key retired, resumable, and
safe under concurrent reads and writes."""

from __future__ import annotations

import threading
from io import StringIO
from typing import Any

import pytest
from crypto_world import synthetic_district, synthetic_students
from django.core.management import CommandError, call_command
from django.db import close_old_connections, connection

from studentvault.core.actors import Actor
from studentvault.crypto.keysets import category_keys
from studentvault.crypto.models import RotationJob
from studentvault.crypto.rotation import key_usage, rotate
from studentvault.records.models import ParentContact, Student

ACTOR = Actor.system("test-rotation")


@pytest.fixture(autouse=True)
def short_cache(settings: Any) -> None:
    settings.CRYPTO_KEYSET_CACHE_SECONDS = 0.2


def snapshot() -> dict[int, tuple[str, str, Any]]:
    return {s.pk: (s.sasid, s.last_name, s.birth_date) for s in Student.objects.all()}


@pytest.mark.django_db
def test_rotation_reencrypts_every_value_and_retires_the_old_key(
    security_events: list[dict[str, Any]],
) -> None:
    synthetic_district(9)
    before = snapshot()
    old = category_keys("demographics")
    assert set(key_usage("demographics")) == {old.primary_key_id}

    job = rotate("demographics", actor=ACTOR, batch_size=4)

    new = category_keys("demographics")
    assert new.primary_key_id == job.new_key_id != old.primary_key_id
    assert new.key_ids == (job.new_key_id,)  # the old key is gone from the keyset
    assert set(key_usage("demographics")) == {job.new_key_id}
    assert snapshot() == before
    # Other categories are untouched.
    assert set(key_usage("enrollment")) == {category_keys("enrollment").primary_key_id}
    actions = [e["action"] for e in security_events]
    for step in ("crypto:key:rotate_start", "crypto:key:rotate_batch", "crypto:key:retire"):
        assert step in actions
    assert actions[-1] == "crypto:key:rotate_finish"
    assert RotationJob.objects.get(pk=job.pk).state == RotationJob.State.FINISHED


class Interrupted(Exception):
    pass


@pytest.mark.django_db
def test_an_interrupted_rotation_resumes_where_it_stopped() -> None:
    synthetic_district(10)
    before = snapshot()
    batches: list[int] = []

    def stop_after_two(job: RotationJob, walked: int) -> None:
        batches.append(walked)
        if len(batches) == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        rotate("demographics", actor=ACTOR, batch_size=3, on_batch=stop_after_two)
    job = RotationJob.objects.get(category="demographics", state=RotationJob.State.RUNNING)
    assert job.batches == 2 and job.progress  # progress was saved with the batches
    usage = key_usage("demographics")
    assert job.new_key_id in usage and len(usage) == 2  # half old, half new
    assert snapshot() == before  # everything readable in between

    walked_after: list[int] = []
    finished = rotate(
        "demographics", actor=ACTOR, batch_size=3, on_batch=lambda j, n: walked_after.append(n)
    )
    assert finished.pk == job.pk and finished.state == RotationJob.State.FINISHED
    students_left = Student.objects.filter(pk__gt=job.progress["records_student"]).count()
    assert sum(walked_after) < Student.objects.count() + ParentContact.objects.count()
    assert students_left < Student.objects.count()
    assert set(key_usage("demographics")) == {finished.new_key_id}
    assert snapshot() == before


@pytest.mark.django_db(transaction=True)
def test_rotation_under_concurrent_reads_and_writes() -> None:
    """Readers and writers keep working while the rotation runs, and at the end no value uses
    the old key. On PostgreSQL they are real threads. The SQLite test database is in memory in
    shared-cache mode, where a second connection gets "table is locked" at once instead of
    waiting, so there they run between the rotation's batches (SQLite serialises writers at
    transaction boundaries anyway; the on-disk file waits on its busy timeout)."""
    district = synthetic_district(30)
    a_district = district["students"][0].district
    old_key = category_keys("demographics").primary_key_id
    stop = threading.Event()
    problems: list[BaseException] = []
    written: list[int] = []
    reads = {"n": 0}
    counter = {"n": 1000}

    def read_once() -> None:
        for s in Student.objects.all():
            assert s.last_name and s.first_name
        reads["n"] += 1

    def write_once() -> None:
        (student,) = synthetic_students(1, district=a_district, start=counter["n"])
        student.save()
        written.append(student.pk)
        victim = Student.objects.order_by("?").first()
        assert victim is not None
        victim.preferred_name = f"Pref{counter['n']}"
        victim.save()
        counter["n"] += 1

    def loop(step: Any) -> None:
        try:
            while not stop.is_set():
                step()
        except BaseException as error:
            problems.append(error)
        finally:
            connection.close()

    if connection.vendor == "sqlite":

        def between_batches(job: RotationJob, walked: int) -> None:
            read_once()
            write_once()

        job = rotate("demographics", actor=ACTOR, batch_size=5, on_batch=between_batches)
    else:
        threads = [
            threading.Thread(target=loop, args=(read_once,)),
            threading.Thread(target=loop, args=(write_once,)),
        ]
        for thread in threads:
            thread.start()
        try:
            job = rotate("demographics", actor=ACTOR, batch_size=5)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        close_old_connections()
    assert problems == []
    assert reads["n"] > 0 and written
    assert job.state == RotationJob.State.FINISHED
    assert old_key not in key_usage("demographics")
    assert set(key_usage("demographics")) == {job.new_key_id}
    assert all(s.last_name and s.first_name for s in Student.objects.all())


@pytest.mark.django_db
def test_keys_command_status_and_rotate() -> None:
    synthetic_district(3)
    out = StringIO()
    call_command("keys", "status", stdout=out)
    text = out.getvalue()
    assert "demographics: primary" in text and "master key (KEK): file:" in text
    out = StringIO()
    call_command("keys", "rotate", "--category", "enrollment", "--no-progress", stdout=out)
    assert "rotated enrollment" in out.getvalue()
    with pytest.raises(CommandError, match="unknown data category 'lunch'"):
        call_command("keys", "rotate", "--category", "lunch")
