"""The import screens: upload, preview, commit, discard, refusals, limits; as each role.

Imports run inline here (no broker); tests/exchange/test_exchange_celery.py runs the same job
through a Celery worker over Redis.
"""

from __future__ import annotations

import io
import re
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.conf import LazySettings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

sys.path.insert(0, str(Path(__file__).parents[1] / "access"))

from access_world import World, fast_hashing, sign_in, world
from import_files import small_students_file, student_row, students_csv

from studentvault.audit.models import AuditEntry
from studentvault.exchange.models import ImportRun
from studentvault.exchange.uploads import purge_stale, staging_root
from studentvault.records.models import Student
from studentvault.web.security import CONTENT_SECURITY_POLICY

__all__ = ["fast_hashing", "world"]

pytestmark = pytest.mark.django_db

INLINE = [
    re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    re.compile(r"\sstyle\s*=", re.IGNORECASE),
    re.compile(r"<style", re.IGNORECASE),
    re.compile(r"javascript:", re.IGNORECASE),
]


def client_for(world: World, username: str, **kwargs: Any) -> Client:
    client = Client(HTTP_HOST="localhost", **kwargs)
    client.defaults["wsgi.url_scheme"] = "https"
    sign_in(client, world.users[username])
    return client


def upload(client: Client, content: bytes, name: str = "students.csv", **fields: str) -> Any:
    data = {"format": "district", "mapping": "", **fields}
    data["files"] = SimpleUploadedFile(name, content, content_type="text/csv")
    return client.post("/imports/", data, secure=True)


def run_id_of(response: Any) -> int:
    assert response.status_code == 302, response.content[:500]
    found = re.fullmatch(r"/imports/(\d+)/", response["Location"])
    assert found, response["Location"]
    return int(found.group(1))


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("seq"))


def staged_files() -> list[Path]:
    return sorted(p for p in staging_root().rglob("*") if p.is_file() and p.name != "decision")


