"""Route guards: every view declares who may use it; a view that declares nothing is refused.

Invariants:
- ``RouteRuleMiddleware`` answers 403 to any resolved view without a rule (deny by default);
  third-party views (Django admin, allauth, oauth2_provider) get their rules from
  ``THIRD_PARTY_RULES`` here, by URL name;
- a rule other than ``public`` needs a signed-in user; for users whose role, grants or vendor
  status require MFA, only MFA set-up/sign-out pages work until a second factor passes in this
  session; an expired password allows only the password change and sign-out pages (API: 403
  ``{"code": "password_expired"}``);
- ``permission=`` needs the role permission; ``student_data=`` needs that the actor can reach
  some student in that category (each student is then checked by ``may()`` in the selector);
  ``student_change=True`` needs that the actor may change some category of some student (the
  import screens; the import engine checks every row);
- a signed-in user refused by one of those three rules gets 403 and one audit entry
  ``access:route:deny`` (outcome denied, the reason code and the route's name, never the path
  or its arguments); sign-in, password-expiry and MFA redirects are not refusals;
- API views (``api=True``) authenticate in DRF, after the middleware; for them the middleware
  only refuses a missing rule, and the view must call ``check_rule`` (or ``may``/``require``)
  itself once DRF has authenticated the request (no DRF permission class exists yet).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.http import urlencode

from studentvault import audit
from studentvault.core.categories import DataCategory
from studentvault.people.expiry import password_expired
from studentvault.people.roles import Permission, get_role

from .actors import request_actor, session_mfa_verified
from .policy import change_denial, mfa_required_for_user, scope_denial


class RuleKind(StrEnum):
    PUBLIC = "public"
    AUTHENTICATED = "authenticated"
    PERMISSION = "permission"
    STUDENT_DATA = "student_data"
    # The actor may change some category of some student (the import screens).
    STUDENT_CHANGE = "student_change"
    # Steps of signing in that a half-signed-in user must reach (MFA set-up, password change).
    ACCOUNT_SETUP = "account_setup"
    # Declared on purpose: nobody may use the route (features we switched off).
    DENIED = "denied"


@dataclass(frozen=True)
class Rule:
    """Who may use a route."""

    kind: RuleKind
    permission: Permission | None = None
    category: DataCategory | None = None
    api: bool = False

    def describe(self) -> str:
        if self.kind == RuleKind.PERMISSION and self.permission is not None:
            return f"permission:{self.permission.value}"
        if self.kind == RuleKind.STUDENT_DATA and self.category is not None:
            return f"student_data:{self.category.value}"
        return self.kind.value


public = Rule(RuleKind.PUBLIC)
authenticated = Rule(RuleKind.AUTHENTICATED)
account_setup = Rule(RuleKind.ACCOUNT_SETUP)
denied = Rule(RuleKind.DENIED)

V = TypeVar("V", bound=Callable[..., Any])


def rule(
    declared: Rule | None = None,
    *,
    public: bool = False,
    authenticated: bool = False,
    permission: Permission | str | None = None,
    student_data: DataCategory | str | None = None,
    student_change: bool = False,
    api: bool = False,
) -> Callable[[V], V]:
    """Declare the rule of a view: ``@rule(public)``, ``@rule(authenticated=True)``,
    ``@rule(permission="access:grants:manage")``, ``@rule(student_data=DataCategory.X)``,
    ``@rule(student_change=True)``."""
    chosen: list[Rule] = []
    if declared is not None:
        chosen.append(declared)
    if public:
        chosen.append(Rule(RuleKind.PUBLIC, api=api))
    if authenticated:
        chosen.append(Rule(RuleKind.AUTHENTICATED, api=api))
    if permission is not None:
        chosen.append(Rule(RuleKind.PERMISSION, permission=Permission(permission), api=api))
    if student_data is not None:
        chosen.append(Rule(RuleKind.STUDENT_DATA, category=DataCategory(student_data), api=api))
    if student_change:
        chosen.append(Rule(RuleKind.STUDENT_CHANGE, api=api))
    if len(chosen) != 1:
        raise ValueError("declare exactly one rule per view")
    the_rule = chosen[0]

    def decorate(view: V) -> V:
        view.access_rule = the_rule  # type: ignore[attr-defined]
        return view

    return decorate


# Rules for views we do not write, by URL name (namespace:name for namespaced routes).
# Anything of these apps not listed is refused.
_ALLAUTH_PUBLIC = {
    "account_login",
    "account_logout",
    "account_reset_password",
    "account_reset_password_done",
    "account_reset_password_from_key",
    "account_reset_password_from_key_done",
    "mfa_authenticate",
    "mfa_reauthenticate",
}
_ALLAUTH_DENIED = {
    "account_signup",  # accounts are created by district administrators only
    "account_email",
    "account_email_verification_sent",
    "account_confirm_email",
    "account_confirm_login_code",
    "account_request_reauthentication_code",
    "account_confirm_reauthentication_code",
}
_ALLAUTH_SETUP = {
    "account_change_password",
    "account_set_password",
    "mfa_index",
    "mfa_activate_totp",
    "mfa_view_recovery_codes",
    "mfa_generate_recovery_codes",
    "mfa_download_recovery_codes",
    "account_reauthenticate",
}
THIRD_PARTY_RULES: dict[str, Rule] = {
    **{name: public for name in _ALLAUTH_PUBLIC},
    **{name: account_setup for name in _ALLAUTH_SETUP},
    **{name: denied for name in _ALLAUTH_DENIED},
    "account_inactive": public,
    # The audit module is a lower layer and cannot import this module; its routes' rules are
    # kept here (Django model permissions alone would let a superuser through).
    "audit:checkpoint": Rule(RuleKind.PERMISSION, permission=Permission.AUDIT_READ),
    "audit:alerts": Rule(RuleKind.PERMISSION, permission=Permission.AUDIT_READ),
    "audit:student-disclosures": Rule(RuleKind.PERMISSION, permission=Permission.DISCLOSURES_READ),
    "mfa_deactivate_totp": authenticated,
    "oauth2_provider:token": public,  # the client authenticates with its credentials
    "oauth2_provider:revoke-token": public,
    "oauth2_provider:introspect": public,
}
ADMIN_RULE = Rule(RuleKind.PERMISSION, permission=Permission.ACCOUNTS_MANAGE)


def rule_for_view(view: Any, url_name: str | None, namespaces: list[str]) -> Rule | None:
    """The rule a resolved view declares (or the rule given here for a third-party view)."""
    for candidate in (view, getattr(view, "view_class", None), getattr(view, "cls", None)):
        declared = getattr(candidate, "access_rule", None)
        if isinstance(declared, Rule):
            return declared
    full = ":".join([*namespaces, url_name]) if url_name else ""
    if full in THIRD_PARTY_RULES:
        return THIRD_PARTY_RULES[full]
    if "admin" in namespaces:
        return ADMIN_RULE
    return None


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get(
        "Accept", ""
    )


def _refuse(request: HttpRequest, code: str, status: int = 403) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"code": code}, status=status)
    return HttpResponse(f"Forbidden ({code})", status=status, content_type="text/plain")


def user_has_permission(user: Any, permission: Permission) -> bool:
    """True when the user's role carries ``permission`` (never from is_superuser)."""
    profile = getattr(user, "staff_profile", None)
    if profile is None or not profile.active or not user.is_active:
        return False
    role = get_role(profile.role)
    return role is not None and permission in role.permissions


