"""The master key providers (local file, Vault transit against a fake server on loopback) and
the SQLCipher-encrypted embedded database file."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from crypto_world import synthetic_students
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from studentvault.crypto.errors import DatabaseKeyError, KeyProviderError
from studentvault.crypto.kek import LocalFileKEK, VaultTransitKEK, current_kek
from studentvault.crypto.sqlcipher_backend.base import SQLITE_HEADER, open_encrypted

# --- local key file ---------------------------------------------------------------------------


def test_local_key_file_is_created_0600_once_and_wraps_with_associated_data(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keys" / "master.key"
    kek = LocalFileKEK(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    wrapped = kek.wrap(b"data key", associated_data=b"keyset/demographics")
    assert b"data key" not in wrapped
    again = LocalFileKEK(path)  # second start reads the same key, never overwrites it
    assert again.key_id == kek.key_id
    assert again.unwrap(wrapped, associated_data=b"keyset/demographics") == b"data key"
    with pytest.raises(KeyProviderError, match="does not unwrap"):
        again.unwrap(wrapped, associated_data=b"keyset/discipline")
    other = LocalFileKEK(tmp_path / "other.key")
    with pytest.raises(KeyProviderError):
        other.unwrap(wrapped, associated_data=b"keyset/demographics")
    assert kek.derive_key("backup") == again.derive_key("backup") != kek.derive_key("sqlcipher")


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    LocalFileKEK(path)
    os.chmod(path, 0o644)
    with pytest.raises(KeyProviderError, match="readable by other users"):
        LocalFileKEK(path)


def test_current_kek_follows_settings_at_call_time(settings: Any, tmp_path: Path) -> None:
    first = current_kek()
    assert (Path(settings.STUDENTVAULT_HOME) / "keys" / "master.key").exists()
    settings.STUDENTVAULT_HOME = tmp_path / "elsewhere"
    assert current_kek().key_id != first.key_id
    settings.KEK_PROVIDER = "hsm"
    with pytest.raises(KeyProviderError, match="KEK_PROVIDER must be"):
        current_kek()


# --- Vault transit (fake server on loopback) ----------------------------------------------------


class FakeVaultTransit(BaseHTTPRequestHandler):
    """Just enough of Vault's transit engine: encrypt/decrypt with associated_data, token auth."""

    token = "s.test-token"
    keys: dict[str, AESGCM] = {}
    calls: list[str] = []

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length))
        if self.headers.get("X-Vault-Token") != self.token:
            self._answer(403, {"errors": ["permission denied"]})
            return
        parts = self.path.strip("/").split("/")  # v1/transit/<op>/<key>
        if len(parts) != 4 or parts[:2] != ["v1", "transit"]:
            self._answer(404, {"errors": ["no handler"]})
            return
        operation, name = parts[2], parts[3]
        self.calls.append(operation)
        key = self.keys.setdefault(name, AESGCM(AESGCM.generate_key(bit_length=256)))
        aad = base64.b64decode(body.get("associated_data", ""))
        if operation == "encrypt":
            nonce = os.urandom(12)
            sealed = nonce + key.encrypt(nonce, base64.b64decode(body["plaintext"]), aad)
            self._answer(
                200, {"data": {"ciphertext": "vault:v1:" + base64.b64encode(sealed).decode()}}
            )
        elif operation == "decrypt":
            raw = base64.b64decode(body["ciphertext"].removeprefix("vault:v1:"))
            try:
                plain = key.decrypt(raw[:12], raw[12:], aad)
            except Exception:
                self._answer(400, {"errors": ["cipher: message authentication failed"]})
                return
            self._answer(200, {"data": {"plaintext": base64.b64encode(plain).decode()}})
        else:
            self._answer(404, {"errors": ["unsupported"]})

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def fake_vault() -> Iterator[str]:
    FakeVaultTransit.keys = {}
    FakeVaultTransit.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeVaultTransit)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_vault_transit_wraps_and_unwraps_through_the_http_api(
    fake_vault: str, tmp_path: Path
) -> None:
    kek = VaultTransitKEK(
        address=fake_vault, token=FakeVaultTransit.token, key_name="sv", home=tmp_path
    )
    wrapped = kek.wrap(b"data key", associated_data=b"keyset/programs")
    assert wrapped.startswith(b"vault:v1:") and b"data key" not in wrapped
    assert kek.unwrap(wrapped, associated_data=b"keyset/programs") == b"data key"
    with pytest.raises(KeyProviderError, match="HTTP 400"):
        kek.unwrap(wrapped, associated_data=b"keyset/migrant")
    derived = kek.derive_key("backup")
    assert kek.root_path.exists() and stat.S_IMODE(kek.root_path.stat().st_mode) == 0o600
    again = VaultTransitKEK(
        address=fake_vault, token=FakeVaultTransit.token, key_name="sv", home=tmp_path
    )
    assert again.derive_key("backup") == derived
    assert kek.key_id == "vault:transit/sv"
    assert FakeVaultTransit.calls.count("encrypt") == 2  # the data key and the derivation root


