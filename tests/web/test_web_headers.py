"""Security headers on pages and API answers; no inline script or style in our pages;
``check --deploy`` clean with production settings."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

sys.path.insert(0, str(Path(__file__).parents[1] / "access"))

from access_world import World, fast_hashing, sign_in, world

from studentvault.web.security import CONTENT_SECURITY_POLICY

__all__ = ["fast_hashing", "world"]

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).parents[2]


class HttpsClient(Client):
    """A test client whose requests arrive over TLS (as `studentvault serve` delivers them)."""

    def generic(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["secure"] = True
        return super().generic(*args, **kwargs)


def https() -> Client:
    return HttpsClient(HTTP_HOST="localhost")


def assert_common_headers(response: Any) -> None:
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_policy_has_every_directive_and_no_unsafe_source() -> None:
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert directives["base-uri"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


def test_sign_in_page_headers(world: World) -> None:
    response = https().get("/accounts/login/")
    assert response.status_code == 200
    assert_common_headers(response)
    assert response["X-Frame-Options"] == "DENY"


INLINE = [
    re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),  # inline script element
    re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),  # event handler attribute
    re.compile(r"\sstyle\s*=", re.IGNORECASE),  # style attribute
    re.compile(r"<style", re.IGNORECASE),  # style element
    re.compile(r"javascript:", re.IGNORECASE),
]


@pytest.mark.parametrize(
    "path_for",
    [
        lambda w: "/",
        lambda w: "/students/?grade_level=",
        lambda w: f"/students/{w.students['s_roster'].pk}/",
    ],
    ids=["dashboard", "search", "record"],
)
def test_signed_in_pages_are_no_store_without_inline_code(world: World, path_for: Any) -> None:
    client = https()
    sign_in(client, world.users["bob"])
    response = client.get(path_for(world))
    assert response.status_code == 200, response.content[:200]
    assert_common_headers(response)
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    for pattern in INLINE:
        assert not pattern.search(html), f"{pattern.pattern} found in the page"


def test_api_answers_are_no_store(world: World) -> None:
    anonymous = https().get("/api/v1/students/")
    assert anonymous.status_code == 401
    assert_common_headers(anonymous)
    assert anonymous["Cache-Control"] == "no-store"
    client = https()
    sign_in(client, world.users["bob"])
    response = client.get("/api/v1/students/")
    assert response.status_code == 200
    assert_common_headers(response)
    assert response["Cache-Control"] == "no-store"


def test_cookies_are_host_prefixed_and_strict(world: World) -> None:
    client = https()
    response = client.get("/accounts/login/")
    cookie = response.cookies["__Host-csrftoken"]
    assert cookie["secure"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    assert not cookie["domain"]


def test_check_deploy_is_clean_with_production_settings(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "STUDENTVAULT_HOME": str(tmp_path / "home"),
        "DATABASE_URL": "",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
