"""The REST API as each persona, as a vendor client and anonymously.

Every allowed read asserts its audit entry (students and categories); every vendor read asserts
its FERPA 99.32 disclosure (contract and elements); every refusal asserts the error shape.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from access_world import World
from api_world import (
    CATEGORY_PATHS,
    add_assessments,
    assert_error,
    disclosures,
    last_read,
    staff_client,
    vendor_client,
    vendor_token,
)
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from studentvault.audit.models import AuditEntry, Disclosure

pytestmark = pytest.mark.django_db

ANONYMOUS_PATHS = [
    "/api/v1/schema/",
    "/api/v1/students/",
    "/api/v1/students/1/",
    *[f"/api/v1/students/1/{slug}/" for slug in CATEGORY_PATHS],
]


@pytest.fixture(autouse=True)
def _fresh_throttle_counts() -> Any:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_world(world: World) -> World:
    add_assessments(world)
    return world


def ids(response: Any) -> set[int]:
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize("path", ANONYMOUS_PATHS)
def test_anonymous_gets_401_and_no_data(world: World, path: str) -> None:
    before = AuditEntry.objects.filter(action="records:student:read").count()
    response = Client(HTTP_HOST="localhost", secure=True).get(path)
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert AuditEntry.objects.filter(action="records:student:read").count() == before


def test_bad_bearer_token_gets_401(world: World) -> None:
    response = vendor_client("not-a-token").get("/api/v1/students/")
    assert_error(response, 401, "not_authenticated")


def test_vendor_gets_only_contract_fields_and_schools(api_world: World) -> None:
    w = api_world
    _, token = vendor_token(w)
    client = vendor_client(token)
    response = client.get("/api/v1/students/")
    assert response.status_code == 200, response.content
    school_a = {w.students[n].pk for n in ("s_roster", "s_a", "s_case")}
    assert ids(response) == school_a
    for row in response.json()["results"]:
        assert set(row) == {"id", "first_name", "last_name"}  # contract fields only
    entry = last_read()
    assert entry.actor_id.startswith("client:")
    assert set(entry.student_list) == school_a
    assert entry.category_list == ["demographics"]
    released = disclosures()
    assert {d.student_id for d in released} == school_a
    assert all(d.recipient_kind == "vendor" and d.channel == "api" for d in released)
    assert all(d.contract_ref == f"contract:{w.contract.pk}" for d in released)  # type: ignore[union-attr]
    assert all(d.elements == ["student.first_name", "student.last_name"] for d in released)


def test_vendor_assessments_are_cut_to_the_contract_field(api_world: World) -> None:
    w = api_world
    _, token = vendor_token(w)
    student = w.students["s_roster"]
    response = vendor_client(token).get(f"/api/v1/students/{student.pk}/assessments/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["fields"] == ["assessmentresult.scale_score"]
    assert body["records"]["assessmentresult"] == [{"scale_score": 700}]
    entry = last_read()
    assert entry.student_list == [student.pk] and entry.category_list == ["assessments"]
    assert entry.purpose == "Deliver interim assessments"
    disclosure = Disclosure.objects.get(student_id=student.pk)
    assert disclosure.elements == ["assessmentresult.scale_score"]


def test_vendor_is_refused_outside_contract(api_world: World) -> None:
    w = api_world
    _, token = vendor_token(w)
    client = vendor_client(token)
    outsider = w.students["s_b"]
    before = Disclosure.objects.count()
    assert_error(client.get(f"/api/v1/students/{outsider.pk}/"), 404, "not_found")
    assert_error(client.get(f"/api/v1/students/{outsider.pk}/assessments/"), 404, "not_found")
    inside = w.students["s_a"]
    # Enrollment and special education are not in the contract's categories.
    assert_error(
        client.get(f"/api/v1/students/{inside.pk}/enrollments/"), 403, "category_not_granted"
    )
    assert_error(
        client.get(f"/api/v1/students/{inside.pk}/special-education/"), 403, "category_not_granted"
    )
    # The school filter would reveal enrollment, which the contract does not cover.
    assert_error(
        client.get("/api/v1/students/", {"school": "0001"}), 400, "filter_not_allowed", "school"
    )
    assert Disclosure.objects.count() == before


def test_ended_contract_is_refused_even_with_a_live_token(api_world: World) -> None:
    w = api_world
    assert w.contract is not None
    _, token = vendor_token(w)
    w.contract.ends_on = timezone.localdate() - dt.timedelta(days=1)
    w.contract.starts_on = w.contract.ends_on - dt.timedelta(days=10)
    w.contract.save()
    client = vendor_client(token)
    assert_error(client.get("/api/v1/students/"), 403, "contract_inactive")
    student = w.students["s_roster"]
    assert_error(
        client.get(f"/api/v1/students/{student.pk}/assessments/"), 403, "contract_inactive"
    )
    assert Disclosure.objects.count() == 0


def test_principal_reads_the_school_with_staff_fields(api_world: World) -> None:
    w = api_world
    client = staff_client(w, "bob")
    response = client.get("/api/v1/students/")
    assert response.status_code == 200
    school_a = {w.students[n].pk for n in ("s_roster", "s_a", "s_case")}
    assert ids(response) == school_a
    row = response.json()["results"][0]
    assert {"sasid", "local_id", "first_name", "birth_date"} <= set(row)
    assert set(last_read().category_list) == {"demographics", "enrollment"}
    assert Disclosure.objects.count() == 0  # staff reads are not disclosures
    filtered = client.get("/api/v1/students/", {"school": "0002"})
    assert filtered.status_code == 200 and ids(filtered) == set()
    grade = client.get("/api/v1/students/", {"school": "0001", "grade": "050"})
    assert ids(grade) == school_a


def test_restricted_category_needs_a_purpose(api_world: World) -> None:
    w = api_world
    client = staff_client(w, "bob")
    student = w.students["s_a"]
    url = f"/api/v1/students/{student.pk}/special-education/"
    before = AuditEntry.objects.filter(action="records:student:read").count()
    assert_error(client.get(url), 400, "purpose_required", "purpose")
    assert_error(client.get(url, {"purpose": "curiosity"}), 400, "invalid", "purpose")
    assert AuditEntry.objects.filter(action="records:student:read").count() == before
    response = client.get(url, {"purpose": "iep_meeting"})
    assert response.status_code == 200
    assert set(response.json()["records"]) == {
        "disability",
        "specialeducationservice",
        "individualizededucationprogram",
    }
    entry = last_read()
    assert entry.purpose == "iep_meeting" and entry.category_list == ["special_education"]


def test_teacher_reaches_only_the_roster(api_world: World) -> None:
    w = api_world
    client = staff_client(w, "carol")
    assert ids(client.get("/api/v1/students/")) == {w.students["s_roster"].pk}
    other = w.students["s_a"]
    missing = client.get("/api/v1/students/99999999/")
    forbidden = client.get(f"/api/v1/students/{other.pk}/")
    assert_error(missing, 404, "not_found")
    assert_error(forbidden, 404, "not_found")
    assert missing.json() == forbidden.json()
    mine = w.students["s_roster"]
    response = client.get(f"/api/v1/students/{mine.pk}/assessments/")
    assert response.status_code == 200
    assert response.json()["records"]["assessmentresult"][0]["scale_score"] == 700
    assert last_read().student_list == [mine.pk]


@pytest.mark.parametrize("slug", sorted(CATEGORY_PATHS))
def test_every_category_endpoint_as_the_data_steward(api_world: World, slug: str) -> None:
    w = api_world
    client = staff_client(w, "alice")
    student = w.students["s_roster"]
    params = {"purpose": "iep_meeting"} if slug == "special-education" else {}
    response = client.get(f"/api/v1/students/{student.pk}/{slug}/", params)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["category"] == CATEGORY_PATHS[slug]
    entry = last_read()
    assert entry.student_list == [student.pk]
    assert entry.category_list == [CATEGORY_PATHS[slug]]


def test_category_outside_the_role_is_refused(api_world: World) -> None:
    w = api_world
    student = w.students["s_b"]
    # An English learner coordinator has no programs category.
    response = staff_client(w, "frank").get(f"/api/v1/students/{student.pk}/programs/")
    assert_error(response, 403, "category_not_granted")


def test_mfa_and_password_expiry_gate_the_api(api_world: World) -> None:
    w = api_world
    assert_error(staff_client(w, "alice", mfa=False).get("/api/v1/students/"), 403, "mfa_required")
    bob = w.users["bob"]
    profile = bob.staff_profile
    profile.password_changed_at = timezone.now() - dt.timedelta(days=400)
    profile.save()
    assert_error(staff_client(w, "bob").get("/api/v1/students/"), 403, "password_expired")


def test_cursor_pagination_walks_every_student_once(api_world: World) -> None:
    w = api_world
    client = staff_client(w, "alice")
    seen: list[int] = []
    url: str | None = "/api/v1/students/?limit=2"
    pages = 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert len(body["results"]) <= 2
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
        pages += 1
    assert sorted(seen) == sorted(s.pk for s in w.students.values())
    assert len(seen) == len(set(seen)) and pages == 3
    assert_error(client.get("/api/v1/students/", {"cursor": "forged"}), 400, "invalid", "cursor")
    assert_error(client.get("/api/v1/students/", {"limit": "0"}), 400, "invalid", "limit")
    assert_error(client.get("/api/v1/students/", {"school": "x"}), 400, "invalid", "school")
    assert_error(client.get("/api/v1/students/", {"grade": "999"}), 400, "invalid", "grade")


def test_throttling_per_actor(api_world: World, settings: Any) -> None:
    settings.API_THROTTLE_RATE = "3/min"
    w = api_world
    bob = staff_client(w, "bob")
    for _ in range(3):
        assert bob.get("/api/v1/students/").status_code == 200
    throttled = bob.get("/api/v1/students/")
    assert_error(throttled, 429, "throttled")
    assert int(throttled["Retry-After"]) > 0
    # Another actor has its own budget.
    assert staff_client(w, "carol").get("/api/v1/students/").status_code == 200


def test_error_shape_for_unknown_paths_and_methods(api_world: World) -> None:
    client = staff_client(api_world, "bob")
    assert_error(client.get("/api/v1/nothing-here/"), 404, "not_found")
    response = client.post("/api/v1/students/", "{}", content_type="application/json")
    assert_error(response, 405, "method_not_allowed")


def test_schema_is_served_to_authenticated_callers(api_world: World) -> None:
    response = staff_client(api_world, "bob").get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/students/{student_id}/assessments/" in schema["paths"]
    _, token = vendor_token(api_world)
    assert vendor_client(token).get("/api/v1/schema/").status_code == 200


def test_a_vendor_read_decrypts_only_the_fields_its_contract_releases(
    api_world: World, monkeypatch: pytest.MonkeyPatch, opened_columns: list[tuple[str, str]]
) -> None:
    w = api_world
    _, token = vendor_token(w)
    client = vendor_client(token)
    opened_columns.clear()
    page = client.get("/api/v1/students/")
    assert page.status_code == 200, page.content
    assert {c for t, c in opened_columns if t == "records_student"} == {"first_name", "last_name"}
    assert set(last_read().student_list) == ids(page)  # the read, audited
    opened_columns.clear()
    student = w.students["s_a"]
    detail = client.get(f"/api/v1/students/{student.pk}/")
    assert detail.status_code == 200, detail.content
    assert {c for t, c in opened_columns if t == "records_student"} == {"first_name", "last_name"}
    assert last_read().student_list == [student.pk]
    monkeypatch.undo()
    student.refresh_from_db()
    body = detail.json()
    assert (body["first_name"], body["last_name"]) == (student.first_name, student.last_name)
