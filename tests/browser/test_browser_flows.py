"""The staff UI in a real browser: sign-in with TOTP, search, a record, a denied category,
the purpose prompt, the access panel. Every page must work under the CSP (no inline code):
the browser reports each violation on the console, and the tests fail on any.

Not covered: an import preview and commit (the import pipeline does not exist yet).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from access_world import PASSWORD, build_world
from django.conf import LazySettings

from studentvault.audit.models import AuditEntry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


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


def totp_code(secret: str) -> str:
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


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


def test_sign_in_with_mfa_search_record_and_purpose(
    browser: Any, live_server: Any, http_live: None, screenshot_dir: Path
) -> None:
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    world = build_world()
    alice = world.users["alice"]
    secret = generate_totp_secret()
    TOTP.activate(alice, secret)
    session = Session(browser, live_server.url)
    session.go("/accounts/login/")
    session.shot(screenshot_dir, "sign-in")
    session.sign_in("alice", secret)
    assert "You can see 5 students" in session.page.content()
    session.shot(screenshot_dir, "dashboard")

    session.go("/students/")
    session.page.select_option("select[name=school]", str(world.school_a.pk))
    session.page.click("form.search button[type=submit]")  # htmx swaps the results in
    session.page.wait_for_selector("#results table")
    rows = session.page.locator("#results table tbody tr")
    assert rows.count() == 3  # school A's current-year students
    session.shot(screenshot_dir, "search")

    student = world.students["s_roster"]
    session.go(f"/students/{student.pk}/")
    page = session.page
    assert page.locator("#cat-demographics").count() == 1
    assert page.locator("#cat-special_education").count() == 0
    assert page.locator("#purpose-heading").count() == 1
    assert page.locator("#access-heading").count() == 1
    session.shot(screenshot_dir, "record-purpose-prompt")

    page.select_option("select[name=purpose]", "iep_meeting")
    page.click("#purpose-heading ~ form button[type=submit]")
    page.wait_for_url(f"**/students/{student.pk}/")
    assert page.locator("#cat-special_education").count() == 1
    assert page.locator("#cat-discipline").count() == 1
    session.shot(screenshot_dir, "record-restricted-shown")
    entry = AuditEntry.objects.filter(action="records:student:read").order_by("-seq").first()
    assert entry is not None and entry.purpose == "iep_meeting"
    assert "special_education" in entry.category_list
    assert entry.actor_id == f"user:{alice.pk}"
    session.close()


def test_teacher_sees_denied_categories_listed(
    browser: Any, live_server: Any, http_live: None, screenshot_dir: Path
) -> None:
    world = build_world()
    session = Session(browser, live_server.url)
    session.sign_in("carol")
    student = world.students["s_roster"]
    session.go(f"/students/{student.pk}/")
    page = session.page
    not_shown = page.locator("#denied-heading + ul").inner_text()
    assert "Special education" in not_shown and "Discipline" in not_shown
    assert page.locator("#cat-special_education").count() == 0
    assert page.locator("#access-heading").count() == 0
    session.shot(screenshot_dir, "record-denied-categories")
    other = world.students["s_b"]
    response = session.go(f"/students/{other.pk}/")
    assert response is not None and response.status == 404
    session.errors.remove(
        "Failed to load resource: the server responded with a status of 404 (Not Found)"
    )
    entry = AuditEntry.objects.filter(action="records:student:read").order_by("-seq").first()
    assert entry is not None and entry.student_list == [student.pk]
    session.close()


def test_core_flow_works_without_javascript(
    browser: Any, live_server: Any, http_live: None
) -> None:
    world = build_world()
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=login]", "bob")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(live_server.url + "/")
    page.goto(live_server.url + "/students/")
    page.fill("input[name=sasid]", world.students["s_a"].sasid)
    with page.expect_navigation():
        page.click("form.search button[type=submit]")
    page.click(f"a[href='/students/{world.students['s_a'].pk}/']")
    page.wait_for_url(f"**/students/{world.students['s_a'].pk}/")
    assert page.locator("#cat-enrollment").count() == 1
    context.close()
