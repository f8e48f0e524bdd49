"""``studentvault access matrix [--format md|json]``: the permission matrix."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from studentvault.access.matrix import matrix, render


class Command(BaseCommand):
    help = "Access tools. matrix: route x role x category -> allow/deny, from the enforced rules."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="tool", required=True)
        m = sub.add_parser("matrix", help="print the permission matrix")
        m.add_argument("--format", choices=["md", "json"], default="md")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["tool"] == "matrix":
            self.stdout.write(render(matrix(), options["format"]))
