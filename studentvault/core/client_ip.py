"""The client's address, trusting X-Forwarded-For only from configured proxies.

Invariants:
- With no trusted proxies (``TRUSTED_PROXIES`` empty, the default) the answer is REMOTE_ADDR:
  a client cannot choose its own address by sending X-Forwarded-For.
- Only when REMOTE_ADDR is inside a trusted proxy range is X-Forwarded-For read, and then from
  the right: each hop appended by a trusted proxy is skipped, and the first address that is not a
  trusted proxy is the client. Entries to its left were written by the client and are ignored.
- A malformed hop ends the walk: the answer is the last trusted proxy that handed it on, never
  the malformed text.
- The result is a normalised IP address text, or "" when REMOTE_ADDR itself is unusable.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from functools import lru_cache

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def parse_networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    """Parse proxy ranges; ValueError names the entry that is not a network range."""
    networks: list[Network] = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"TRUSTED_PROXIES entry {cidr!r} is not an address or range like 10.0.0.0/8"
            ) from None
    return tuple(networks)


def _address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:51234"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, networks: Sequence[Network]) -> bool:
    return any(address.version == n.version and address in n for n in networks)


def client_ip(meta: Mapping[str, str], *, trusted_proxies: list[str]) -> str:
    """The client address of a request whose WSGI environ / ``request.META`` is ``meta``."""
    remote = _address(meta.get("REMOTE_ADDR", "") or "")
    if remote is None:
        return ""
    networks = parse_networks(tuple(trusted_proxies))
    if not networks or not _trusted(remote, networks):
        return str(remote)
    forwarded = meta.get("HTTP_X_FORWARDED_FOR", "") or ""
    hops = [hop for hop in forwarded.split(",") if hop.strip()]
    current = remote
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return str(current)
        if not _trusted(address, networks):
            return str(address)
        current = address
    return str(current)
