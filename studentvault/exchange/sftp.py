"""The SFTP gateway: key-only logins, one jail per account, uploads imported with its rights.

Invariants:
- authentication is by public key only: keys registered per account (``SftpKey``, not revoked)
  for an active account; password and keyboard-interactive authentication are not offered;
- sessions offer SFTP only: no shell, exec, subsystem other than sftp, port forwarding, agent or
  X11 forwarding, no SCP;
- every path is mapped under the account's jail ``STUDENTVAULT_HOME/sftp/<username>/`` and the
  resolved real path must stay inside it (``..``, absolute paths and symlinks planted in the
  jail cannot escape); creating symlinks or hard links is refused;
- writes are allowed only in ``inbox/`` and stop at ``IMPORT_MAX_BYTES``; a file completed in
  ``inbox/`` is imported (not a dry run) with the account's rights, and a result report
  ``<file>.report.json`` / ``<file>.report.txt`` is written beside it;
- ``outbox/`` is read-only for the account and holds the files operators export for it;
- every login (success or failure), upload and download is audited, uploads and downloads with
  the file's SHA-256;
- the host key is generated on first run in ``STUDENTVAULT_HOME/sftp_host_key`` (0600).
The key login is taken as the account's second factor for the gateway (docs/adr/0074).
"""

from __future__ import annotations

import asyncio
import json
import os
import posixpath
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import asyncssh
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections, transaction

from studentvault import audit
from studentvault.access.actors import actor_for_user
from studentvault.core.actors import Actor

from .formats import registry
from .intake import max_bytes, sha256_of
from .models import SftpKey
from .services import import_files, report_text

T = TypeVar("T")
HOST_KEY_NAME = "sftp_host_key"


def sftp_root() -> Path:
    """The folder that holds one jail per account."""
    return Path(settings.STUDENTVAULT_HOME) / "sftp"


def jail_for(username: str) -> Path:
    """The account's jail with its inbox/ and outbox/ (created 0700)."""
    if not username or "/" in username or username in {".", ".."}:
        raise ValueError("not a usable account name for a folder")
    jail = sftp_root() / username
    for sub in (jail, jail / "inbox", jail / "outbox"):
        sub.mkdir(parents=True, exist_ok=True, mode=0o700)
    return jail


def host_key() -> asyncssh.SSHKey:
    """The gateway's host key, generated on first run (0600)."""
    path = Path(settings.STUDENTVAULT_HOME) / HOST_KEY_NAME
    if not path.exists():
        key = asyncssh.generate_private_key("ssh-ed25519")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key.export_private_key())
    return asyncssh.read_private_key(str(path))


def fingerprint_of(public_key: str) -> str:
    """The SHA-256 fingerprint of an OpenSSH public key line (ValueError when it is not one)."""
    try:
        return str(asyncssh.import_public_key(public_key.strip()).get_fingerprint("sha256"))
    except (asyncssh.KeyImportError, ValueError):
        raise ValueError("not an OpenSSH public key") from None


def sftp_key_add(*, actor: Actor, username: str, public_key: str) -> SftpKey:
    """Register a public key for an account's SFTP logins; audited. ValueError on bad input."""
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ValueError(f"no active account {username!r}")
    fingerprint = fingerprint_of(public_key)
    if SftpKey.objects.filter(fingerprint=fingerprint).exists():
        raise ValueError("this key is already registered")
    with transaction.atomic():
        key = SftpKey.objects.create(
            user=user,
            public_key=public_key.strip(),
            fingerprint=fingerprint,
            comment=public_key.strip().split(" ", 2)[2][:200] if public_key.count(" ") >= 2 else "",
        )
        audit.record(
            actor=actor,
            action="exchange:sftpkey:add",
            target=f"user:{user.pk}",
            details={"fingerprint": fingerprint},
        )
    jail_for(username)
    return key


