"""Template context every page gets."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from studentvault.access.guards import user_has_permission
from studentvault.people.roles import Action, Permission, get_role


def may_read_audit_pages(user: object) -> bool:
    """The audit pages (alerts, checkpoint) need the role's audit permission and the audit
    app's own model permission; links are shown only when both hold."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return user_has_permission(user, Permission.AUDIT_READ) and bool(
        getattr(user, "has_perm", lambda _: False)("audit.view_auditentry")
    )


def may_see_imports(user: object) -> bool:
    """Show the Imports link to roles that may change student data (the page itself asks
    ``access.policy`` about the account's grants)."""
    profile = getattr(user, "staff_profile", None)
    if profile is None or not getattr(profile, "active", False):
        return False
    role = get_role(profile.role)
    return role is not None and Action.CHANGE in role.actions and bool(role.categories)


def site(request: HttpRequest) -> dict[str, object]:
    """District name, sign-out address and which optional navigation links to show."""
    try:
        logout_url = reverse("account_logout")
    except NoReverseMatch:
        logout_url = reverse("logout")
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    return {
        "district_name": settings.DISTRICT_NAME,
        "logout_url": logout_url,
        "nav_audit": signed_in and may_read_audit_pages(user),
        "nav_keys": signed_in and user_has_permission(user, Permission.AUDIT_READ),
        "nav_imports": signed_in and may_see_imports(user),
    }
