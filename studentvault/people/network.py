"""The client address of a request, from the one trusted-proxy function of the project.

Invariant: a header a client can set (X-Forwarded-For...) is never trusted here directly.
When ``studentvault.core.client_ip`` exists it decides (it honours exactly the configured
trusted proxies); until then only ``REMOTE_ADDR`` is used. Lockout (axes), session records and
audit all call this, so they agree.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def request_client_ip(request: HttpRequest) -> str:
    """The client IP of ``request`` as the trusted-proxy rules see it."""
    try:
        from studentvault.core.client_ip import client_ip  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return str(request.META.get("REMOTE_ADDR", ""))
    proxies: Any = getattr(settings, "TRUSTED_PROXIES", [])
    return str(client_ip(request.META, trusted_proxies=proxies))


def axes_client_ip(request: HttpRequest) -> str:
    """AXES_CLIENT_IP_CALLABLE: the same address for lockout as for everything else."""
    return request_client_ip(request)
