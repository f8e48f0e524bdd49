"""The staff UI in a real browser: sign-in with TOTP, search, a record, a denied category,
the purpose prompt, the access panel. Every page must work under the CSP (no inline code):
the browser reports each violation on the console, and the tests fail on any.

The import screens are driven in test_browser_imports.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from access_world import PASSWORD, build_world
from browser_session import Session, http_live

from studentvault.audit.models import AuditEntry

__all__ = ["http_live"]

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


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
