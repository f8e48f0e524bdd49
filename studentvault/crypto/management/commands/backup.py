"""`studentvault backup --out FILE`: an encrypted, integrity-protected backup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from studentvault.core.actors import Actor
from studentvault.crypto.backup import create_backup
from studentvault.crypto.errors import BackupError


class Command(BaseCommand):
    help = "Write an encrypted backup of the database and the wrapped keysets (not the KEK)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, type=Path, help="new file to write")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = create_backup(options["out"], actor=Actor.system("backup"))
        except BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"backup written to {options['out']}: {summary['rows']} rows in "
            f"{summary['tables']} tables (keep the master key separately: it is not inside)"
        )