def test_vault_errors_are_clear(fake_vault: str, tmp_path: Path) -> None:
    wrong_token = VaultTransitKEK(address=fake_vault, token="nope", key_name="sv", home=tmp_path)
    with pytest.raises(KeyProviderError, match="HTTP 403"):
        wrong_token.wrap(b"x", associated_data=b"a")
    unreachable = VaultTransitKEK(
        address="http://127.0.0.1:9", token="t", key_name="sv", home=tmp_path, timeout=2
    )
    with pytest.raises(KeyProviderError, match="cannot be reached"):
        unreachable.wrap(b"x", associated_data=b"a")
    with pytest.raises(KeyProviderError, match="VAULT_ADDR"):
        VaultTransitKEK(address="", token="t", key_name="sv", home=tmp_path)


@pytest.mark.django_db
def test_the_whole_stack_runs_on_vault(fake_vault: str, settings: Any) -> None:
    from studentvault.crypto.blind_index import index_for
    from studentvault.records.models import Student

    settings.KEK_PROVIDER = "vault"
    settings.VAULT_ADDR = fake_vault
    settings.VAULT_TOKEN = FakeVaultTransit.token
    settings.VAULT_TRANSIT_KEY = "studentvault"
    (student,) = synthetic_students(1)
    student.save()
    found = Student.objects.get(sasid_index=index_for("sasid", student.sasid))
    assert found.last_name == student.last_name
    from studentvault.crypto.models import Keyset

    assert "encrypt" in FakeVaultTransit.calls
    assert Keyset.objects.get(name="demographics").kek_id == "vault:transit/studentvault"


# --- SQLCipher ----------------------------------------------------------------------------------


def test_the_database_file_is_encrypted_and_a_wrong_key_refuses_to_open(tmp_path: Path) -> None:
    path = tmp_path / "studentvault.db"
    key = os.urandom(32)
    conn = open_encrypted(str(path), key)
    conn.execute("CREATE TABLE t (secret TEXT)")
    conn.execute("INSERT INTO t VALUES ('Quillfeather 2011-04-09')")
    conn.commit()
    conn.close()
    data = path.read_bytes()
    assert data[:16] != SQLITE_HEADER
    assert b"Quillfeather" not in data and b"2011-04-09" not in data
    plain = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        plain.execute("SELECT * FROM t").fetchall()
    plain.close()
    size = path.stat().st_size
    with pytest.raises(DatabaseKeyError, match="refusing to start"):
        open_encrypted(str(path), os.urandom(32))
    assert path.stat().st_size == size and path.read_bytes() == data  # nothing created over it
    conn = open_encrypted(str(path), key)
    assert conn.execute("SELECT secret FROM t").fetchone() == ("Quillfeather 2011-04-09",)
    conn.close()


def test_an_unencrypted_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plain.db"
    plain = sqlite3.connect(path)
    plain.execute("CREATE TABLE t (x)")
    plain.commit()
    plain.close()
    with pytest.raises(DatabaseKeyError, match="unencrypted"):
        open_encrypted(str(path), os.urandom(32))


def test_django_backend_opens_the_file_with_the_kek_derived_key(
    tmp_path: Path, settings: Any, django_db_blocker: Any
) -> None:
    from studentvault.crypto.sqlcipher_backend.base import DatabaseWrapper

    path = tmp_path / "app.db"
    params = {
        "NAME": str(path),
        "USER": "",
        "PASSWORD": "",
        "HOST": "",
        "PORT": "",
        "OPTIONS": {},
        "TIME_ZONE": None,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "AUTOCOMMIT": True,
        "ATOMIC_REQUESTS": False,
        "TEST": {},
    }
    wrapper = DatabaseWrapper(params, alias="encrypted_test")
    with django_db_blocker.unblock():
        with wrapper.cursor() as cursor:
            cursor.execute("CREATE TABLE t (x TEXT)")
            cursor.execute("INSERT INTO t VALUES (%s)", ["Marrowdale"])
        wrapper.close()
    assert path.read_bytes()[:16] != SQLITE_HEADER
    assert b"Marrowdale" not in path.read_bytes()
    # Another master key (another home): the app refuses to start on this file.
    settings.STUDENTVAULT_HOME = tmp_path / "another-home"
    other = DatabaseWrapper(params, alias="encrypted_test")
    with django_db_blocker.unblock(), pytest.raises(DatabaseKeyError):
        other.ensure_connection()
