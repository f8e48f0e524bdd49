"""``studentvault audit verify | checkpoint | report | alerts | grant-sql``.

verify     recompute the chain, check it against every signed checkpoint; exit 1 naming the
           first bad entry and the kind of tampering; on success, write a fresh checkpoint.
checkpoint sign the current head and append it to the checkpoint file (run it from a scheduler
           every few minutes).
report     --student ID | --actor ID, optional --since/--until/--action/--category, printed one
           entry per line (escaped) or written as formula-safe CSV with --csv FILE.
alerts     run the monitoring rules over entries from --from SEQ (safe to repeat).
grant-sql  print the PostgreSQL statements that leave an application role INSERT and SELECT
           only on the audit tables.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import QuerySet
from django.utils import timezone

from studentvault.core.actors import Actor
from studentvault.core.categories import DataCategory

from ...alerts import evaluate_rules
from ...checkpoints import CheckpointError, write_checkpoint
from ...display import printable
from ...models import AuditEntry
from ...postgres import grant_sql
from ...reports import entries_for_actor, entries_for_student, format_line, write_csv
from ...verify import verify_log
from ...writer import record


def _when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date or time like 2025-09-01 or 2025-09-01T08:00"
        ) from None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _category(text: str) -> DataCategory:
    try:
        return DataCategory(text)
    except ValueError:
        choices = ", ".join(c.value for c in DataCategory)
        raise argparse.ArgumentTypeError(f"{text!r} is not a data category ({choices})") from None


class Command(BaseCommand):
    help = "Verify, checkpoint and report on the tamper-evident audit log."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        verify = sub.add_parser("verify", help="recompute the chain and check the checkpoints")
        verify.add_argument(
            "--no-checkpoint", action="store_true", help="do not write a checkpoint on success"
        )
        sub.add_parser("checkpoint", help="sign the chain head and append it to the file")
        report = sub.add_parser("report", help="who accessed a student / what a person accessed")
        who = report.add_mutually_exclusive_group(required=True)
        who.add_argument("--student", type=int, help="student primary key")
        who.add_argument("--actor", help='actor id, e.g. "user:17"')
        report.add_argument("--since", type=_when)
        report.add_argument("--until", type=_when)
        report.add_argument("--action", help='exact action, or a prefix ending in ":"')
        report.add_argument("--category", type=_category)
        report.add_argument("--csv", dest="csv_file", help="write CSV to this file ('-': stdout)")
        alerts = sub.add_parser("alerts", help="run the monitoring rules over recent entries")
        alerts.add_argument("--from", dest="from_seq", type=int, required=True)
        grant = sub.add_parser("grant-sql", help="SQL for the application role (PostgreSQL)")
        grant.add_argument("--role", required=True, help="the application's database role")

    def handle(self, *args: Any, **options: Any) -> None:
        subcommand = options["subcommand"]
        if subcommand == "verify":
            self._verify(write=not options["no_checkpoint"])
        elif subcommand == "checkpoint":
            checkpoint = write_checkpoint()
            self.stdout.write(
                f"checkpoint written: size {checkpoint.size}, head {checkpoint.head}, "
                f"key {checkpoint.key_id}"
            )
        elif subcommand == "report":
            self._report(options)
        elif subcommand == "alerts":
            raised = 0
            for seq in AuditEntry.objects.filter(seq__gte=options["from_seq"]).values_list(
                "seq", flat=True
            ):
                raised += len(evaluate_rules(seq))
            self.stdout.write(f"{raised} alert(s) raised")
        elif subcommand == "grant-sql":
            self.stdout.write(grant_sql(options["role"]))

    def _verify(self, *, write: bool) -> None:
        try:
            report = verify_log()
        except CheckpointError as error:
            raise CommandError(f"audit verify: {error}") from None
        if not report.ok:
            for finding in report.findings:
                where = f"entry {finding.seq}" if finding.seq is not None else "checkpoints"
                self.stderr.write(f"TAMPERED [{finding.kind}] at {where}: {finding.message}")
            first = report.findings[0]
            raise CommandError(
                f"audit log verification FAILED: first problem {first.kind} at "
                f"{'entry ' + str(first.seq) if first.seq is not None else 'checkpoints'}",
                returncode=1,
            )
        latest = report.latest_checkpoint
        against = (
            f"matches signed checkpoint of {latest.timestamp} (size {latest.size})"
            if latest
            else "no checkpoint existed yet"
        )
        self.stdout.write(f"audit log OK: {report.entries} entries, head {report.head}, {against}")
        if write:
            checkpoint = write_checkpoint()
            self.stdout.write(f"checkpoint written: size {checkpoint.size}")

    def _report(self, options: dict[str, Any]) -> None:
        filters = {
            "since": options["since"],
            "until": options["until"],
            "action": options["action"],
            "category": options["category"],
        }
        entries: QuerySet[AuditEntry]
        reader = Actor.system("audit-report")
        if options["student"] is not None:
            entries = entries_for_student(options["student"], **filters)
            record(
                actor=reader,
                action="audit:report:read",
                students=[options["student"]],
                purpose="access report",
            )
        else:
            entries = entries_for_actor(options["actor"], **filters)
            record(
                actor=reader,
                action="audit:report:read",
                target=f"actor:{options['actor']}",
                purpose="access report",
            )
        csv_file = options["csv_file"]
        if csv_file == "-":
            count = write_csv(entries.iterator(), sys.stdout)
        elif csv_file:
            with open(csv_file, "w", newline="", encoding="utf-8") as handle:
                count = write_csv(entries.iterator(), handle)
            self.stdout.write(f"{count} entries written to {printable(csv_file)}")
        else:
            count = 0
            for entry in entries.iterator():
                self.stdout.write(format_line(entry))
                count += 1
            self.stdout.write(f"{count} entries")
