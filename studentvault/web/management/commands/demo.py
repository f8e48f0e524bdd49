"""`studentvault demo setup`: an embedded demo instance in STUDENTVAULT_HOME.

Migrates, creates keys, generates and loads a synthetic district, creates one demo account per
persona and prints how to sign in. Running it again reuses what exists: an existing district is
kept, existing accounts keep their passwords and MFA secrets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from studentvault.core.actors import Actor
from studentvault.web import demo


class Command(BaseCommand):
    help = "Prepare (or reuse) an embedded demo district with one account per persona."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        setup = sub.add_parser("setup", help=self.help)
        setup.add_argument("--students", type=int, default=2000)
        setup.add_argument("--seed", type=int, default=2026)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] != "setup":
            raise CommandError(f"unknown action {options['action']!r}")
        if options["students"] < 50:
            raise CommandError("--students must be at least 50 for a district of several schools")
        home = Path(settings.STUDENTVAULT_HOME)
        self.stdout.write(f"StudentVault home: {home}")
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database migrated.")
        actor = Actor.system("demo-setup")
        loaded = demo.ensure_district(
            actor=actor,
            folder=home / f"demo-district-{options['seed']}-{options['students']}",
            students=options["students"],
            seed=options["seed"],
            stdout=self.stdout,
        )
        self.stdout.write(loaded)
        accounts = demo.ensure_accounts(actor=actor)
        self.stdout.write("")
        self.stdout.write("Demo accounts (they sign into the synthetic district only):")
        for line in demo.describe_accounts(accounts):
            self.stdout.write(f"  {line}")
