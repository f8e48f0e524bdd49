"""PostgreSQL privileges: the application role may INSERT and SELECT on the audit log, no more.

Run the migrations as the owning role (a DBA), then give the application its own login role:

    studentvault audit grant-sql --role studentvault_app | psql -U postgres studentvault

The owner (or a superuser) can still disable the triggers; that is what the signed checkpoints
outside the database are for (docs/adr/0031).
"""

from __future__ import annotations

import re

AUDIT_TABLES = ("audit_auditentry", "audit_auditentrystudent")
_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def grant_sql(role: str) -> str:
    """The statements that restrict ``role`` on the audit tables (and keep the rest usable)."""
    if not _ROLE.match(role):
        raise ValueError(
            f"role name {role!r} must be lower-case letters, digits and underscores (max 63)"
        )
    lines = [
        "-- StudentVault: the application role may append to and read the audit log, nothing else.",
        "BEGIN;",
        f"GRANT USAGE ON SCHEMA public TO {role};",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};",
    ]
    for table in AUDIT_TABLES:
        lines.append(f"REVOKE ALL ON {table} FROM {role};")
        lines.append(f"GRANT SELECT, INSERT ON {table} TO {role};")
    lines.append("COMMIT;")
    return "\n".join(lines)
