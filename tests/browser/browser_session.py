"""Helpers of the browser tests: the plain-HTTP live-server settings and a
browser session that fails on any console error (CSP violations among them).

Kept out of conftest.py so test modules can import it by a name no other folder uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from access_world import PASSWORD, totp_code
from django.conf import LazySettings


@pytest.fixture
def http_live(settings: LazySettings, fast_hashing: None) -> None:
    """The live server speaks plain HTTP: cookies lose the Secure flag and __Host- prefix
    in these tests only (production serves TLS only; see tests/web/test_web_headers.py)."""
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.SESSION_COOKIE_NAME = "sessionid"
    settings.CSRF_COOKIE_NAME = "csrftoken"
    settings.SECURE_HSTS_SECONDS = 0
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1"]


class Session:
    """One browser context, collecting console errors (CSP violations among them)."""

    def __init__(self, browser: Any, base: str) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        # allauth's own pages carry no icon link, so the browser asks for /favicon.ico.
        self.context.route("**/favicon.ico", lambda route: route.fulfill(status=204))
        self.page = self.context.new_page()
        self.base = base
        self.errors: list[str] = []
        self.page.on(
            "console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None
        )

    def go(self, path: str) -> Any:
        return self.page.goto(self.base + path)

    def sign_in(self, username: str, totp_secret: str | None = None) -> None:
        self.go("/accounts/login/")
        self.page.fill("input[name=login]", username)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("form button[type=submit]")
        if totp_secret is not None:
            self.page.wait_for_url("**/accounts/2fa/authenticate/**")
            self.page.fill("input[name=code]", totp_code(totp_secret))
            self.page.click("form button[type=submit]")
        self.page.wait_for_url(self.base + "/")

    def shot(self, folder: Path, name: str) -> None:
        self.page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    def close(self) -> None:
        assert self.errors == [], f"browser console errors: {self.errors}"
        self.context.close()
