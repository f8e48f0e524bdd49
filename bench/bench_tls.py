"""sslyze against `studentvault serve` on a free port (issue 8): prints the accepted protocol
versions and cipher suites and whether each is forward secret and AEAD.

sslyze pins an older `cryptography` than the project uses, so it runs from its own venv:
SSLYZE_PYTHON=/path/to/venv/bin/python (docs/adr/0064). Without it the script says so and stops;
tests/web/test_web_tls.py makes the same checks with Python's ssl module in `make test`.

    SSLYZE_PYTHON=/tmp/sslyze-venv/bin/python python bench/bench_tls.py
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCAN = r"""
import json, sys
from sslyze import Scanner, ServerNetworkLocation, ServerScanRequest, ScanCommand
from sslyze.errors import ServerHostnameCouldNotBeResolved
commands = {ScanCommand.SSL_2_0_CIPHER_SUITES, ScanCommand.SSL_3_0_CIPHER_SUITES,
            ScanCommand.TLS_1_0_CIPHER_SUITES, ScanCommand.TLS_1_1_CIPHER_SUITES,
            ScanCommand.TLS_1_2_CIPHER_SUITES, ScanCommand.TLS_1_3_CIPHER_SUITES}
scanner = Scanner()
scanner.queue_scans([ServerScanRequest(
    server_location=ServerNetworkLocation("localhost", int(sys.argv[1]), ip_address="127.0.0.1"),
    scan_commands=commands)])
out = {}
for result in scanner.get_results():
    for name in ("ssl_2_0", "ssl_3_0", "tls_1_0", "tls_1_1", "tls_1_2", "tls_1_3"):
        attempt = getattr(result.scan_result, f"{name}_cipher_suites")
        suites = attempt.result.accepted_cipher_suites if attempt.result else []
        out[name] = [s.cipher_suite.name for s in suites]
print(json.dumps(out))
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _forward_secret_aead(name: str) -> bool:
    if name.startswith("TLS_") and "_WITH_" not in name:  # TLS 1.3 suites: always both
        return True
    fs = name.startswith(("TLS_ECDHE_", "TLS_DHE_"))
    aead = "_GCM_" in name or "CHACHA20_POLY1305" in name or "_CCM" in name
    return fs and aead


def main() -> int:
    sslyze_python = os.environ.get("SSLYZE_PYTHON")
    if not sslyze_python:
        print("SSLYZE_PYTHON is not set: sslyze runs from its own venv (docs/adr/0064); skipped")
        return 0
    home = Path(tempfile.mkdtemp(prefix="bench-tls-"))
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
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        for _ in range(120):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        scan = subprocess.run(
            [sslyze_python, "-c", SCAN, str(port)], capture_output=True, text=True, check=True
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    accepted: dict[str, list[str]] = json.loads(scan.stdout.strip().splitlines()[-1])
    ok = True
    for version, suites in accepted.items():
        print(f"{version:<8} {len(suites):>2} suites accepted")
        for suite in suites:
            good = _forward_secret_aead(suite)
            ok &= good
            print(
                f"         {suite}  {'forward-secret AEAD' if good else 'NOT forward-secret AEAD'}"
            )
        if suites and version not in ("tls_1_2", "tls_1_3"):
            ok = False
    print(f"only TLS 1.2/1.3 with forward-secret AEAD suites: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
