"""Backup and restore: everything comes back, nothing readable inside, tampering refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from crypto_world import pii_needles, synthetic_district, synthetic_students
from django.apps import apps
from django.core.management import CommandError, call_command

from studentvault.core.actors import Actor
from studentvault.crypto.backup import create_backup, restore_backup
from studentvault.crypto.blind_index import index_for
from studentvault.crypto.errors import BackupError
from studentvault.crypto.keysets import clear_caches
from studentvault.records.models import Student

ACTOR = Actor.system("test-backup")


def record_snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every records row, decrypted, with its primary key."""
    snapshot = {}
    for model in apps.get_app_config("records").get_models():
        names = [f.attname for f in model._meta.concrete_fields]
        snapshot[model._meta.label] = sorted(
            (tuple(getattr(obj, n) for n in names) for obj in model.objects.all()),
            key=lambda row: row[0],
        )
    return snapshot


def empty_the_instance() -> None:
    call_command("flush", interactive=False, verbosity=0)
    clear_caches()


@pytest.mark.django_db(transaction=True)
def test_backup_restores_every_record_into_an_empty_instance(
    tmp_path: Path, security_events: list[dict[str, Any]]
) -> None:
    district = synthetic_district(8)
    before = record_snapshot()
    assert sum(len(rows) for rows in before.values()) > 50
    out = tmp_path / "district.svbk"
    call_command("backup", "--out", str(out))
    data = out.read_bytes()
    # Nothing readable inside: no PII, not even directory values.
    lowered = data.lower()
    assert [n for n in pii_needles(district) if n.lower().encode() in lowered] == []
    assert district["school_name"].lower().encode() not in lowered

    empty_the_instance()
    assert not Student.objects.exists()
    call_command("restore", str(out))
    assert record_snapshot() == before
    target = district["students"][3]
    assert Student.objects.get(sasid_index=index_for("sasid", target.sasid)).pk == target.pk
    # A new row after restore gets a fresh primary key (sequences were reset).
    (newcomer,) = synthetic_students(1, district=target.district, start=500)
    newcomer.save()
    assert newcomer.pk > max(s.pk for s in district["students"])
    actions = [e["action"] for e in security_events]
    assert "crypto:backup:create" in actions and "crypto:backup:restore" in actions


@pytest.mark.django_db(transaction=True)
def test_tampered_truncated_or_extended_backups_are_refused(tmp_path: Path) -> None:
    synthetic_district(3)
    out = tmp_path / "b.svbk"
    create_backup(out, actor=ACTOR)
    data = out.read_bytes()
    empty_the_instance()
    variants = {
        "flipped": data[:-40] + bytes([data[-40] ^ 1]) + data[-39:],
        "truncated": data[:-7],
        "no last chunk": data[: data.index(b"}", 10) + 1],
        "appended": data + data[-30:],
        "header": data.replace(b'"format": 1', b'"format": 2'),
        "header kek": data.replace(b'"kek_id": "file:', b'"kek_id": "file:0'),
    }
    for name, bad in variants.items():
        path = tmp_path / f"{name}.svbk"
        path.write_bytes(bad)
        with pytest.raises(BackupError):
            restore_backup(path, actor=ACTOR)
        assert not Student.objects.exists(), name  # nothing half-written
    restore_backup(out, actor=ACTOR)
    assert Student.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_a_non_empty_instance_and_backup_refuses_to_overwrite(
    tmp_path: Path,
) -> None:
    synthetic_district(2)
    out = tmp_path / "b.svbk"
    create_backup(out, actor=ACTOR)
    with pytest.raises(CommandError, match="not empty"):
        call_command("restore", str(out))
    with pytest.raises(CommandError, match="already exists"):
        call_command("backup", "--out", str(out))


@pytest.mark.django_db(transaction=True)
def test_restore_needs_the_same_master_key(tmp_path: Path, settings: Any) -> None:
    synthetic_district(1)
    out = tmp_path / "b.svbk"
    create_backup(out, actor=ACTOR)
    empty_the_instance()
    settings.STUDENTVAULT_HOME = tmp_path / "another-home"
    with pytest.raises(BackupError, match="same master key"):
        restore_backup(out, actor=ACTOR)
