"""Vendor API clients: client credentials, 1-hour tokens, no refresh, contract must be active."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from access_world import SYSTEM, World
from django.test import Client
from django.utils import timezone

from studentvault.people.services import vendor_client_create


def _token(app: Any, secret: str) -> Any:
    basic = base64.b64encode(f"{app.client_id}:{secret}".encode()).decode()
    return Client().post(
        "/o/token/",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )


@pytest.mark.django_db
def test_active_contract_gets_a_one_hour_token_without_refresh(world: World) -> None:
    assert world.contract is not None
    app, secret = vendor_client_create(actor=SYSTEM, contract=world.contract, name="api")
    response = _token(app, secret)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["expires_in"] <= 3600
    assert "refresh_token" not in body


@pytest.mark.django_db
def test_ended_contract_gets_no_token(world: World, audit_events: list[dict[str, Any]]) -> None:
    assert world.contract is not None
    app, secret = vendor_client_create(actor=SYSTEM, contract=world.contract, name="api")
    world.contract.ends_on = timezone.localdate() - dt.timedelta(days=1)
    world.contract.starts_on = world.contract.ends_on - dt.timedelta(days=10)
    world.contract.save()
    response = _token(app, secret)
    assert response.status_code == 401
    assert any(e["action"] == "people:vendor_client:token" for e in audit_events)


@pytest.mark.django_db
def test_password_grant_is_refused(world: World) -> None:
    assert world.contract is not None
    app, secret = vendor_client_create(actor=SYSTEM, contract=world.contract, name="api")
    basic = base64.b64encode(f"{app.client_id}:{secret}".encode()).decode()
    response = Client().post(
        "/o/token/",
        {"grant_type": "password", "username": "vera", "password": "x"},
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    assert response.status_code in (400, 401)
