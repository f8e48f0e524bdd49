"""The import command: acts as a named account, needs its TOTP code, prints the report."""

from __future__ import annotations

from pathlib import Path

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.core.management import call_command
from django.core.management.base import CommandError
from exchange_world import make_persona

from studentvault.audit.models import AuditEntry
from studentvault.exchange.models import ImportRun
from studentvault.records.models import School
from tests.access.access_world import totp_code

pytestmark = pytest.mark.django_db


def test_import_command_needs_the_second_factor_then_imports(
    district_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    user = make_persona("alice")
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    paths = [str(district_copy / "district.csv"), str(district_copy / "schools.csv")]
    with pytest.raises(CommandError, match="TOTP code"):
        call_command("import", "district", *paths, "--as", "alice", "--no-progress")
    assert AuditEntry.objects.filter(action="access:cli:signin", outcome="failure").exists()
    code = totp_code(secret)
    call_command("import", "district", *paths, "--as", "alice", "--otp", code, "--no-progress")
    out = capsys.readouterr().out
    assert "committed" in out and "schools.csv -> School" in out
    assert ImportRun.objects.get(status="committed").actor_username == "alice"
    assert School.objects.count() > 0


def test_unknown_account_is_refused(district_copy: Path) -> None:
    with pytest.raises(CommandError, match="no active account"):
        call_command("import", "district", str(district_copy), "--as", "nobody")
