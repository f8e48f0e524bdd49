"""`studentvault restore FILE`: restore an encrypted backup into an empty instance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from studentvault.core.actors import Actor
from studentvault.crypto.backup import restore_backup
from studentvault.crypto.errors import BackupError


class Command(BaseCommand):
    help = "Verify a backup completely, then restore it into this empty, migrated instance."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path} does not exist or is not a file")
        try:
            summary = restore_backup(path, actor=Actor.system("restore"))
        except BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"restored {summary['rows']} rows into {summary['tables']} tables")
