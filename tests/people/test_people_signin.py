"""Sign-in rules: same answer for unknown user and wrong password, lockout, MFA, sessions."""

from __future__ import annotations

import time
from typing import Any

import pytest
from access_world import PASSWORD, World, sign_in
from django.test import Client

from studentvault.people.models import UserSession
from studentvault.people.sessions import SESSION_LAST_SEEN_KEY, SESSION_STARTED_KEY

LOGIN = "/accounts/login/"


def _post_login(client: Client, username: str, password: str, ip: str = "198.51.100.7") -> Any:
    return client.post(LOGIN, {"login": username, "password": password}, REMOTE_ADDR=ip)


@pytest.fixture(autouse=True)
def _no_allauth_rate_limit(settings: Any) -> None:
    settings.ACCOUNT_RATE_LIMITS = False


@pytest.mark.django_db
def test_same_answer_for_unknown_user_and_wrong_password(world: World) -> None:
    unknown = _post_login(Client(), "nobody-here", "Wrong#Password-123")
    wrong = _post_login(Client(), "bob", "Wrong#Password-123")
    assert unknown.status_code == wrong.status_code == 200
    assert unknown.context["form"].errors == wrong.context["form"].errors


@pytest.mark.django_db
def test_lockout_after_five_failures_per_account(world: World, settings: Any) -> None:
    for n in range(5):
        _post_login(Client(), "bob", f"Wrong#Password-{n}", ip=f"198.51.100.{n + 10}")
    locked = _post_login(Client(), "bob", PASSWORD, ip="198.51.100.99")
    assert locked.status_code == 429


@pytest.mark.django_db
def test_lockout_per_ip_address(world: World) -> None:
    for n, name in enumerate(["u1", "u2", "u3", "u4", "u5"]):
        _post_login(Client(), name, f"Wrong#Password-{n}", ip="203.0.113.5")
    locked = _post_login(Client(), "bob", PASSWORD, ip="203.0.113.5")
    assert locked.status_code == 429


@pytest.mark.django_db
def test_unlock_is_audited(world: World, audit_events: list[dict[str, Any]]) -> None:
    from studentvault.people.lockout import lockout_clear

    for n in range(5):
        _post_login(Client(), "bob", f"Wrong#Password-{n}", ip=f"198.51.100.{n + 10}")
    assert _post_login(Client(), "bob", PASSWORD, ip="198.51.100.99").status_code == 429
    cleared = lockout_clear(actor=world_actor(world), username="bob")
    assert cleared >= 1
    assert any(e["action"] == "people:signin:unlock" for e in audit_events)
    assert _post_login(Client(), "bob", PASSWORD, ip="198.51.100.99").status_code == 302


def world_actor(world: World) -> Any:
    from access_world import staff_actor

    return staff_actor(world.users["alice"])


@pytest.mark.django_db
def test_login_makes_a_new_session_id(world: World) -> None:
    client = Client()
    client.get(LOGIN)
    before = client.cookies.get("__Host-sessionid")
    response = _post_login(client, "bob", PASSWORD)
    assert response.status_code == 302
    after = client.cookies["__Host-sessionid"].value
    assert before is None or before.value != after
    assert UserSession.objects.filter(user=world.users["bob"], session_key=after).exists()


@pytest.mark.django_db
def test_session_cookie_flags(world: World) -> None:
    client = Client()
    _post_login(client, "bob", PASSWORD)
    cookie = client.cookies["__Host-sessionid"]
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Strict"


@pytest.mark.django_db
def test_mfa_user_without_totp_goes_to_enrolment_not_data(world: World) -> None:
    client = Client()
    response = _post_login(client, "alice", PASSWORD)
    assert response.status_code == 302
    manage = client.get("/manage/")
    assert manage.status_code == 302 and "/accounts/2fa/totp/activate/" in manage["Location"]
    # Enrolment is reachable (allauth may first ask to confirm the password again).
    enrol = client.get("/accounts/2fa/totp/activate/")
    if enrol.status_code == 302:
        assert enrol["Location"].startswith("/accounts/reauthenticate/")
        assert client.get(enrol["Location"]).status_code == 200
    else:
        assert enrol.status_code == 200


@pytest.mark.django_db
def test_totp_holder_must_pass_second_step(world: World) -> None:
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    alice = world.users["alice"]
    TOTP.activate(alice, generate_totp_secret())
    assert Authenticator.objects.filter(user=alice).exists()
    client = Client()
    response = _post_login(client, "alice", PASSWORD)
    assert response.status_code == 302 and "/accounts/2fa/authenticate/" in response["Location"]
    # Password step alone: not signed in, no management or admin page.
    assert client.get("/manage/").status_code == 302
    assert client.get("/manage/")["Location"].startswith("/accounts/login/")
    assert client.get("/admin/").status_code == 302


def _age_session(client: Client, *, started: float, last: float) -> None:
    session = client.session
    session[SESSION_STARTED_KEY] = started
    session[SESSION_LAST_SEEN_KEY] = last
    session.save()


@pytest.mark.django_db
def test_idle_timeout(world: World, settings: Any) -> None:
    client = Client()
    sign_in(client, world.users["alice"])
    now = time.time()
    assert client.get("/manage/").status_code == 200
    _age_session(client, started=now - 60, last=now - settings.SESSION_IDLE_MINUTES * 60 - 5)
    response = client.get("/manage/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_absolute_timeout(world: World, settings: Any) -> None:
    client = Client()
    sign_in(client, world.users["alice"])
    now = time.time()
    _age_session(client, started=now - settings.SESSION_MAX_HOURS * 3600 - 5, last=now - 5)
    response = client.get("/manage/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_deactivation_ends_all_sessions(world: World) -> None:
    from access_world import SYSTEM

    from studentvault.people.services import staff_deactivate

    alice = world.users["alice"]
    first, second = Client(), Client()
    sign_in(first, alice)
    sign_in(second, alice)
    assert first.get("/manage/").status_code == 200
    staff_deactivate(actor=SYSTEM, user=alice, reason="left the district")
    for client in (first, second):
        response = client.get("/manage/")
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not UserSession.objects.filter(user=alice, ended_at__isnull=True).exists()


@pytest.mark.django_db
def test_password_change_ends_all_sessions(world: World) -> None:
    alice = world.users["alice"]
    first, second = Client(), Client()
    sign_in(first, alice)
    sign_in(second, alice)
    alice.set_password("Brand#New-Passw0rd-91")
    alice.save()
    for client in (first, second):
        response = client.get("/manage/")
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not UserSession.objects.filter(user=alice, ended_at__isnull=True).exists()


@pytest.mark.django_db
def test_sessions_page_lists_and_ends_own_sessions(world: World) -> None:
    alice = world.users["alice"]
    first, second = Client(), Client()
    sign_in(first, alice)
    sign_in(second, alice)
    page = first.get("/accounts/sessions/")
    assert page.status_code == 200 and len(page.context["rows"]) == 2
    other = next(r for r in page.context["rows"] if r.session_key != first.session.session_key)
    first.post("/accounts/sessions/", {"session": str(other.pk)})
    response = second.get("/manage/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert first.get("/manage/").status_code == 200
