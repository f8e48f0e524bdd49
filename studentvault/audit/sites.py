"""Network location: the district site a client address belongs to.

The site is the most specific ``NetworkSite`` range that contains the address ("Lincoln
Elementary" inside "District WAN"), else ``OUTSIDE_DISTRICT``; an empty or unreadable address
gives ``UNKNOWN_LOCATION``. The table is cached in each process for ``CACHE_SECONDS`` and
dropped at once when a site is saved or deleted in this process.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from typing import Any

OUTSIDE_DISTRICT = "outside district"
UNKNOWN_LOCATION = "unknown"
CACHE_SECONDS = 60.0

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_lock = threading.Lock()
_cache: tuple[float, list[tuple[Network, str]]] | None = None


def _load() -> list[tuple[Network, str]]:
    from .models import NetworkSite

    sites: list[tuple[Network, str]] = []
    for name, cidr in NetworkSite.objects.values_list("name", "cidr"):
        try:
            sites.append((ipaddress.ip_network(cidr, strict=False), name))
        except ValueError:
            continue  # refused by NetworkSite.clean; a raw insert must not stop auditing
    # Most specific first: longest prefix wins.
    sites.sort(key=lambda item: item[0].prefixlen, reverse=True)
    return sites


def _sites() -> list[tuple[Network, str]]:
    global _cache
    with _lock:
        now = time.monotonic()
        if _cache is None or now - _cache[0] > CACHE_SECONDS:
            _cache = (now, _load())
        return _cache[1]


def clear_cache(**_: Any) -> None:
    """Forget the cached site table (connected to NetworkSite saves and deletes)."""
    global _cache
    with _lock:
        _cache = None


def site_for(client_ip: str | None) -> str:
    """The site name for ``client_ip`` (see module docstring)."""
    if not client_ip:
        return UNKNOWN_LOCATION
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return UNKNOWN_LOCATION
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for network, name in _sites():
        if address.version == network.version and address in network:
            return name
    return OUTSIDE_DISTRICT


def connect_cache_invalidation() -> None:
    """Drop the cache whenever a site changes in this process."""
    from django.db.models.signals import post_delete, post_save

    from .models import NetworkSite

    post_save.connect(clear_cache, sender=NetworkSite, dispatch_uid="audit.sites.save")
    post_delete.connect(clear_cache, sender=NetworkSite, dispatch_uid="audit.sites.delete")
