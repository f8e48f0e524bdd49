"""Helpers of the API tests: clients per persona and per vendor token, assessment rows."""

from __future__ import annotations

import base64
from typing import Any

from access_world import SYSTEM, World, sign_in
from django.test import Client

from studentvault.access.policy import current_school_year
from studentvault.audit.models import AuditEntry, Disclosure
from studentvault.people.services import vendor_client_create

CATEGORY_PATHS = {
    "enrollments": "enrollment",
    "programs": "programs",
    "special-education": "special_education",
    "english-learners": "english_learners",
    "assessments": "assessments",
    "courses": "courses",
}


def add_assessments(world: World) -> None:
    """One interim result for every current-year student (synthetic scores)."""
    from studentvault.records.models import Assessment, AssessmentResult

    test = Assessment.objects.create(code="INT-MATH", title="Interim math", kind="I", subject="02")
    for n, name in enumerate(("s_roster", "s_a", "s_case", "s_b")):
        AssessmentResult.objects.create(
            student=world.students[name],
            assessment=test,
            school=world.school_b if name == "s_b" else world.school_a,
            school_year=current_school_year(),
            grade_level="050",
            scale_score=700 + n,
            performance_level="3",
        )


def staff_client(world: World, username: str, *, mfa: bool = True) -> Client:
    client = Client(HTTP_HOST="localhost", secure=True)
    sign_in(client, world.users[username], mfa=mfa)
    return client


def vendor_token(world: World) -> tuple[Any, str]:
    """A client-credentials token for the world's contract: (application, access token)."""
    assert world.contract is not None
    app, secret = vendor_client_create(actor=SYSTEM, contract=world.contract, name="api-tests")
    basic = base64.b64encode(f"{app.client_id}:{secret}".encode()).decode()
    response = Client(HTTP_HOST="localhost", secure=True).post(
        "/o/token/", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=f"Basic {basic}"
    )
    assert response.status_code == 200, response.content
    return app, str(response.json()["access_token"])


def vendor_client(token: str) -> Client:
    return Client(HTTP_HOST="localhost", secure=True, HTTP_AUTHORIZATION=f"Bearer {token}")


def last_read() -> AuditEntry:
    entry = AuditEntry.objects.filter(action="records:student:read").order_by("-seq").first()
    assert entry is not None, "no records:student:read audit entry"
    return entry


def disclosures() -> list[Disclosure]:
    return list(Disclosure.objects.order_by("id"))


def assert_error(response: Any, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, (response.status_code, response.content[:300])
    body = response.json()
    assert set(body) == {"code", "detail", "field"}, body
    assert body["code"] == code, body
    assert body["field"] == field, body
    assert isinstance(body["detail"], str) and body["detail"]
