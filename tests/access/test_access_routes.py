"""Route guards: every route declares a rule; persona x route matrix over the served routes."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from access_world import World, all_routes, sign_in
from django.test import Client
from django.urls import NoReverseMatch, reverse

from studentvault.access.guards import RouteRuleMiddleware, rule, rule_for_view

ROLES = tomllib.loads(
    (Path(__file__).parents[2] / "studentvault" / "people" / "roles.toml").read_text()
)


def test_every_route_declares_a_rule() -> None:
    missing = [
        f"{pattern} ({name})"
        for pattern, view, name, namespaces in all_routes()
        if rule_for_view(view, name, namespaces) is None
    ]
    assert missing == [], f"routes without an access rule: {missing}"


def test_undeclared_view_is_refused(rf: Any) -> None:
    def bare(request: Any) -> Any:  # a view that forgot its rule
        raise AssertionError("must not run")

    middleware = RouteRuleMiddleware(lambda r: None)  # type: ignore[arg-type,return-value]
    request = rf.get("/nowhere/")
    request.resolver_match = None
    response = middleware.process_view(request, bare, (), {})
    assert response is not None and response.status_code == 403

    declared = rule(authenticated=True)(bare)
    assert rule_for_view(declared, None, []) is not None


def test_rule_needs_exactly_one_kind() -> None:
    with pytest.raises(ValueError):
        rule(public=True, authenticated=True)


PERMISSION_ROUTES = ["manage:accounts", "manage:account_new"]


def _role(user: Any) -> dict[str, Any]:
    return ROLES[user.staff_profile.role]


@pytest.mark.parametrize("username", ["alice", "bob", "carol", "dave", "erin", "frank", "vera"])
@pytest.mark.parametrize("route", PERMISSION_ROUTES)
def test_manage_routes_matrix(world: World, client: Client, username: str, route: str) -> None:
    user = world.users[username]
    sign_in(client, user)
    response = client.get(reverse(route))
    allowed = "people:accounts:manage" in _role(user)["permissions"]
    assert response.status_code == (200 if allowed else 403), response.content[:200]


def test_anonymous_is_sent_to_sign_in(world: World, client: Client) -> None:
    response = client.get(reverse("manage:accounts"))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    api = client.get("/api/anything/", HTTP_ACCEPT="application/json")
    assert api.status_code in (401, 403, 404)


def test_superuser_gets_no_management_bypass(world: World, client: Client) -> None:
    carol = world.users["carol"]
    carol.is_superuser = True
    carol.is_staff = True
    carol.save()
    sign_in(client, carol)
    assert client.get(reverse("manage:accounts")).status_code == 403
    assert client.get("/admin/").status_code == 403


def test_admin_needs_mfa_and_its_login_form_is_replaced(world: World, client: Client) -> None:
    alice = world.users["alice"]
    alice.is_staff = True
    alice.save()
    sign_in(client, alice, mfa=False)
    response = client.get("/admin/")
    assert response.status_code == 302 and "/accounts/2fa/totp/activate/" in response["Location"]
    anonymous = Client()
    login = anonymous.get("/admin/login/")
    assert login.status_code == 302 and login["Location"].startswith("/accounts/login/")


def test_manage_requires_mfa_for_admin_roles(world: World, client: Client) -> None:
    sign_in(client, world.users["alice"], mfa=False)
    response = client.get(reverse("manage:accounts"))
    assert response.status_code == 302 and "2fa" in response["Location"]
    json = client.get(reverse("manage:accounts"), HTTP_ACCEPT="application/json")
    assert json.status_code == 403 and json.json() == {"code": "mfa_required"}


def test_signup_is_disabled(world: World, client: Client) -> None:
    assert client.get("/accounts/signup/").status_code == 404


def test_manage_grant_and_revoke_are_audited(
    world: World, client: Client, audit_events: list[dict[str, Any]]
) -> None:
    alice = world.users["alice"]
    frank = world.users["frank"]
    sign_in(client, alice)
    url = reverse("manage:account", args=[frank.pk])
    response = client.post(
        url,
        {
            "op": "grant",
            "grant-role": "el_coordinator",
            "grant-scope_kind": "school",
            "grant-scope_value": str(world.school_a.pk),
            "grant-purpose": "cover for leave",
            "grant-categories": ["english_learners"],
        },
    )
    assert response.status_code == 302, response.content[:500]
    grant = frank.access_grants.order_by("-pk").first()
    assert grant.categories == ["english_learners"]
    assert any(e["action"] == "access:grant:create" for e in audit_events)
    response = client.post(url, {"op": "revoke", "grant": str(grant.pk)})
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.revoked_at is not None
    bad = client.post(
        url,
        {
            "op": "grant",
            "grant-role": "teacher",
            "grant-scope_kind": "school",
            "grant-scope_value": "1",
            "grant-purpose": "x",
            "grant-categories": ["special_education"],
        },
    )
    assert bad.status_code == 400 and b"does not include special_education" in bad.content


def test_vendor_with_expired_contract_is_refused(world: World, client: Client) -> None:
    import datetime as dt

    from django.utils import timezone

    try:
        path = reverse("web:students")
    except NoReverseMatch:
        pytest.skip("student list not mounted")
    vera = world.users["vera"]
    assert world.contract is not None
    # The student list is an enrollment route: without enrollment in the contract, refused.
    sign_in(client, vera)
    refused_category = client.get(path, HTTP_ACCEPT="application/json")
    assert refused_category.json() == {"code": "category_not_granted"}
    world.contract.categories = [*world.contract.categories, "enrollment"]
    world.contract.save()
    assert client.get(path).status_code == 200
    world.contract.ends_on = timezone.localdate() - dt.timedelta(days=1)
    world.contract.starts_on = world.contract.ends_on - dt.timedelta(days=10)
    world.contract.save()
    refused = client.get(path, HTTP_ACCEPT="application/json")
    assert refused.status_code == 403 and refused.json() == {"code": "contract_inactive"}


def test_matrix_command_formats(world: World) -> None:
    import json
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("access", "matrix", "--format", "json", stdout=out)
    rows = json.loads(out.getvalue())
    manage = [r for r in rows if r["route"] == "/manage/"]
    by_role = {r["role"]: r["cells"]["demographics"] for r in manage}
    assert by_role["district_data_steward"] == "allow" and by_role["teacher"] == "deny"
    md = StringIO()
    call_command("access", "matrix", stdout=md)
    assert md.getvalue().startswith("| route | rule | role |")
