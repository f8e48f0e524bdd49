"""Import jobs through a real Celery worker over Redis (127.0.0.1:6379).

The worker is Celery's test worker (``celery.contrib.testing.worker.start_worker``): the real
consumer, in a thread of this process, reading its own queue on the Redis broker; results come
back through Redis too. Without Redis the tests are skipped with a message, except under
CI=true (as in .ci/run), where an unreachable Redis fails them.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from celery.result import AsyncResult
from celery.signals import task_postrun, task_prerun
from django.conf import LazySettings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client

sys.path.insert(0, str(Path(__file__).parents[1] / "access"))
sys.path.insert(0, str(Path(__file__).parents[1] / "web"))

from access_world import World, build_world, sign_in, staff_actor
from import_files import small_students_file

from config.celery import app as celery_app
from studentvault.audit.models import AuditEntry
from studentvault.exchange import jobs
from studentvault.exchange.models import ImportRun
from studentvault.exchange.uploads import staging_root
from studentvault.records.models import Student

pytestmark = pytest.mark.django_db(transaction=True)

REDIS_URL = os.environ.get("STUDENTVAULT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
JOB_TIMEOUT = 60  # seconds; a bound against a hung worker, not a speed check
# One queue of this process's own (Celery keeps the queue table it built first, so the name
# must not change between tests): parallel test processes and other users of the same Redis
# never take each other's jobs.
QUEUE = f"studentvault-test-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.exceptions.RedisError as problem:
        message = f"Redis is unreachable at {REDIS_URL} ({type(problem).__name__}: {problem})"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " — required under CI=true (.ci/run starts it)")
        pytest.skip(message + "; start redis-server to run the Celery tests")
    return REDIS_URL


@pytest.fixture
def broker(settings: LazySettings, redis_url: str) -> Iterator[Callable[[], Any]]:
    """Jobs go to Redis on this process's own queue; ``broker()`` runs a worker on it.

    Tests queue their jobs first and start the worker afterwards: the in-memory SQLite test
    database refuses a second writer at once (it has no busy wait), so requests of the test
    client, which write the session, must not overlap a job's transaction.
    """
    from celery.contrib.testing.worker import start_worker

    changes = {
        "broker_url": redis_url,
        "result_backend": redis_url,
        "task_always_eager": False,
        "task_default_queue": QUEUE,
        "worker_hijack_root_logger": False,
    }
    saved = {key: celery_app.conf.get(key) for key in changes}
    celery_app.conf.update(changes)
    settings.CELERY_BROKER_URL = redis_url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    threads: set[int] = set()

    def started(**_: Any) -> None:
        threads.add(threading.get_ident())

    def finished(**_: Any) -> None:
        # The worker thread's own database connection must not outlive the test database.
        connection.close()

    @contextmanager
    def worker() -> Iterator[set[int]]:
        with start_worker(
            celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=JOB_TIMEOUT
        ):
            yield threads

    task_prerun.connect(started, weak=False)
    task_postrun.connect(finished, weak=False)
    try:
        yield worker
    finally:
        task_prerun.disconnect(started)
        task_postrun.disconnect(finished)
        celery_app.conf.update(saved)


def queued_run(run_id: int) -> ImportRun:
    """Read a queued run, for ``wait``. Call it before the worker starts, never while it runs.

    The in-memory SQLite test database shares one cache between connections, and its table
    locks refuse a write to a table another connection is reading at that moment, at once and
    without a busy wait. A read of ``exchange_importrun`` here while the worker saves the run
    therefore fails the worker's job now and then (CI saw it once).
    """
    return ImportRun.objects.get(pk=run_id)


def wait(queued: ImportRun) -> ImportRun:
    """Wait (through the Redis result backend) for the job of a run, then read the run.

    ``queued`` was read before the worker started (see ``queued_run``): while the job runs this
    thread only waits on Redis, and it reads the run again once the job has stored its result,
    when the job writes nothing more.
    """
    assert queued.job_id, "the run was not queued"
    status = AsyncResult(queued.job_id, app=celery_app).get(timeout=JOB_TIMEOUT)
    run = ImportRun.objects.get(pk=queued.pk)
    assert status == run.status
    return run


@pytest.fixture
def world(fast_hashing_settings: None) -> World:
    return build_world()


@pytest.fixture
def fast_hashing_settings(settings: LazySettings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_import_job_runs_on_the_worker_and_is_stored_and_audited(
    world: World, broker: Callable[[], Any], tmp_path: Path
) -> None:
    alice = world.users["alice"]
    actor = staff_actor(alice)
    path = tmp_path / "students.csv"
    path.write_bytes(small_students_file())
    before = Student.objects.count()

    queued = jobs.queue_import(
        actor=actor, format_name="district", paths=[path], dry_run=False, channel="cli"
    )
    stored = ImportRun.objects.get(pk=queued.pk)
    assert (stored.status, stored.job_id) == ("running", queued.job_id)  # queued, not inline
    assert Student.objects.count() == before
    with broker() as threads:
        run = wait(queued)
        again = jobs.queue_import(
            actor=actor, format_name="district", paths=[path], dry_run=False, channel="cli"
        )
        repeated = wait(again)

    assert threads and threading.get_ident() not in threads  # it ran on the worker
    assert (run.status, run.added, run.changed, run.unchanged, run.errors) == (
        "committed",
        2,
        1,
        0,
        0,
    )
    assert run.finished_at is not None and run.actor_id == actor.id
    assert [f["name"] for f in run.files] == ["students.csv"]
    assert Student.objects.count() == before + 2
    entry = AuditEntry.objects.get(action="exchange:import:commit", target=f"import:{run.pk}")
    assert entry.actor_id == actor.id and entry.outcome == "success"
    assert "demographics" in entry.category_list
    assert len(entry.student_list) == 3
    assert path.exists()  # a CLI job leaves the caller's file alone
    assert (repeated.status, repeated.added, repeated.changed, repeated.unchanged) == (
        "committed",
        0,
        0,
        3,
    )


def run_id_in(response: Any) -> int:
    assert response.status_code == 302, response.content[:300]
    found = re.fullmatch(r"/imports/(\d+)/", response["Location"])
    assert found is not None
    return int(found.group(1))


def test_web_upload_preview_and_commit_through_the_worker(
    world: World, broker: Callable[[], Any]
) -> None:
    client = Client(HTTP_HOST="localhost")
    sign_in(client, world.users["alice"])
    before = Student.objects.count()
    preview_id = run_id_in(
        client.post(
            "/imports/",
            {
                "format": "district",
                "mapping": "",
                "files": SimpleUploadedFile("students.csv", small_students_file()),
            },
            secure=True,
        )
    )
    waiting = client.get(f"/imports/{preview_id}/", secure=True).content.decode()
    assert 'data-status="running"' in waiting
    assert f'hx-get="/imports/{preview_id}/" hx-trigger="every 2s"' in waiting
    assert 'id="commit-form"' not in waiting
    queued_preview = queued_run(preview_id)
    with broker():
        preview = wait(queued_preview)
    assert (preview.status, preview.added, preview.changed) == ("previewed", 2, 1)
    page = client.get(f"/imports/{preview_id}/", secure=True).content.decode()
    assert 'id="commit-form"' in page and "hx-trigger" not in page

    commit_id = run_id_in(client.post(f"/imports/{preview_id}/commit/", secure=True))
    assert Student.objects.count() == before  # queued: nothing stored yet
    queued_commit = queued_run(commit_id)
    with broker():
        run = wait(queued_commit)
    assert (run.status, run.dry_run, run.channel) == ("committed", False, "web")
    assert Student.objects.count() == before + 2
    result = client.get(f"/imports/{commit_id}/", secure=True).content.decode()
    assert "Committed: added 2, changed 1, unchanged 0." in result
    # The worker deleted the staged file; only the decision marker (the commit's id) is left.
    assert [p.name for p in staging_root().rglob("*") if p.is_file()] == ["decision"]
    assert AuditEntry.objects.filter(
        action="exchange:import:commit", target=f"import:{commit_id}"
    ).exists()


def test_a_job_that_crashes_ends_failed_and_audited(
    world: World, broker: Callable[[], Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(**_: Any) -> ImportRun:
        raise RuntimeError("a value that must not be shown: Synthetic40")

    monkeypatch.setattr(jobs, "import_files", crash)
    actor = staff_actor(world.users["alice"])
    path = tmp_path / "students.csv"
    path.write_bytes(small_students_file())
    queued = jobs.queue_import(
        actor=actor,
        format_name="district",
        paths=[path],
        dry_run=False,
        channel="web",
        remove_after=[path],
    )
    with broker():
        run = wait(queued)
    assert run.status == "failed" and run.finished_at is not None
    problem = run.report["problems"][0]["problem"]
    assert "RuntimeError" in problem and "Synthetic40" not in problem
    assert not path.exists()
    entry = AuditEntry.objects.get(action="exchange:import:fail")
    assert entry.outcome == "failure" and entry.target == f"import:{run.pk}"
    assert "Synthetic40" not in str(entry.details)
