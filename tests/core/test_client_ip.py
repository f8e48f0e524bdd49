"""The client address: X-Forwarded-For is believed only from trusted proxies, right to left."""

from __future__ import annotations

import pytest

from studentvault.core.client_ip import client_ip

PROXIES = ["10.0.0.0/24", "2001:db8::/64"]


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    meta = {"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": "10.20.1.5"}
    assert client_ip(meta, trusted_proxies=[]) == "203.0.113.9"


def test_an_untrusted_peer_cannot_spoof_its_address() -> None:
    meta = {"REMOTE_ADDR": "198.51.100.7", "HTTP_X_FORWARDED_FOR": "10.20.1.5"}
    assert client_ip(meta, trusted_proxies=PROXIES) == "198.51.100.7"


def test_the_rightmost_untrusted_hop_is_the_client() -> None:
    # The client sent a forged "10.20.1.5"; our proxy appended the real peer 203.0.113.9.
    meta = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "10.20.1.5, 203.0.113.9"}
    assert client_ip(meta, trusted_proxies=PROXIES) == "203.0.113.9"


def test_chained_trusted_proxies_are_skipped() -> None:
    meta = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.9, 10.0.0.3"}
    assert client_ip(meta, trusted_proxies=PROXIES) == "203.0.113.9"


def test_a_malformed_hop_stops_at_the_last_trusted_proxy() -> None:
    meta = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "1.2.3.4, <script>"}
    assert client_ip(meta, trusted_proxies=PROXIES) == "10.0.0.2"


def test_all_hops_trusted_gives_the_leftmost() -> None:
    meta = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "10.0.0.9"}
    assert client_ip(meta, trusted_proxies=PROXIES) == "10.0.0.9"


def test_ipv6_ports_and_mapped_addresses() -> None:
    meta = {"REMOTE_ADDR": "2001:db8::1", "HTTP_X_FORWARDED_FOR": "[2001:db8:1::5]:443"}
    assert client_ip(meta, trusted_proxies=PROXIES) == "2001:db8:1::5"
    assert client_ip({"REMOTE_ADDR": "::ffff:203.0.113.9"}, trusted_proxies=[]) == "203.0.113.9"
    meta = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.9:51234"}
    assert client_ip(meta, trusted_proxies=PROXIES) == "203.0.113.9"


def test_unusable_remote_addr_and_bad_configuration() -> None:
    assert client_ip({}, trusted_proxies=PROXIES) == ""
    assert client_ip({"REMOTE_ADDR": "nonsense"}, trusted_proxies=PROXIES) == ""
    with pytest.raises(ValueError, match=r"'10\.0\.0\.0/33'"):
        client_ip({"REMOTE_ADDR": "10.0.0.2"}, trusted_proxies=["10.0.0.0/33"])
