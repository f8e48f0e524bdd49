"""The import screens in a real browser: a data steward signs in with TOTP, uploads a small
synthetic file, reads the preview, commits it and sees the result; a teacher is refused.
Jobs run inline here (no broker); tests/exchange/test_exchange_celery.py runs them on a Celery
worker. Any console error (a CSP violation among them) fails the test.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from access_world import build_world
from browser_session import Session, http_live

sys.path.insert(0, str(Path(__file__).parents[1] / "web"))

from import_files import small_students_file

from studentvault.audit.models import AuditEntry
from studentvault.exchange.models import ImportRun
from studentvault.records.models import Student

__all__ = ["http_live"]

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_steward_uploads_previews_and_commits_an_import(
    browser: Any, live_server: Any, http_live: None, screenshot_dir: Path
) -> None:
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    world = build_world()
    alice = world.users["alice"]
    secret = generate_totp_secret()
    TOTP.activate(alice, secret)
    before = Student.objects.count()
    session = Session(browser, live_server.url)
    session.sign_in("alice", secret)
    page = session.page

    page.click("header nav a[href='/imports/']")
    page.wait_for_url("**/imports/")
    page.select_option("select[name=format]", "district")
    page.set_input_files(
        "input[name=files]",
        files=[{"name": "students.csv", "mimeType": "text/csv", "buffer": small_students_file()}],
    )
    session.shot(screenshot_dir, "import-upload")
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#commit-form")
    assert "Preview: nothing was stored" in page.inner_text("#outcome")
    counts = page.locator("#counts tbody tr").first.locator("td").all_inner_texts()
    assert counts == ["students.csv", "Student", "3", "2", "1", "0", "0"]
    assert Student.objects.count() == before
    session.shot(screenshot_dir, "import-preview")

    preview = ImportRun.objects.get(dry_run=True)
    page.click("#commit-form button[type=submit]")
    page.wait_for_url(lambda url: f"/imports/{preview.pk}/" not in url)
    page.wait_for_selector("#outcome")
    assert page.inner_text("#outcome") == "Committed: added 2, changed 1, unchanged 0."
    assert page.inner_text("#job-status") == "Committed"
    session.shot(screenshot_dir, "import-committed")

    commit = ImportRun.objects.get(dry_run=False)
    assert (commit.status, commit.channel, commit.actor_id) == (
        "committed",
        "web",
        f"user:{alice.pk}",
    )
    assert Student.objects.count() == before + 2
    audited = AuditEntry.objects.get(action="exchange:import:commit")
    assert audited.actor_id == f"user:{alice.pk}" and audited.target == f"import:{commit.pk}"
    assert AuditEntry.objects.filter(
        action="exchange:import:preview", target=f"import:{preview.pk}"
    ).exists()

    page.goto(live_server.url + "/imports/")
    history = page.locator("table tbody tr").all_inner_texts()
    assert len(history) == 2 and "Committed" in history[0]
    session.close()


def test_teacher_is_refused_the_import_page(
    browser: Any, live_server: Any, http_live: None
) -> None:
    world = build_world()
    session = Session(browser, live_server.url)
    session.sign_in("carol")
    assert session.page.locator("header nav a[href='/imports/']").count() == 0
    response = session.go("/imports/")
    assert response is not None and response.status == 403
    session.errors.remove(
        "Failed to load resource: the server responded with a status of 403 (Forbidden)"
    )
    assert ImportRun.objects.count() == 0
    refused = AuditEntry.objects.get(action="access:route:deny")
    assert refused.outcome == "denied" and refused.actor_id == f"user:{world.users['carol'].pk}"
    session.close()


def test_run_page_follows_a_running_job(
    browser: Any, live_server: Any, http_live: None, screenshot_dir: Path
) -> None:
    """The page of a queued job polls its status with htmx (under the CSP) and shows the
    outcome once the worker has written it; here the test plays the worker's part."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.db import OperationalError
    from django.utils import timezone

    world = build_world()
    alice = world.users["alice"]
    secret = generate_totp_secret()
    TOTP.activate(alice, secret)
    run = ImportRun.objects.create(
        actor_id=f"user:{alice.pk}",
        actor_username="alice",
        format="district",
        channel="web",
        job_id="queued-on-a-worker",
    )
    session = Session(browser, live_server.url)
    session.sign_in("alice", secret)
    session.go(f"/imports/{run.pk}/")
    page = session.page
    assert page.get_attribute("#job-status", "data-status") == "running"
    assert page.locator("#outcome").count() == 0
    session.shot(screenshot_dir, "import-running")
    report = {
        "files": [{"name": "students.csv", "model": "Student", "rows": 2, "added": 2}],
        "problems": [],
    }
    for _ in range(50):  # the in-memory SQLite test database has no busy wait
        try:
            ImportRun.objects.filter(pk=run.pk).update(
                status="committed", added=2, rows_done=2, finished_at=timezone.now(), report=report
            )
            break
        except OperationalError:
            page.wait_for_timeout(100)
    page.wait_for_selector("#outcome", timeout=30_000)
    assert page.inner_text("#outcome") == "Committed: added 2, changed 0, unchanged 0."
    assert page.get_attribute("#job-status", "data-status") == "committed"
    session.close()
