"""The role catalogue (kept in ``studentvault/people/roles.toml``; see that module for why)."""

from studentvault.people.roles import (
    Action,
    Permission,
    Role,
    RoleFileError,
    ScopeKind,
    all_roles,
    get_role,
    parse_roles,
    role_choices,
)

__all__ = [
    "Action",
    "Permission",
    "Role",
    "RoleFileError",
    "ScopeKind",
    "all_roles",
    "get_role",
    "parse_roles",
    "role_choices",
]
