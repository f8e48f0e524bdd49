"""``studentvault sftp-key add USERNAME KEYFILE``: register a public key for SFTP logins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from studentvault.core.actors import Actor
from studentvault.exchange.sftp import sftp_key_add


class Command(BaseCommand):
    help = "Register an OpenSSH public key for an account's SFTP logins (audited)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["add"])
        parser.add_argument("username")
        parser.add_argument("keyfile", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            text = options["keyfile"].read_text(encoding="utf-8")
            key = sftp_key_add(
                actor=Actor.system("sftp-key"), username=options["username"], public_key=text
            )
        except (OSError, ValueError) as problem:
            raise CommandError(str(problem)) from None
        self.stdout.write(f"added {key.fingerprint} for {options['username']}")
