"""A real SFTP client: key login, upload imported with a report, jail, no password, no exec."""

from __future__ import annotations

import asyncio
import json
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from django.core.management import call_command
from exchange_world import make_persona

from studentvault.audit.models import AuditEntry
from studentvault.records.models import District, Student

pytestmark = pytest.mark.django_db(transaction=True)

STUDENT_XML = (
    '<?xml version="1.0"?>\n<InterchangeStudent xmlns="http://ed-fi.org/5.2.0">\n'
    "<Student><StudentUniqueId>4242</StudentUniqueId><Name><FirstName>A</FirstName>"
    "<LastSurname>B</LastSurname></Name><BirthData><BirthDate>2010-01-01</BirthDate>"
    "</BirthData></Student>\n</InterchangeStudent>\n"
)


def run_client(coroutine: Any) -> Any:
    """Run the SFTP client's coroutine on a loop of its own thread.

    Other tests in the same worker (Playwright's sync API) may leave an event loop running in
    this thread, where ``asyncio.run`` refuses to start.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture
def account(tmp_path: Path, studentvault_home: Path) -> dict[str, Any]:
    make_persona("alice")
    District.objects.create(state_code="9999", name="Test district")
    key = asyncssh.generate_private_key("ssh-ed25519")
    public = tmp_path / "alice.pub"
    public.write_bytes(key.export_public_key())
    call_command("sftp-key", "add", "alice", str(public))
    return {"key": key}


async def session(key: asyncssh.SSHKey, work: Any) -> Any:
    from studentvault.exchange.sftp import start_server

    acceptor = await start_server("127.0.0.1", 0)
    port = acceptor.sockets[0].getsockname()[1]
    try:
        return await work(port)
    finally:
        acceptor.close()
        await acceptor.wait_closed()


def test_key_login_upload_report_jail(
    account: dict[str, Any], tmp_path: Path, studentvault_home: Path
) -> None:
    upload = tmp_path / "edfi--Student.xml"
    upload.write_text(STUDENT_XML)
    escape = studentvault_home / "secret.txt"
    escape.write_text("outside the jail")

    async def work(port: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with asyncssh.connect(
            "127.0.0.1", port, username="alice", client_keys=[account["key"]],
            known_hosts=None, password=None,
        ) as conn:  # fmt: skip
            async with conn.start_sftp_client() as sftp:
                await sftp.put(str(upload), "inbox/edfi--Student.xml")
                report = tmp_path / "report.json"
                await sftp.get("inbox/edfi--Student.xml.report.json", str(report))
                out["report"] = json.loads(report.read_text())
                out["root"] = sorted(await sftp.listdir("/"))
                out["up"] = sorted(await sftp.listdir("/../.."))
                for bad in ("../secret.txt", "/../secret.txt", "inbox/../../secret.txt"):
                    with pytest.raises(asyncssh.SFTPError):
                        await sftp.get(bad, str(tmp_path / "stolen"))
                with pytest.raises(asyncssh.SFTPError):
                    await sftp.symlink("/../secret.txt", "inbox/link")
                with pytest.raises(asyncssh.SFTPError):
                    await sftp.put(str(upload), "outbox/x.xml")
            with pytest.raises((asyncssh.ChannelOpenError, asyncssh.ProcessError)):
                await conn.run("cat /etc/passwd", check=True)
        return out

    out = run_client(session(account["key"], work))
    assert out["report"]["status"] == "committed"
    assert out["report"]["added"] == 1
    assert Student.objects.count() == 1
    assert out["root"] == out["up"] and "inbox" in out["root"] and "outbox" in out["root"]
    assert not (tmp_path / "stolen").exists()
    upload_entry = AuditEntry.objects.filter(action="exchange:sftp:upload").first()
    assert upload_entry is not None and len(json.loads(upload_entry.details)["sha256"]) == 64
    assert AuditEntry.objects.filter(action="exchange:sftp:login", outcome="success").exists()
    host_key = studentvault_home / "sftp_host_key"
    assert stat.S_IMODE(host_key.stat().st_mode) == 0o600


def test_password_and_unknown_key_cannot_log_in(account: dict[str, Any]) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519")

    async def work(port: int) -> None:
        with pytest.raises(asyncssh.PermissionDenied):
            await asyncssh.connect(
                "127.0.0.1", port, username="alice", password="x-Tests-Only-1234",
                client_keys=None, known_hosts=None,
            )  # fmt: skip
        with pytest.raises(asyncssh.PermissionDenied):
            await asyncssh.connect(
                "127.0.0.1", port, username="alice", client_keys=[other], known_hosts=None
            )

    run_client(session(account["key"], work))
    assert AuditEntry.objects.filter(action="exchange:sftp:login", outcome="failure").exists()
