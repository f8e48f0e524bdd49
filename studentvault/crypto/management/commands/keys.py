"""`studentvault keys status|rotate|init`: inspect and rotate the per-category data keys."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from studentvault.core.actors import Actor
from studentvault.crypto.kek import current_kek
from studentvault.crypto.keysets import ensure_keysets
from studentvault.crypto.models import RotationJob
from studentvault.crypto.rotation import check_category, keys_status, rotate


class Command(BaseCommand):
    help = "Show the data keys of every category, create missing keysets, or rotate a key."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("status", help="primary key, key ids and stored values per key id")
        sub.add_parser("init", help="create the keyset of every category that has none")
        rotate_parser = sub.add_parser(
            "rotate", help="new primary key, re-encrypt every value, retire the old keys"
        )
        rotate_parser.add_argument("--category", required=True)
        rotate_parser.add_argument("--batch-size", type=int, default=500)
        rotate_parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        actor = Actor.system(f"keys-{action}")
        if action == "init":
            created = ensure_keysets(actor=actor)
            self.stdout.write(f"created keysets: {', '.join(created) or 'none (all exist)'}")
        elif action == "status":
            self.stdout.write(f"master key (KEK): {current_kek().key_id}")
            for status in keys_status():
                if not status.created:
                    self.stdout.write(f"{status.category}: no keyset yet (created on first use)")
                    continue
                usage = ", ".join(
                    f"{'plain' if key is None else key}: {n}"
                    for key, n in sorted(status.rows_per_key.items(), key=lambda kv: str(kv[0]))
                )
                running = " [rotation running]" if status.rotation_running else ""
                self.stdout.write(
                    f"{status.category}: primary {status.primary_key_id}; keys "
                    f"{list(status.key_ids)}; values per key {{{usage}}}{running}"
                )
        else:
            try:
                category = check_category(options["category"])
            except ValueError as error:
                raise CommandError(str(error)) from None
            if options["batch_size"] < 1:
                raise CommandError("--batch-size must be at least 1")
            resuming = RotationJob.objects.filter(
                category=category, state=RotationJob.State.RUNNING
            ).exists()
            if resuming:
                self.stdout.write(f"resuming the unfinished rotation of {category}")
            bar = tqdm(unit="rows", desc=f"rotate {category}", disable=options["no_progress"])

            def total(n: int) -> None:
                bar.total = n
                bar.refresh()

            def batch(job: RotationJob, walked: int) -> None:
                bar.update(walked)

            try:
                job = rotate(
                    category,
                    actor=actor,
                    batch_size=options["batch_size"],
                    on_batch=batch,
                    on_total=total,
                )
            finally:
                bar.close()
            self.stdout.write(
                f"rotated {category}: new primary key {job.new_key_id}, "
                f"{job.rows_reencrypted} values re-encrypted in {job.batches} batches, "
                f"retired keys {job.old_key_ids}"
            )