def test_steward_uploads_previews_and_commits(world: World) -> None:
    alice = world.users["alice"]
    client = client_for(world, "alice")
    page = client.get("/imports/", secure=True)
    assert page.status_code == 200
    assert page["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert page["Cache-Control"] == "no-store"
    html = page.content.decode()
    assert 'enctype="multipart/form-data"' in html and "csrfmiddlewaretoken" in html
    for pattern in INLINE:
        assert not pattern.search(html), pattern.pattern
    before = Student.objects.count()

    preview_id = run_id_of(upload(client, small_students_file()))
    preview = ImportRun.objects.get(pk=preview_id)
    assert (preview.status, preview.channel, preview.dry_run) == ("previewed", "web", True), (
        preview.report
    )
    assert (preview.added, preview.changed, preview.unchanged) == (2, 1, 0)
    assert Student.objects.count() == before  # a preview stores nothing
    assert len(staged_files()) == 1
    [audited] = entries("exchange:import:preview")
    assert audited.actor_id == f"user:{alice.pk}" and audited.target == f"import:{preview_id}"

    shown = client.get(f"/imports/{preview_id}/", secure=True)
    text = shown.content.decode()
    assert shown.status_code == 200 and 'id="commit-form"' in text
    assert "Synthetic40" not in text and "1000000040" not in text  # counts, never values
    counts = re.search(r'<table id="counts">.*?</table>', text, re.S)
    assert counts is not None and "<td>students.csv</td><td>Student</td><td>3</td>" in counts.group(
        0
    )
    for pattern in INLINE:
        assert not pattern.search(text), pattern.pattern

    commit_id = run_id_of(client.post(f"/imports/{preview_id}/commit/", secure=True))
    commit = ImportRun.objects.get(pk=commit_id)
    assert (commit.status, commit.dry_run) == ("committed", False)
    assert (commit.added, commit.changed, commit.unchanged) == (2, 1, 0)
    assert Student.objects.count() == before + 2
    [committed] = entries("exchange:import:commit")
    assert committed.actor_id == f"user:{alice.pk}" and committed.target == f"import:{commit_id}"
    assert len(committed.student_list) == 3  # the added and the changed students
    assert staged_files() == []  # the job deleted the staged file
    result = client.get(f"/imports/{commit_id}/", secure=True).content.decode()
    assert "Committed: added 2, changed 1, unchanged 0." in result
    again = client.get(f"/imports/{preview_id}/", secure=True).content.decode()
    assert f'href="/imports/{commit_id}/"' in again and 'id="commit-form"' not in again

    twice = client.post(f"/imports/{preview_id}/commit/", secure=True)
    assert twice.status_code == 409 and "already committed" in twice.content.decode()
    assert ImportRun.objects.filter(dry_run=False).count() == 1
    assert entries("exchange:upload:reject")[-1].outcome == "failure"

    # The same file again: a no-op, seen in its preview.
    second = ImportRun.objects.get(pk=run_id_of(upload(client, small_students_file())))
    assert (second.status, second.added, second.changed, second.unchanged) == (
        "previewed",
        0,
        0,
        3,
    )


@pytest.mark.parametrize("username", ["carol", "bob", "vera"])
def test_roles_without_change_rights_are_refused(world: World, username: str) -> None:
    client = client_for(world, username)
    assert client.get("/imports/", secure=True).status_code == 403
    refused = upload(client, small_students_file())
    assert refused.status_code == 403
    assert ImportRun.objects.count() == 0 and staged_files() == []
    denied = entries("access:route:deny")
    assert len(denied) == 2 and all(e.outcome == "denied" for e in denied)
    assert denied[0].actor_id == f"user:{world.users[username].pk}"
    home = client.get("/", secure=True)
    if home.status_code == 200:
        assert 'href="/imports/"' not in home.content.decode()


def test_nav_link_shown_to_importers_only(world: World) -> None:
    html = client_for(world, "alice").get("/", secure=True).content.decode()
    assert 'href="/imports/"' in html
    html = client_for(world, "carol").get("/", secure=True).content.decode()
    assert 'href="/imports/"' not in html


def test_anonymous_is_sent_to_sign_in(world: World) -> None:
    response = Client(HTTP_HOST="localhost").get("/imports/", secure=True)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_another_accounts_run_looks_missing(world: World) -> None:
    preview_id = run_id_of(upload(client_for(world, "alice"), small_students_file()))
    dave = client_for(world, "dave")  # counselor: may import (school scope), not alice's run
    assert dave.get("/imports/", secure=True).status_code == 200
    assert (
        f'href="/imports/{preview_id}/"' not in dave.get("/imports/", secure=True).content.decode()
    )
    assert dave.get(f"/imports/{preview_id}/", secure=True).status_code == 404
    assert dave.get("/imports/999999/", secure=True).status_code == 404
    assert dave.post(f"/imports/{preview_id}/commit/", secure=True).status_code == 404
    assert dave.post(f"/imports/{preview_id}/discard/", secure=True).status_code == 404
    assert ImportRun.objects.filter(dry_run=False).count() == 0
    assert len(staged_files()) == 1


def test_discard_deletes_the_staged_files(world: World) -> None:
    client = client_for(world, "alice")
    preview_id = run_id_of(upload(client, small_students_file()))
    assert len(staged_files()) == 1
    assert run_id_of(client.post(f"/imports/{preview_id}/discard/", secure=True)) == preview_id
    assert staged_files() == []
    [discarded] = entries("exchange:import:discard")
    assert discarded.target == f"import:{preview_id}"
    refused = client.post(f"/imports/{preview_id}/commit/", secure=True)
    assert refused.status_code == 409 and "discarded" in refused.content.decode()
    assert ImportRun.objects.filter(dry_run=False).count() == 0


def test_oversized_file_is_refused_while_it_streams(world: World, settings: LazySettings) -> None:
    settings.IMPORT_MAX_BYTES = 300
    client = client_for(world, "alice")
    content = students_csv([student_row(n) for n in range(40, 46)])
    assert 300 < len(content) < 64 * 1024
    response = upload(client, content)
    assert response.status_code == 400
    text = response.content.decode()
    assert "students.csv" in text and "limit of 300 bytes" in text and "nothing was stored" in text
    assert ImportRun.objects.count() == 0 and staged_files() == []
    assert entries("exchange:upload:reject")[-1].outcome == "failure"


def test_oversized_upload_is_refused_from_its_length(world: World, settings: LazySettings) -> None:
    settings.IMPORT_MAX_BYTES = 10
    client = client_for(world, "alice")
    response = upload(client, b"x" * (70 * 1024))
    assert response.status_code == 413
    assert "more than the limit of 10 bytes" in response.content.decode()
    assert ImportRun.objects.count() == 0 and staged_files() == []


def test_zip_renamed_csv_is_rejected_and_cannot_be_committed(world: World) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as packed:
        packed.writestr("students.csv", small_students_file())
    client = client_for(world, "alice")
    before = Student.objects.count()
    preview_id = run_id_of(upload(client, archive.getvalue()))
    run = ImportRun.objects.get(pk=preview_id)
    assert run.status == "rejected"
    page = client.get(f"/imports/{preview_id}/", secure=True).content.decode()
    assert "ZIP archive" in page and 'id="commit-form"' not in page
    assert client.post(f"/imports/{preview_id}/commit/", secure=True).status_code == 409
    assert Student.objects.count() == before
    assert entries("exchange:import:reject")[0].target == f"import:{preview_id}"


def test_bad_value_names_file_line_and_column_never_the_value(world: World) -> None:
    client = client_for(world, "alice")
    content = students_csv([student_row(40), student_row(41, birth_date="1999-31-31")])
    preview_id = run_id_of(upload(client, content))
    assert ImportRun.objects.get(pk=preview_id).status == "rejected"
    page = client.get(f"/imports/{preview_id}/", secure=True).content.decode()
    problems = re.search(r'<table id="problems">.*?</table>', page, re.S)
    assert problems is not None
    assert "<td>students.csv</td><td>3</td><td>birth_date</td>" in problems.group(0)
    assert "1999-31-31" not in page


@pytest.mark.parametrize(
    ("name", "problem"),
    [("../students.csv", "a file name must be"), (".hidden.csv", "a file name must be")],
)
def test_unsafe_file_names_are_refused(world: World, name: str, problem: str) -> None:
    client = client_for(world, "alice")
    response = upload(client, small_students_file(), name=name)
    if name.startswith("../"):
        # Django keeps only the last part of a path: the file is staged as students.csv.
        run = ImportRun.objects.get(pk=run_id_of(response))
        assert [f["name"] for f in run.files] == ["students.csv"]
        assert [p.name for p in staged_files()] == ["students.csv"]
        assert staged_files()[0].parent.parent == staging_root()
        return
    assert response.status_code == 400 and problem in response.content.decode()
    assert ImportRun.objects.count() == 0 and staged_files() == []


def test_unknown_format_and_missing_file_are_refused(world: World) -> None:
    client = client_for(world, "alice")
    response = upload(client, small_students_file(), format="no-such-format")
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    empty = client.post("/imports/", {"format": "district"}, secure=True)
    assert empty.status_code == 400 and "no file was sent" in empty.content.decode()
    assert ImportRun.objects.count() == 0


def test_upload_needs_the_csrf_token(world: World) -> None:
    client = client_for(world, "alice", enforce_csrf_checks=True)
    response = upload(client, small_students_file())
    assert response.status_code == 403
    assert ImportRun.objects.count() == 0 and staged_files() == []


def test_uploads_left_alone_are_purged(world: World, settings: LazySettings) -> None:
    settings.IMPORT_STAGING_HOURS = 1
    client = client_for(world, "alice")
    left = run_id_of(upload(client, small_students_file()))
    committed = run_id_of(upload(client, small_students_file()))
    run_id_of(client.post(f"/imports/{committed}/commit/", secure=True))
    assert len(staged_files()) == 1
    assert purge_stale() == 0  # younger than an hour
    assert purge_stale(now=time.time() + 2 * 3600) == 1
    assert staged_files() == []
    page = client.get(f"/imports/{left}/", secure=True).content.decode()
    assert 'id="commit-form"' not in page


def test_spooled_data_an_import_left_behind_is_purged(world: World, settings: LazySettings) -> None:
    settings.IMPORT_STAGING_HOURS = 1
    left = staging_root() / "spool-left"
    (left / "0007").mkdir(parents=True)
    (left / "0007" / "0000.copy").write_bytes(b"PGCOPY")
    purge_stale()
    assert left.exists()  # younger than an hour: perhaps an import still running
    purge_stale(now=time.time() + 2 * 3600)
    assert not left.exists()
