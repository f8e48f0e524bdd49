"""The Bearer token fast path (ADR 0065): it accepts exactly the tokens the toolkit accepts for
a vendor client and hands everything else to django-oauth-toolkit; a read through it is still
authorized per student and audited with its disclosure."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from access_world import World
from api_world import assert_error, disclosures, last_read, vendor_client, vendor_token
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import AccessToken

from studentvault.api.authentication import _client_token
from studentvault.audit.verify import verify_log

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttle_counts() -> Any:
    cache.clear()
    yield
    cache.clear()


def test_a_vendor_read_through_the_fast_path_is_authorized_audited_and_disclosed(
    world: World,
) -> None:
    app, token = vendor_token(world)
    student = world.students["s_a"]
    assert _client_token(f"Bearer {token}") is not None  # this request takes the fast path
    with CaptureQueriesContext(connection) as captured:
        response = vendor_client(token).get(f"/api/v1/students/{student.pk}/")
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"id", "first_name", "last_name"}
    toolkit_query = '"oauth2_provider_accesstoken"."id"'  # the toolkit's ORM lookup
    assert not [q for q in captured.captured_queries if toolkit_query in q["sql"]]
    entry = last_read()
    assert entry.actor_id == f"client:{app.client_id}"
    assert entry.student_list == [student.pk] and entry.category_list == ["demographics"]
    released = disclosures()
    assert [d.student_id for d in released] == [student.pk]
    assert released[0].audit_entry.action == "exchange:disclosure:create"
    # Outside the contract's schools: the same 404 as a missing student, nothing released.
    assert_error(
        vendor_client(token).get(f"/api/v1/students/{world.students['s_b'].pk}/"), 404, "not_found"
    )
    assert len(disclosures()) == 1


def test_the_toolkit_path_gives_the_same_answer(world: World) -> None:
    app, token = vendor_token(world)
    student = world.students["s_a"]
    # A lower-case scheme is valid Bearer syntax; the fast path leaves it to the toolkit.
    assert _client_token(f"bearer {token}") is None
    slow = Client(HTTP_HOST="localhost", secure=True, HTTP_AUTHORIZATION=f"bearer {token}")
    fast = vendor_client(token)
    assert slow.get(f"/api/v1/students/{student.pk}/").json() == (
        fast.get(f"/api/v1/students/{student.pk}/").json()
    )
    reads = [e.actor_id for e in type(last_read()).objects.filter(action="records:student:read")]
    assert reads == [f"client:{app.client_id}"] * 2


def test_expired_unknown_and_deleted_tokens_are_refused(world: World) -> None:
    _, token = vendor_token(world)
    stored = AccessToken.objects.get()
    path = f"/api/v1/students/{world.students['s_a'].pk}/"
    before = len(disclosures())
    stored.expires = timezone.now() - dt.timedelta(seconds=1)
    stored.save()
    assert _client_token(f"Bearer {token}") is None
    response = vendor_client(token).get(path)
    assert_error(response, 401, "not_authenticated")
    assert "invalid_token" in response["WWW-Authenticate"]  # the toolkit's own answer
    assert_error(vendor_client(token + "x").get(path), 401, "not_authenticated")
    stored.expires = timezone.now() + dt.timedelta(hours=1)
    stored.save()
    assert vendor_client(token).get(path).status_code == 200
    stored.delete()
    assert_error(vendor_client(token).get(path), 401, "not_authenticated")
    assert len(disclosures()) == before + 1


def test_user_bound_and_audience_restricted_tokens_are_left_to_the_toolkit(world: World) -> None:
    _, token = vendor_token(world)
    stored = AccessToken.objects.get()
    stored.resource = ["https://elsewhere.example/api/"]
    stored.save()
    assert _client_token(f"Bearer {token}") is None
    stored.resource = []
    stored.user = world.users["bob"]
    stored.save()
    assert _client_token(f"Bearer {token}") is None
    for header in ("Bearer", "Bearer a b", "Basic abc"):
        assert _client_token(header) is None


def test_only_the_exact_header_form_is_looked_up(world: World) -> None:
    _, token = vendor_token(world)
    assert _client_token(f"Bearer {token}") is not None
    for header in (
        f"Bearer {token}\n",
        f"Bearer  {token}",
        f" Bearer {token}",
        f"Bearer {token} x",
    ):
        assert _client_token(header) is None, repr(header)


@pytest.mark.django_db(transaction=True)
def test_a_vendor_read_outside_any_transaction_appends_both_entries_at_once(
    world: World,
) -> None:
    """Served as in production (autocommit): on PostgreSQL one statement writes the disclosure
    entry, its row and the read entry (ADR 0065); the chain verifies."""
    app, token = vendor_token(world)
    student = world.students["s_a"]
    response = vendor_client(token).get(f"/api/v1/students/{student.pk}/")
    assert response.status_code == 200, response.content
    entry = last_read()
    assert entry.actor_id == f"client:{app.client_id}" and entry.student_list == [student.pk]
    (released,) = disclosures()
    assert released.student_id == student.pk
    assert released.audit_entry.seq == entry.seq - 1
    assert released.audit_entry.student_list == [student.pk]
    assert verify_log().ok
