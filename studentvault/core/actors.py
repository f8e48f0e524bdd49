"""Who is acting: the identity every access decision and audit entry is made for.

An ``Actor`` is a small, immutable description handed from the edge (a web request, an API
token, an SFTP login, a command line) to the access and audit modules. It never holds student
data. ``access`` resolves an actor's grants from ``id``; ``audit`` records ``id``, ``username``
and ``role``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ActorKind(StrEnum):
    STAFF = "staff"  # a district staff account (Django user)
    VENDOR = "vendor"  # a vendor's API client or SFTP account, bound to a contract
    SYSTEM = "system"  # a scheduled job or an operator's command acting for the district
    ANONYMOUS = "anonymous"  # nobody signed in


@dataclass(frozen=True)
class Actor:
    """The person or client on whose behalf something is done."""

    kind: ActorKind
    id: str  # stable: "user:17", "client:<client id>", "system:<command>"
    username: str = ""
    role: str = ""
    # Where the request came from, filled in by the edge; audit derives device and site.
    client_ip: str | None = None
    user_agent: str = ""
    device_id: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def system(cls, command: str) -> Actor:
        """An operator command or job acting for the district (audited as such)."""
        return cls(kind=ActorKind.SYSTEM, id=f"system:{command}", username=command, role="system")


ANONYMOUS = Actor(kind=ActorKind.ANONYMOUS, id="anonymous")
