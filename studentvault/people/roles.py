"""The role catalogue, read from ``roles.toml`` beside this module.

The file lives here (people) rather than in ``access`` because the layers go one way
(core <- crypto <- audit <- people <- access): a staff profile derives its MFA requirement
from its role, so people must be able to read roles; ``studentvault.access.roles`` re-exports
this module for the decision point.

Invariants:
- every role names only known data categories, actions, scope kinds and permissions; a
  mistake in the file stops start-up with a message naming the role and the bad value;
- a role is immutable once loaded; grants narrow a role's categories, never widen them.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TypeVar

from studentvault.core.categories import DataCategory

ROLES_FILE = Path(__file__).with_name("roles.toml")


class Action(StrEnum):
    """What is done with student data; every decision is about one action."""

    READ = "read"
    CHANGE = "change"
    EXPORT = "export"
    REPORT = "report"


class ScopeKind(StrEnum):
    """Which students a grant reaches."""

    DISTRICT = "district"  # every student of the district
    SCHOOL = "school"  # students with a current-year enrollment at one school
    SECTION_ROSTER = "section_roster"  # students on one section's roster
    CASELOAD = "caseload"  # students named one by one
    CONTRACT = "contract"  # a vendor: the schools its contract covers


class Permission(StrEnum):
    """Rights that are not about a student record, named ``scope:resource:action``."""

    ACCOUNTS_MANAGE = "people:accounts:manage"
    VENDORS_MANAGE = "people:vendors:manage"
    GRANTS_MANAGE = "access:grants:manage"
    REVIEWS_RECORD = "access:reviews:record"
    MATRIX_VIEW = "access:matrix:view"
    AUDIT_READ = "audit:log:read"
    DISCLOSURES_READ = "audit:disclosures:read"


@dataclass(frozen=True)
class Role:
    """One role of the catalogue."""

    code: str
    label: str
    scope: ScopeKind
    categories: frozenset[DataCategory]
    actions: frozenset[Action]
    mfa: bool
    admin: bool
    permissions: frozenset[Permission]

    @property
    def requires_mfa(self) -> bool:
        """MFA is mandatory for district scope, administrative rights and vendors."""
        return self.mfa or self.admin or self.scope in (ScopeKind.DISTRICT, ScopeKind.CONTRACT)


class RoleFileError(ValueError):
    """The roles file holds a value the system does not know."""


E = TypeVar("E", bound=StrEnum)


def _enum_set(kind: type[E], values: object, *, role: str, key: str) -> frozenset[E]:
    if not isinstance(values, list):
        raise RoleFileError(f"roles.toml [{role}] {key}: expected a list")
    out: set[E] = set()
    for value in values:
        try:
            out.add(kind(value))
        except ValueError:
            raise RoleFileError(
                f"roles.toml [{role}] {key}: unknown value {value!r}; "
                f"known: {', '.join(m.value for m in kind)}"
            ) from None
    return frozenset(out)


def parse_roles(text: str) -> dict[str, Role]:
    """Parse and check a roles file's text (raises :class:`RoleFileError`)."""
    data = tomllib.loads(text)
    roles: dict[str, Role] = {}
    for code, raw in data.items():
        if not isinstance(raw, dict):
            raise RoleFileError(f"roles.toml [{code}]: expected a table")
        for key in ("label", "scope", "categories", "actions", "mfa", "admin", "permissions"):
            if key not in raw:
                raise RoleFileError(f"roles.toml [{code}]: missing {key}")
        try:
            scope = ScopeKind(raw["scope"])
        except ValueError:
            raise RoleFileError(f"roles.toml [{code}] scope: unknown {raw['scope']!r}") from None
        roles[code] = Role(
            code=code,
            label=str(raw["label"]),
            scope=scope,
            categories=_enum_set(DataCategory, raw["categories"], role=code, key="categories"),
            actions=_enum_set(Action, raw["actions"], role=code, key="actions"),
            mfa=bool(raw["mfa"]),
            admin=bool(raw["admin"]),
            permissions=_enum_set(Permission, raw["permissions"], role=code, key="permissions"),
        )
    return roles


@cache
def all_roles() -> dict[str, Role]:
    """Every role of the catalogue, by code."""
    return parse_roles(ROLES_FILE.read_text(encoding="utf-8"))


def get_role(code: str) -> Role | None:
    """The role named ``code``, or None when the catalogue has no such role."""
    return all_roles().get(code)


def role_choices() -> list[tuple[str, str]]:
    """(code, label) pairs for model and form choices."""
    return [(role.code, role.label) for role in all_roles().values()]
