"""Staff UI additions: the "who accessed this record" panel, audit links and the key-status
page, each only for roles with the audit-read permission."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission as ModelPermission
from django.test import Client

sys.path.insert(0, str(Path(__file__).parents[1] / "access"))

from access_world import World, fast_hashing, sign_in, world

from studentvault.audit.models import AuditEntry
from studentvault.core.categories import DataCategory

__all__ = ["fast_hashing", "world"]

pytestmark = pytest.mark.django_db


def client_for(world: World, username: str) -> Client:
    client = Client(HTTP_HOST="localhost")
    sign_in(client, world.users[username])
    return client


def test_panel_lists_who_read_the_record_for_audit_readers(world: World) -> None:
    student = world.students["s_roster"]
    bob = client_for(world, "bob")
    html = bob.get(f"/students/{student.pk}/").content.decode()
    assert "Who accessed this record" not in html  # a principal has no audit-read permission
    alice = client_for(world, "alice")
    html = alice.get(f"/students/{student.pk}/").content.decode()
    assert "Who accessed this record" in html
    panel = html.split('id="access-heading"', 1)[1]
    assert "bob" in panel and "records:student:read" in panel
    entry = AuditEntry.objects.filter(action="audit:access_report:read").order_by("-seq").first()
    assert entry is not None and entry.student_list == [student.pk]
    assert entry.actor_id == f"user:{world.users['alice'].pk}"


def test_panel_is_not_shown_for_a_record_out_of_reach(world: World) -> None:
    before = AuditEntry.objects.filter(action="audit:access_report:read").count()
    response = client_for(world, "carol").get(f"/students/{world.students['s_b'].pk}/")
    assert response.status_code == 404
    assert AuditEntry.objects.filter(action="audit:access_report:read").count() == before


def test_navigation_links_follow_the_rules(world: World) -> None:
    html = client_for(world, "bob").get("/").content.decode()
    assert "Key status" not in html and "Alerts" not in html
    alice_user = world.users["alice"]
    html = client_for(world, "alice").get("/").content.decode()
    assert "Key status" in html
    assert "Alerts" not in html  # the audit app's own model permission is missing
    alice_user.user_permissions.add(ModelPermission.objects.get(codename="view_auditentry"))
    html = client_for(world, "alice").get("/").content.decode()
    assert 'href="/audit/alerts/"' in html and 'href="/audit/checkpoint/"' in html


def test_key_status_page(world: World) -> None:
    assert client_for(world, "bob").get("/keys/").status_code == 403
    response = client_for(world, "alice").get("/keys/")
    assert response.status_code == 200
    html = response.content.decode()
    for category in DataCategory:
        assert f"<td>{category.value}</td>" in html
    assert AuditEntry.objects.filter(action="crypto:keys:status").exists()


def test_anonymous_is_sent_to_sign_in_from_key_status(world: World) -> None:
    response: Any = Client(HTTP_HOST="localhost").get("/keys/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
