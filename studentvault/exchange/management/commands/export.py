"""``studentvault export FORMAT --out DIR [--vendor NAME] --as USERNAME``: files written 0600."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from studentvault.access.console import SignInRefused, command_actor
from studentvault.exchange.exports import ExportRefused, export_oneroster, export_state


class Command(BaseCommand):
    help = "Export state files or a vendor's contract-limited OneRoster files (audited, 99.32)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("format", choices=["state-sdm", "state-ssa", "oneroster"])
        parser.add_argument("--out", type=Path, required=True)
        parser.add_argument("--vendor", default=None, help="vendor name (oneroster)")
        parser.add_argument("--as", dest="username", required=True, help="account to act as")
        parser.add_argument("--otp", default=None, help="current TOTP code (MFA accounts)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            actor = command_actor(options["username"], otp=options["otp"], channel="export")
        except SignInRefused as refused:
            raise CommandError(str(refused)) from None
        fmt = options["format"]
        try:
            if fmt == "oneroster":
                if not options["vendor"]:
                    raise CommandError("oneroster needs --vendor NAME")
                result = export_oneroster(
                    actor=actor, vendor=options["vendor"], out_dir=options["out"]
                )
            else:
                result = export_state(
                    actor=actor, kind=fmt.removeprefix("state-"), out_dir=options["out"]
                )
        except ExportRefused as refused:
            raise CommandError(str(refused)) from None
        for name, digest in result.files.items():
            self.stdout.write(f"{options['out'] / name} sha256 {digest}")
        self.stdout.write(
            f"{result.students} students; elements: {', '.join(result.elements) or 'none'}; "
            f"directory opt-outs withheld: {result.directory_opt_outs}"
        )
