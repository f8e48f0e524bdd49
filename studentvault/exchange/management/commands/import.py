"""``studentvault import FORMAT PATH... [--dry-run] --as USERNAME``, with a progress bar."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from studentvault.access.console import SignInRefused, command_actor
from studentvault.exchange.formats import registry
from studentvault.exchange.jobs import start_import
from studentvault.exchange.models import ImportRun
from studentvault.exchange.services import report_text


class Command(BaseCommand):
    help = "Import files (all or nothing) as a named account; --dry-run previews the changes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("format", choices=sorted(registry()))
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--as", dest="username", required=True, help="account to act as")
        parser.add_argument("--otp", default=None, help="current TOTP code (MFA accounts)")
        parser.add_argument("--dry-run", action="store_true", help="preview; store nothing")
        parser.add_argument("--mapping", default=None, help="saved custom column mapping")
        parser.add_argument("--report-json", type=Path, default=None)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            actor = command_actor(options["username"], otp=options["otp"], channel="import")
        except SignInRefused as refused:
            raise CommandError(str(refused)) from None
        # No monitor thread: a first load forks its worker processes only from a process of one
        # thread (exchange.workers).
        tqdm.monitor_interval = 0
        bar = tqdm(unit=" rows", disable=options["no_progress"], file=sys.stderr, leave=True)

        def progress(name: str, rows: int) -> None:
            bar.set_description(name[:40])
            bar.update(rows)

        run = start_import(
            actor=actor,
            format_name=options["format"],
            paths=options["paths"],
            dry_run=options["dry_run"],
            mapping=options["mapping"],
            progress=progress,
        )
        bar.close()
        self.stdout.write(report_text(run))
        if options["report_json"]:
            options["report_json"].write_text(json.dumps(run.report, indent=1, default=str))
        if run.status == ImportRun.Status.REJECTED:
            raise CommandError(f"import #{run.pk} rejected: nothing was stored")
