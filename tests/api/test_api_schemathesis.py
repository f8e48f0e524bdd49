"""schemathesis against the OpenAPI schema, in process, as each persona, a vendor client and
anonymously: no 5xx, every error in the one shape, and nothing but 401 without credentials."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from access_world import World, sign_in
from api_world import add_assessments, vendor_token
from django.core.cache import cache
from django.test import Client
from hypothesis import HealthCheck, given, settings

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

MAX_EXAMPLES = 10
ACTORS = ["anonymous", "vendor", "alice", "bob", "carol", "erin", "frank", "vera"]


def _client(world: World, who: str) -> tuple[Client, dict[str, str]]:
    client = Client(HTTP_HOST="localhost")
    if who == "vendor":
        _, token = vendor_token(world)
        return client, {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if who != "anonymous":
        sign_in(client, world.users[who])
    return client, {}


def _operations(world: World) -> list[Any]:
    staff = Client(HTTP_HOST="localhost")
    sign_in(staff, world.users["alice"])
    response = staff.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = schemathesis.openapi.from_dict(response.json())
    return [result.ok() for result in schema.get_all_operations()]


def test_fuzzed_requests_never_fail_and_never_leak(world: World) -> None:
    add_assessments(world)
    cache.clear()
    operations = _operations(world)
    assert len(operations) == 8
    clients = {who: _client(world, who) for who in ACTORS}
    seen: dict[str, dict[int, int]] = {who: {} for who in ACTORS}

    for operation in operations:
        # One generated case is sent as every actor (generation is the slow part).

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def call(case: Any) -> None:
            for who, (client, headers) in clients.items():
                response = client.get(case.formatted_path, data=case.query or {}, **headers)
                counts = seen[who]
                counts[response.status_code] = counts.get(response.status_code, 0) + 1
                label = f"{who}: GET {case.formatted_path} {case.query}"
                assert response.status_code < 500, label
                if who == "anonymous":
                    assert response.status_code == 401, label
                if response.status_code >= 400:
                    body = response.json()
                    assert set(body) == {"code", "detail", "field"}, (label, body)

        call()
    cache.clear()
    for who in ACTORS:
        assert sum(seen[who].values()) >= len(operations)
        if who != "anonymous":
            assert any(200 <= status < 300 for status in seen[who]), (who, seen[who])
