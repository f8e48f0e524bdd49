"""The route rule of an API view, enforced after DRF authentication (``RulePermission``).

Invariants:
- a view without ``access_rule`` is refused (deny by default, as the middleware does for pages);
- staff sessions are checked by ``access.guards.check_rule`` itself (password expiry, MFA,
  permissions, student-data scope), so pages and API cannot disagree; its refusal code is
  carried into the API error shape;
- vendor clients hold no role permission; a student-data rule needs their contract to reach
  some student in the category (``access.policy.scope_denial``); each student is then checked
  by ``may()`` in the selector.
"""

from __future__ import annotations

import json
from typing import Any

from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from studentvault.access.actors import request_actor
from studentvault.access.guards import Rule, RuleKind, check_rule
from studentvault.access.policy import scope_denial
from studentvault.core.actors import Actor

from .authentication import ClientPrincipal

_DETAIL = {
    "not_authenticated": "Authentication credentials were not provided or are not valid.",
    "password_expired": "Your password has expired: change it in the staff UI first.",
    "mfa_required": "Sign in with your second factor first.",
    "permission_denied": "Your role does not allow this.",
    "route_disabled": "Not found.",
    "contract_inactive": "The contract is not active.",
    "category_not_granted": "Your grants or contract do not include this data category.",
    "no_grant": "You hold no grant for this data category.",
    "training_expired": "Your annual security training has lapsed.",
    "policy_not_acknowledged": "You have not acknowledged the current data policy.",
    "account_inactive": "The account is not active.",
    "no_role": "The account has no role.",
    "action_not_granted": "Your grant does not allow reading.",
    "out_of_scope": "No student in your scope for this data category.",
    "system_actor_not_granted": "System actors hold no grants.",
}


class Refused(exceptions.PermissionDenied):
    """403 with a stable reason code."""


def refusal(code: str, status: int = 403) -> exceptions.APIException:
    """The exception the error handler turns into ``{"code": code, "detail": ...}``."""
    detail = _DETAIL.get(code, "Forbidden.")
    if status == 401:
        return exceptions.NotAuthenticated(detail, code)
    if status == 404:
        return exceptions.NotFound(detail, code)
    return Refused(detail, code)


def api_actor(request: Request) -> Actor:
    """The actor of an authenticated API request (vendor client or staff session)."""
    return request_actor(request._request)


def view_rule(view: Any) -> Rule | None:
    """The rule a view class declares (``@rule(..., api=True)`` or ``access_rule = ...``)."""
    declared = getattr(view, "access_rule", None)
    return declared if isinstance(declared, Rule) else None


class RulePermission(BasePermission):
    """Enforce the view's declared rule for the DRF-authenticated caller."""

    def has_permission(self, request: Request, view: Any) -> bool:
        the_rule = view_rule(view)
        if the_rule is None or not the_rule.api:
            raise refusal("no_rule_declared")
        if the_rule.kind == RuleKind.PUBLIC:
            return True
        if the_rule.kind == RuleKind.DENIED:
            raise refusal("route_disabled", 404)
        user = request.user
        if user is None or not user.is_authenticated:
            raise refusal("not_authenticated", 401)
        if isinstance(user, ClientPrincipal):
            return self._client(request, the_rule)
        response = check_rule(request._request, the_rule)
        if response is None:
            return True
        try:
            code = str(json.loads(response.content)["code"])
        except (ValueError, KeyError, TypeError):
            code = "permission_denied"
        raise refusal(code, 401 if response.status_code == 401 else response.status_code)

    def _client(self, request: Request, the_rule: Rule) -> bool:
        if the_rule.kind == RuleKind.AUTHENTICATED:
            return True
        if the_rule.kind == RuleKind.STUDENT_DATA and the_rule.category is not None:
            denial = scope_denial(api_actor(request), the_rule.category)
            if denial is None:
                return True
            raise refusal(denial.value)
        raise refusal("permission_denied")
