"""``studentvault report NAME --year Y [--rules R] [--format csv|html|json] [--out FILE]
[--publish] --as USERNAME [--otp CODE]``: run (and optionally publish) an aggregate report.

The command acts for a named staff account: the report covers exactly the students that
account may report on, and the run is audited under its name. A system actor is refused by
the access module by design, so the operator must name the account whose grants apply.
When the account needs MFA, its current TOTP code is required, as for ``import`` and
``export`` (``access.console``; docs/adr/0053).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from studentvault.access.console import SignInRefused, command_actor
from studentvault.reporting.disclosure import DisclosureNotPublishable

from ...aggregates import ReportDefinitionError
from ...outputs import FORMATS, render
from ...reports import REPORTS
from ...services import ReportDenied, report_publish, report_run


class Command(BaseCommand):
    help = "Run an aggregate report with disclosure control; optionally publish it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", choices=sorted(REPORTS))
        parser.add_argument("--year", type=int, required=True, help="school year (2027 = 2026-27)")
        parser.add_argument("--rules", default=None, help="rule set name (default: colorado)")
        parser.add_argument("--format", choices=FORMATS, default="csv")
        parser.add_argument("--out", default=None, help="file to write (default: standard output)")
        parser.add_argument("--subgroups", default=None, help="comma-separated subgroup codes")
        parser.add_argument("--publish", action="store_true", help="store it as a published report")
        parser.add_argument(
            "--as", dest="username", required=True, help="the staff account whose grants apply"
        )
        parser.add_argument("--otp", default=None, help="current TOTP code (MFA accounts)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            actor = command_actor(options["username"], otp=options["otp"], channel="report")
        except SignInRefused as refused:
            raise CommandError(str(refused)) from None
        subgroups = options["subgroups"].split(",") if options["subgroups"] else None
        try:
            result = report_run(
                actor=actor,
                name=options["name"],
                school_year=options["year"],
                rule_set=options["rules"],
                subgroups=subgroups,
                channel="console",
            )
            published = report_publish(actor=actor, result=result) if options["publish"] else None
        except ReportDenied as denied:
            raise CommandError(f"refused for {options['username']}: {denied}") from None
        except (ReportDefinitionError, DisclosureNotPublishable) as error:
            raise CommandError(str(error)) from None
        internal = not options["publish"]
        generated_at = published.generated_at.isoformat() if published else "(not published)"
        document = (
            published.publication
            if published is not None
            else result.document(internal=True, generated_at=generated_at, generated_by=actor.id)
        )
        text = render(document, options["format"], internal=internal)
        if options["out"]:
            Path(options["out"]).write_text(text, encoding="utf-8")
        else:
            self.stdout.write(text, ending="")
        summary = (
            f"{result.title} {result.school_year}: {result.cells} cells, {result.suppressed} "
            f"withheld, rule set {result.rule_set}, audit passed"
        )
        if published is not None:
            summary += f"; published as report {published.pk}"
        sys.stderr.write(summary + "\n")
