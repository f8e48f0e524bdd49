"""The permission matrix: route x role x category -> allow/deny, from the enforced rules.

Built from the same objects the middleware uses (``rule_for_view`` over config.urls) and the
same role catalogue ``may()`` uses, so it cannot drift from what the code enforces. Cells of
student-data routes assume a grant with the role's default categories; vendor cells depend on
the contract and say so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

from studentvault.core.categories import DataCategory
from studentvault.people.roles import Action, Role, ScopeKind, all_roles

from .guards import Rule, RuleKind, rule_for_view


@dataclass(frozen=True)
class RouteRule:
    route: str
    name: str
    rule: Rule | None


def routes() -> list[RouteRule]:
    """Every route of config.urls with its rule (None = refused for want of a rule)."""
    out: list[RouteRule] = []

    def walk(resolver: URLResolver, prefix: str, namespaces: list[str]) -> None:
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                more = [pattern.namespace] if pattern.namespace else []
                walk(pattern, prefix + str(pattern.pattern), namespaces + more)
            elif isinstance(pattern, URLPattern):
                name = ":".join([*namespaces, pattern.name]) if pattern.name else ""
                the_rule = rule_for_view(pattern.callback, pattern.name, namespaces)
                out.append(RouteRule("/" + prefix + str(pattern.pattern), name, the_rule))

    walk(get_resolver(), "", [])
    return out


def cell(the_rule: Rule | None, role: Role, category: DataCategory) -> str:
    """allow | deny | contract (vendor: decided by the contract) for one route cell."""
    if the_rule is None or the_rule.kind == RuleKind.DENIED:
        return "deny"
    if the_rule.kind in (RuleKind.PUBLIC, RuleKind.AUTHENTICATED, RuleKind.ACCOUNT_SETUP):
        return "allow"
    if the_rule.kind == RuleKind.PERMISSION:
        return "allow" if the_rule.permission in role.permissions else "deny"
    if the_rule.kind == RuleKind.STUDENT_CHANGE:
        # Allowed to the role when it may change some category; the cell says which ones.
        changes = Action.CHANGE in role.actions and bool(role.categories)
        return "allow" if changes and category in role.categories else "deny"
    assert the_rule.category is not None
    if role.scope == ScopeKind.CONTRACT:
        return "contract"
    ok = the_rule.category in role.categories and category in role.categories
    return "allow" if ok else "deny"


def matrix() -> list[dict[str, Any]]:
    """One row per route and role: the route, its rule, and a cell per category."""
    rows: list[dict[str, Any]] = []
    for route in routes():
        for role in all_roles().values():
            rows.append(
                {
                    "route": route.route,
                    "name": route.name,
                    "rule": route.rule.describe() if route.rule else "none (refused)",
                    "role": role.code,
                    "cells": {c.value: cell(route.rule, role, c) for c in DataCategory},
                }
            )
    return rows


def render(rows: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(rows, indent=2)
    categories = [c.value for c in DataCategory]
    lines = [
        "| route | rule | role | " + " | ".join(categories) + " |",
        "|" + " --- |" * (3 + len(categories)),
    ]
    for row in rows:
        marks = {"allow": "✓", "deny": "·", "contract": "C"}
        cells = " | ".join(marks[row["cells"][c]] for c in categories)
        lines.append(f"| `{row['route']}` | {row['rule']} | {row['role']} | {cells} |")
    lines.append("")
    lines.append("✓ allow · deny C decided by the vendor's contract")
    return "\n".join(lines)
