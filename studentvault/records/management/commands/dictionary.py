"""`studentvault dictionary --format md|csv|json`: print the public data dictionary."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from studentvault.records import dictionary


class Command(BaseCommand):
    help = "Print the data dictionary generated from the student data model's field metadata."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["md", "csv", "json"], default="md")

    def handle(self, *args: Any, **options: Any) -> None:
        missing = dictionary.missing_metadata()
        if missing:
            raise CommandError("fields without metadata: " + ", ".join(missing))
        render = {
            "md": dictionary.as_markdown,
            "csv": dictionary.as_csv,
            "json": dictionary.as_json,
        }
        self.stdout.write(render[options["format"]](), ending="")