def check_rule(request: HttpRequest, the_rule: Rule) -> HttpResponse | None:
    """None when the request satisfies the rule, else the response refusing it."""
    if the_rule.kind == RuleKind.PUBLIC:
        return None
    if the_rule.kind == RuleKind.DENIED:
        return _refuse(request, "route_disabled", 404)
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        if _wants_json(request):
            return _refuse(request, "not_authenticated", 401)
        query = urlencode({REDIRECT_FIELD_NAME: request.get_full_path()})
        return HttpResponseRedirect(f"{settings.LOGIN_URL}?{query}")
    if the_rule.kind == RuleKind.ACCOUNT_SETUP:
        return None
    if password_expired(user):
        if _wants_json(request):
            return _refuse(request, "password_expired")
        return HttpResponseRedirect(reverse("account_change_password"))
    if mfa_required_for_user(user) and not session_mfa_verified(request):
        if _wants_json(request):
            return _refuse(request, "mfa_required")
        return HttpResponseRedirect(reverse("mfa_activate_totp"))
    reason: str | None = None
    if the_rule.kind == RuleKind.PERMISSION:
        assert the_rule.permission is not None
        if not user_has_permission(user, the_rule.permission):
            reason = "permission_denied"
    elif the_rule.kind == RuleKind.STUDENT_DATA:
        assert the_rule.category is not None
        denial = scope_denial(request_actor(request), the_rule.category)
        reason = denial.value if denial is not None else None
    elif the_rule.kind == RuleKind.STUDENT_CHANGE:
        denial = change_denial(request_actor(request))
        reason = denial.value if denial is not None else None
    if reason is None:
        return None
    match = request.resolver_match
    audit.record(
        actor=request_actor(request),
        action="access:route:deny",
        outcome="denied",
        details={"reason": reason, "route": match.view_name[:100] if match else ""},
    )
    return _refuse(request, reason)


class RouteRuleMiddleware:
    """Refuse every view without a rule; enforce the rules of non-API views."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: Any,
        view_kwargs: Any,
    ) -> HttpResponse | None:
        match = request.resolver_match
        the_rule = rule_for_view(
            view_func,
            match.url_name if match else None,
            list(match.namespaces) if match else [],
        )
        if the_rule is None:
            return _refuse(request, "no_rule_declared")
        if the_rule.api:
            return None  # the API view enforces it after DRF authentication (see module doc)
        return check_rule(request, the_rule)
