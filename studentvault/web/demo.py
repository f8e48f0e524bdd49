"""The embedded demo: a synthetic district and one account per persona.

Only `studentvault demo setup` calls this. The district is synthetic (``studentvault
generate``); the accounts are the personas of ``studentvault.access.personas``. Their
passwords and authenticator secrets are printed and kept in ``demo-accounts.txt`` (0600) in
STUDENTVAULT_HOME, so a second run can show them again; they sign into synthetic data only.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count, Q

from studentvault import audit
from studentvault.access import services as access_services
from studentvault.access.personas import PERSONAS, Persona
from studentvault.access.policy import current_school_year, mfa_required_for_user
from studentvault.core.actors import Actor
from studentvault.core.categories import DataCategory
from studentvault.people import services as people_services
from studentvault.records.district_files import load_district
from studentvault.records.models import District, ProgramParticipation, School, Section, Student

CREDENTIALS_FILE = "demo-accounts.txt"


def ensure_district(
    *, actor: Actor, folder: Path, students: int, seed: int, stdout: IO[str] | Any
) -> str:
    """Generate and load the demo district unless a district is already loaded."""
    if District.objects.exists():
        return f"District already loaded ({Student.objects.count()} students): kept as it is."
    if not (folder / "manifest.json").exists():
        call_command("generate", students=students, seed=seed, out=str(folder), stdout=stdout)
    report = load_district(folder)
    audit.record(
        actor=actor,
        action="records:district:load",
        details={"students": report.students, "files": len(report.rows)},
    )
    return f"Loaded the synthetic district: {report.students} students."


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    scope: str
    password: str
    totp_secret: str


def _scope_rows() -> tuple[dict[str, int], dict[str, str], list[int]]:
    """Pick the demo's school A, school B, section A1 and caseload from the loaded district."""
    year = current_school_year()
    school_a = (
        School.objects.annotate(n=Count("sections", filter=Q(sections__school_year=year)))
        .order_by("-n", "state_code")
        .first()
    )
    if school_a is None:
        raise RuntimeError("the demo district has no school")
    school_b = (
        School.objects.exclude(pk=school_a.pk)
        .annotate(n=Count("enrollments", filter=Q(enrollments__school_year=year)))
        .order_by("-n", "state_code")
        .first()
    ) or school_a
    section = (
        Section.objects.filter(school=school_a, school_year=year)
        .annotate(n=Count("roster"))
        .order_by("-n", "pk")
        .first()
    )
    caseload = list(
        ProgramParticipation.objects.filter(
            program="special_education", student__enrollments__school_year=year
        )
        .order_by("student_id")
        .values_list("student_id", flat=True)
        .distinct()[:20]
    )
    scope_ids = {"school_a": school_a.pk, "school_b": school_b.pk}
    if section is not None:
        scope_ids["section_a1"] = section.pk
    return scope_ids, {"school_a": school_a.state_code, "school_b": school_b.state_code}, caseload


def _demo_contract(actor: Actor, school_code: str) -> Any:
    vendor = people_services.vendor_create(
        actor=actor, name="Demo Assessment Platform", designation="contract_provider"
    )
    today = dt.date.today()
    return people_services.contract_create(
        actor=actor,
        vendor=vendor,
        title="Interim assessment platform (demo)",
        starts_on=today - dt.timedelta(days=30),
        ends_on=today + dt.timedelta(days=335),
        signed_on=today - dt.timedelta(days=31),
        privacy_obligations_signed=True,
        sdtsa_clauses_attested=True,
        categories=[
            DataCategory.DEMOGRAPHICS.value,
            DataCategory.ENROLLMENT.value,
            DataCategory.ASSESSMENTS.value,
        ],
        schools=[school_code],
        purposes=["Interim assessments and score reports for teachers"],
        destruction_terms="Destroy all student data within 30 days of the contract's end",
    )


def _activate_totp(user: Any) -> str:
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    RecoveryCodes.activate(user)
    return str(secret)


def _credentials_path() -> Path:
    return Path(settings.STUDENTVAULT_HOME) / CREDENTIALS_FILE


def _read_saved() -> dict[str, DemoAccount]:
    path = _credentials_path()
    if not path.exists():
        return {}
    saved = {}
    for line in path.read_text().splitlines():
        username, role, scope, password, secret = line.split("\t")
        saved[username] = DemoAccount(username, role, scope, password, secret)
    return saved


def _save(accounts: list[DemoAccount]) -> None:
    path = _credentials_path()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        for a in accounts:
            handle.write("\t".join([a.username, a.role, a.scope, a.password, a.totp_secret]) + "\n")


def _scope_text(persona: Persona, codes: dict[str, str]) -> str:
    if persona.scope_ref in codes:
        return f"school {codes[persona.scope_ref]}"
    return persona.scope_ref.replace("_", " ")


# Random passwords drawn for a demo account before one passes the password validators.
_PASSWORD_DRAWS = 20


def _demo_password(persona: Persona) -> str:
    """A random password the password validators accept for ``persona``.

    A random one is refused now and then: 20 characters can share enough letters with a school's
    name for the similarity check (SequenceMatcher.quick_ratio, as Django's own) to call them
    similar. Then another is drawn.
    """
    probe = get_user_model()(
        username=persona.username,
        email=persona.email,
        first_name=persona.first_name,
        last_name=persona.last_name,
    )
    for _ in range(_PASSWORD_DRAWS):
        password = secrets.token_urlsafe(15)
        try:
            validate_password(password, probe)
        except ValidationError:
            continue
        return password
    raise RuntimeError(f"no random password passed the validators in {_PASSWORD_DRAWS} draws")


@transaction.atomic
def ensure_accounts(*, actor: Actor) -> list[DemoAccount]:
    """One account per persona; existing accounts are kept as they are (all or none created)."""
    saved = _read_saved()
    scope_ids, codes, caseload = _scope_rows()
    contract = None
    accounts = []
    for persona in PERSONAS:
        if get_user_model().objects.filter(username=persona.username).exists():
            if persona.username in saved:
                accounts.append(saved[persona.username])
            continue
        if persona.scope_ref == "contract" and contract is None:
            contract = _demo_contract(actor, codes["school_a"])
        password = _demo_password(persona)
        user = access_services.persona_create(
            actor=actor,
            persona=persona,
            password=password,
            scope_ids=scope_ids,
            school_codes=codes,
            caseload=caseload if persona.scope_ref == "caseload" else (),
            contract=contract if persona.scope_ref == "contract" else None,
        )
        secret = _activate_totp(user) if mfa_required_for_user(user) else ""
        accounts.append(
            DemoAccount(
                persona.username, persona.role, _scope_text(persona, codes), password, secret
            )
        )
    _save(accounts)
    return accounts


def describe_accounts(accounts: list[DemoAccount]) -> list[str]:
    """Lines telling how to sign in as each persona."""
    lines = []
    for a in accounts:
        line = f"{a.username:<6} {a.role:<32} {a.scope:<14} password {a.password}"
        if a.totp_secret:
            line += f"  TOTP secret {a.totp_secret} (add it to an authenticator app)"
        lines.append(line)
    lines.append(f"(kept in {_credentials_path()}, readable only by you)")
    return lines
