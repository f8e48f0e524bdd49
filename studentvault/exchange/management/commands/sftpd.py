"""``studentvault sftpd``: run the SFTP gateway (key-only, jailed, uploads imported)."""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from studentvault.exchange.sftp import start_server


class Command(BaseCommand):
    help = "Run the SFTP gateway until interrupted."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.SFTP_HOST)
        parser.add_argument("--port", type=int, default=settings.SFTP_PORT)

    def handle(self, *args: Any, **options: Any) -> None:
        async def serve() -> None:
            acceptor = await start_server(options["host"], options["port"])
            self.stdout.write(f"SFTP gateway on {options['host']}:{options['port']}")
            try:
                await asyncio.Event().wait()
            finally:
                acceptor.close()

        try:
            asyncio.run(serve())
        except KeyboardInterrupt:
            self.stdout.write("stopped")