def _db(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a worker thread; the thread's database connections are closed after it."""
    try:
        return fn()
    finally:
        connections.close_all()


async def in_thread(fn: Callable[[], T]) -> T:
    """Database work from the event loop: in a thread, as Django requires."""
    return await asyncio.to_thread(_db, fn)


def _sftp_actor(user: Any, peer: str | None) -> Actor:
    actor = actor_for_user(user)
    return Actor(
        kind=actor.kind,
        id=actor.id,
        username=actor.username,
        role=actor.role,
        client_ip=peer,
        user_agent="sftp",
        extra={"mfa": "verified", "channel": "sftp"},
    )


class GatewayServer(asyncssh.SSHServer):
    """Connection-level policy: public keys of registered accounts only, nothing else."""

    def __init__(self) -> None:
        self.peer: str | None = None
        self.actor: Actor | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        peer = conn.get_extra_info("peername")
        self.peer = str(peer[0]) if peer else None
        self.conn = conn

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    async def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        fingerprint = str(key.get_fingerprint("sha256"))
        peer = self.peer

        def check() -> Actor | None:
            found = (
                SftpKey.objects.filter(
                    fingerprint=fingerprint,
                    revoked_at__isnull=True,
                    user__username=username,
                    user__is_active=True,
                )
                .select_related("user")
                .first()
            )
            if found is None:
                audit.record(
                    actor=Actor.system("sftpd"),
                    action="exchange:sftp:login",
                    outcome="failure",
                    target=f"username:{username[:60]}",
                    details={"fingerprint": fingerprint, "peer": peer or ""},
                )
                return None
            actor = _sftp_actor(found.user, peer)
            audit.record(
                actor=actor, action="exchange:sftp:login", details={"fingerprint": fingerprint}
            )
            return actor

        self.actor = await in_thread(check)
        if self.actor is not None:
            self.conn.set_extra_info(studentvault_actor=self.actor)
        return self.actor is not None


class _Upload:
    """An open file of a session: the OS handle plus what the close must do."""

    def __init__(self, handle: Any, path: Path, writing: bool, inbox: bool) -> None:
        self.handle = handle
        self.path = path
        self.writing = writing
        self.inbox = inbox

    def __getattr__(self, name: str) -> Any:
        # fstat, fsync... of the base server use the OS file's own methods (fileno, seek).
        return getattr(self.handle, name)


def format_for(path: Path) -> str | None:
    """The import format of an uploaded file: its sidecar ``<file>.format``, or ``FORMAT--name``."""
    sidecar = path.with_name(path.name + ".format")
    if sidecar.is_file() and sidecar.stat().st_size < 100:
        name = sidecar.read_text(encoding="utf-8", errors="replace").strip()
        return name if name in registry() else None
    prefix = path.name.split("--", 1)[0] if "--" in path.name else ""
    return prefix if prefix in registry() else None


def process_upload(actor: Actor, path: Path) -> None:
    """Audit an upload, import it with the account's rights, write the report beside it."""
    digest = sha256_of(path)
    audit.record(
        actor=actor,
        action="exchange:sftp:upload",
        target=f"file:{path.name[:100]}",
        details={"sha256": digest, "bytes": path.stat().st_size},
    )
    if path.name.endswith((".format", ".report.json", ".report.txt")):
        return
    fmt = format_for(path)
    if fmt is None:
        report: dict[str, Any] = {
            "status": "rejected",
            "problems": [
                {
                    "file": path.name,
                    "line": None,
                    "field": None,
                    "problem": "unknown format: name the file FORMAT--name or upload "
                    "<file>.format first; formats: " + ", ".join(sorted(registry())),
                }
            ],
        }
        text = f"{path.name}: rejected, unknown format\n"
    else:
        run = import_files(actor=actor, format_name=fmt, paths=[path], channel="sftp")
        report = {"import": run.pk, "status": run.status, "format": fmt, **run.report}
        report.update(
            added=run.added, changed=run.changed, unchanged=run.unchanged, errors=run.errors
        )
        text = report_text(run)
    for suffix, body in ((".report.json", json.dumps(report, indent=1, default=str)),
                         (".report.txt", text)):  # fmt: skip
        target = path.with_name(path.name + suffix)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(body)


class JailSFTPServer(asyncssh.SFTPServer):
    """SFTP inside one account's jail; uploads to inbox/ are imported on close."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:
        self.actor: Actor = chan.get_connection().get_extra_info("studentvault_actor")
        self.jail = jail_for(self.actor.username).resolve()
        super().__init__(chan, chroot=str(self.jail).encode())

    # -- paths ---------------------------------------------------------------------------

    def map_path(self, path: bytes) -> bytes:
        mapped = super().map_path(path)
        real = os.path.realpath(mapped)
        root = str(self.jail).encode()
        if real != root and not real.startswith(root + b"/"):
            raise asyncssh.SFTPPermissionDenied("path outside your folder")
        return mapped

    def _relative(self, local: bytes) -> str:
        rel = posixpath.relpath(local.decode(), str(self.jail))
        return "" if rel == "." else rel

    def _in(self, local: bytes, folder: str) -> bool:
        rel = self._relative(local)
        return rel.startswith(folder + "/") and rel.count("/") == 1

    # -- refused operations --------------------------------------------------------------

    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPOpUnsupported("symbolic links are not allowed")

    def link(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPOpUnsupported("links are not allowed")

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        raise asyncssh.SFTPPermissionDenied("folders are fixed: inbox/ and outbox/")

    def rmdir(self, path: bytes) -> None:
        raise asyncssh.SFTPPermissionDenied("folders are fixed: inbox/ and outbox/")

    def setstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        raise asyncssh.SFTPPermissionDenied("file attributes are fixed")

    def remove(self, path: bytes) -> None:
        if not self._in(self.map_path(path), "inbox"):
            raise asyncssh.SFTPPermissionDenied("only files in inbox/ may be removed")
        super().remove(path)

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPPermissionDenied("renaming is not allowed")

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPPermissionDenied("renaming is not allowed")

    # -- files ---------------------------------------------------------------------------

    def open56(self, path: bytes, *args: Any) -> Any:
        raise asyncssh.SFTPOpUnsupported("use SFTP version 3")

    def open(self, client_path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> _Upload:
        path = self.map_path(client_path)
        writing = bool(pflags & (asyncssh.FXF_WRITE | asyncssh.FXF_APPEND | asyncssh.FXF_CREAT))
        if writing and not self._in(path, "inbox"):
            raise asyncssh.SFTPPermissionDenied("uploads go to inbox/")
        if not writing and not (self._in(path, "inbox") or self._in(path, "outbox")):
            raise asyncssh.SFTPNoSuchFile("no such file")
        if writing:
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
            fd = os.open(path, flags, 0o600)
        else:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        handle = os.fdopen(fd, "wb" if writing else "rb", buffering=0)
        return _Upload(handle, Path(path.decode()), writing, self._in(path, "inbox"))

    def write(self, file_obj: object, offset: int, data: bytes) -> int:
        assert isinstance(file_obj, _Upload)
        if offset + len(data) > max_bytes():
            raise asyncssh.SFTPFailure(f"upload larger than the limit of {max_bytes()} bytes")
        file_obj.handle.seek(offset)
        return int(file_obj.handle.write(data))

    def read(self, file_obj: object, offset: int, size: int) -> bytes:
        assert isinstance(file_obj, _Upload)
        file_obj.handle.seek(offset)
        return bytes(file_obj.handle.read(size))

    async def close(self, file_obj: _Upload) -> None:  # type: ignore[override]
        file_obj.handle.close()
        actor = self.actor
        if file_obj.writing:
            await in_thread(lambda: process_upload(actor, file_obj.path))
        else:

            def downloaded() -> None:
                audit.record(
                    actor=actor,
                    action="exchange:sftp:download",
                    target=f"file:{file_obj.path.name[:100]}",
                    details={"sha256": sha256_of(file_obj.path)},
                )

            await in_thread(downloaded)


async def start_server(host: str, port: int) -> asyncssh.SSHAcceptor:
    """Listen for SFTP clients (returns the acceptor; ``close()`` it to stop)."""
    key = await in_thread(host_key)
    sftp_root().mkdir(parents=True, exist_ok=True, mode=0o700)
    return await asyncssh.create_server(
        GatewayServer,
        host,
        port,
        server_host_keys=[key],
        sftp_factory=JailSFTPServer,
        allow_scp=False,
        agent_forwarding=False,
        x11_forwarding=False,
        allow_pty=False,
        line_editor=False,
        keepalive_interval=60,
        login_timeout=30,
    )
