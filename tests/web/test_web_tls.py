"""`studentvault serve` on free ports, probed with Python's ssl module: only TLS 1.2 and 1.3,
only forward-secret AEAD cipher suites, and a plain-HTTP listener that only redirects.

(sslyze would do this scan too, but it pins an older `cryptography` than the project's; see
docs/adr/0064 and bench/bench_tls.py, which runs sslyze from its own venv.)
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    home = tmp_path_factory.mktemp("serve-home")
    port, http_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "STUDENTVAULT_HOME": str(home),
        "DATABASE_URL": f"sqlite:///{home / 'db.sqlite3'}",
        "DATABASE_ENCRYPTION": "0",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    command = [sys.executable, "manage.py", "serve", "--port", str(port)]
    command += ["--http-port", str(http_port), "--workers", "1", "--threads", "1"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            socket.create_connection(("127.0.0.1", http_port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"serve stopped: {output[-2000:]}")
            time.sleep(0.3)
    else:
        process.terminate()
        pytest.fail("serve did not listen within 60 s")
    yield port, http_port
    process.terminate()
    process.wait(timeout=30)
    if process.stdout:
        process.stdout.close()


def _client(version: ssl.TLSVersion, ciphers: str | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        # TLS 1.0 and 1.1 are deprecated: offering them is the point of the probe.
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = version
        context.maximum_version = version
    # Offer everything this OpenSSL can, so a refusal is the server's.
    context.set_ciphers((ciphers or "ALL:COMPLEMENTOFALL") + ":@SECLEVEL=0")
    return context


def _handshake(port: int, context: ssl.SSLContext) -> tuple[str, str] | None:
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            cipher = tls.cipher()
            assert cipher is not None
            return str(tls.version()), cipher[0]
    except (ssl.SSLError, ConnectionResetError, OSError):
        return None


def test_only_tls_12_and_13(server: tuple[int, int]) -> None:
    port, _ = server
    accepted = {}
    for version in (
        ssl.TLSVersion.TLSv1,
        ssl.TLSVersion.TLSv1_1,
        ssl.TLSVersion.TLSv1_2,
        ssl.TLSVersion.TLSv1_3,
    ):
        try:
            context = _client(version)
        except (ValueError, ssl.SSLError):
            continue  # this OpenSSL cannot even offer it
        accepted[version.name] = _handshake(port, context) is not None
    assert accepted.get("TLSv1_2") and accepted.get("TLSv1_3"), accepted
    assert not accepted.get("TLSv1") and not accepted.get("TLSv1_1"), accepted


def test_only_forward_secret_aead_suites(server: tuple[int, int]) -> None:
    port, _ = server
    offered = [c["name"] for c in _client(ssl.TLSVersion.TLSv1_2).get_ciphers()]
    tls12 = [c for c in offered if not c.startswith("TLS_")]
    accepted = [c for c in tls12 if _handshake(port, _client(ssl.TLSVersion.TLSv1_2, c))]
    assert accepted, "no TLS 1.2 suite accepted"
    for name in accepted:
        assert name.startswith(("ECDHE-", "DHE-")), f"{name} is not forward secret"
        assert "GCM" in name or "CHACHA20" in name or "CCM" in name, f"{name} is not AEAD"
    negotiated = _handshake(port, _client(ssl.TLSVersion.TLSv1_3))
    assert negotiated is not None and negotiated[1].startswith("TLS_")  # 1.3: AEAD + (EC)DHE


def test_plain_http_only_redirects(server: tuple[int, int]) -> None:
    port, http_port = server
    with socket.create_connection(("127.0.0.1", http_port), timeout=5) as raw:
        raw.sendall(b"GET /students/?q=1 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        answer = raw.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 301")
    assert f"Location: https://localhost:{port}/students/?q=1" in answer
    assert "Content-Length: 0" in answer


def test_https_answers_with_hsts(server: tuple[int, int]) -> None:
    port, _ = server
    context = _client(ssl.TLSVersion.TLSv1_3)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := tls.recv(4096):
            answer += chunk
    head = answer.decode("latin-1").split("\r\n\r\n", 1)[0].lower()
    assert head.startswith("http/1.1 302")  # to the sign-in page
    assert "strict-transport-security: max-age=31536000; includesubdomains" in head
    assert "content-security-policy: default-src 'self'" in head
