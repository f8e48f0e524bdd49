"""`studentvault serve`: the staff UI and API over HTTPS (granian, TLS 1.2+), plus a plain-HTTP
listener whose only answer is a permanent redirect to HTTPS.

Django runs under granian's WSGI interface with a fixed number of request threads per worker:
the views are synchronous, and under ASGI every request ran in a fresh thread that opened (and,
with CONN_MAX_AGE, kept) its own database connection until PostgreSQL refused new clients
(found by bench/bench_api.py). Threads x workers bound the connections.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from studentvault.web.tls import ensure_self_signed


async def _redirect_to_https(host: str, port: int, https_port: int) -> None:
    """Answer every plain-HTTP request with 301 to the same path over HTTPS."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), timeout=5)
            parts = request_line.decode("latin-1").split(" ")
            target = parts[1] if len(parts) >= 2 and parts[1].startswith("/") else "/"
            target = target.replace("\r", "").replace("\n", "")
            location = f"https://localhost:{https_port}{target}"
            writer.write(
                b"HTTP/1.1 301 Moved Permanently\r\n"
                + f"Location: {location}\r\n".encode("latin-1", "replace")
                + b"Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
            await writer.drain()
        except (TimeoutError, ConnectionError, UnicodeError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port)
    async with server:
        await server.serve_forever()


class Command(BaseCommand):
    help = "Serve StudentVault over HTTPS with granian (TLS 1.2/1.3 only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.SERVE_HOST)
        parser.add_argument("--port", type=int, default=settings.SERVE_PORT)
        parser.add_argument("--http-port", type=int, default=settings.SERVE_HTTP_PORT)
        parser.add_argument("--workers", type=int, default=settings.SERVE_WORKERS)
        parser.add_argument(
            "--threads",
            type=int,
            default=settings.SERVE_THREADS,
            help="request threads per worker (each holds at most one database connection)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        cert, key = Path(settings.TLS_CERT_FILE), Path(settings.TLS_KEY_FILE)
        if ensure_self_signed(cert, key):
            self.stdout.write(f"Made a self-signed certificate for the demo: {cert}")
        if not cert.exists() or not key.exists():
            raise CommandError("TLS_CERT_FILE and TLS_KEY_FILE must both exist")
        call_command("collectstatic", interactive=False, verbosity=0)
        granian = shutil.which("granian", path=str(Path(sys.executable).parent)) or "granian"
        command = [
            granian,
            "--interface", "wsgi",
            "--host", options["host"],
            "--port", str(options["port"]),
            "--workers", str(options["workers"]),
            "--blocking-threads", str(options["threads"]),
            "--ssl-certificate", str(cert),
            "--ssl-keyfile", str(key),
            "--ssl-protocol-min", "tls1.2",
            "--static-path-route", "/static",
            "--static-path-mount", str(settings.STATIC_ROOT),
            "config.wsgi:application",
        ]  # fmt: skip
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
        process = subprocess.Popen(command, env=env)  # noqa: S603 - fixed argument list
        self.stdout.write(
            f"Serving https://localhost:{options['port']}/ "
            f"(http://localhost:{options['http_port']}/ redirects there). Ctrl-C stops."
        )

        def stop(*_: object) -> None:
            process.terminate()

        signal.signal(signal.SIGTERM, stop)
        try:
            if options["http_port"]:
                loop = asyncio.new_event_loop()
                task = loop.create_task(
                    _redirect_to_https(options["host"], options["http_port"], options["port"])
                )
                while process.poll() is None:
                    loop.run_until_complete(asyncio.sleep(0.5))
                task.cancel()
            else:
                process.wait()
        except KeyboardInterrupt:
            process.terminate()
        finally:
            process.wait(timeout=30)
        if process.returncode not in (0, -signal.SIGTERM, -signal.SIGINT):
            raise CommandError(f"granian stopped with exit code {process.returncode}")
