"""A small synthetic district and the persona cast, for the access and people tests.

Everything here is invented: two schools, one section, a few students with made-up names.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.conf import LazySettings
from django.utils import timezone

from studentvault.access.personas import PERSONAS
from studentvault.access.policy import current_school_year
from studentvault.access.services import persona_create
from studentvault.core.actors import Actor, ActorKind
from studentvault.core.events import security_event
from studentvault.people import services as people_services
from studentvault.people.models import Contract

SYSTEM = Actor.system("tests")
PASSWORD = "Qv7#mLx2-Rt9!pWz"  # synthetic, not in any breached list


@dataclass
class World:
    district: Any
    school_a: Any
    school_b: Any
    section_a1: Any
    students: dict[str, Any] = field(default_factory=dict)
    users: dict[str, Any] = field(default_factory=dict)
    contract: Contract | None = None


# allauth's TOTP period; the server accepts the current period's code only (MFA_TOTP_TOLERANCE
# is left at its default, 0).
TOTP_PERIOD = 30
# A code is made only when at least this many seconds of its period are left, so that the step
# that presents it (a command's start, a browser's fill and click) does so in the same period.
TOTP_MARGIN = 5.0


def totp_code(secret: str) -> str:
    """The current TOTP code of ``secret``, made early enough in its period to be accepted.

    Without the wait a code made in a period's last moments expired, now and then, before the
    server checked it, and the test failed for nothing it tests.
    """
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    left = TOTP_PERIOD - time.time() % TOTP_PERIOD
    if left < TOTP_MARGIN:
        time.sleep(left + 0.1)
    return format_hotp_value(hotp_value(secret, int(time.time()) // TOTP_PERIOD))


def _student(district: Any, n: int) -> Any:
    from studentvault.records.models import Student

    return Student.objects.create(
        district=district,
        sasid=f"{1000000000 + n}",
        local_id=f"L{n}",
        first_name=f"Synthetic{n}",
        last_name="Student",
        birth_date=dt.date(2012, 1, 1 + n),
        gender="F" if n % 2 else "M",
        federal_race_ethnicity="05",
        language_background="eng",
    )


def build_world() -> World:
    from studentvault.records.models import (
        Course,
        District,
        Enrollment,
        School,
        Section,
        SectionEnrollment,
    )

    year = current_school_year()
    district = District.objects.create(state_code="9999", name="Synthetic Valley")
    school_a = School.objects.create(
        district=district,
        state_code="0001",
        name="Aspen Elementary",
        level="E",
        low_grade="000",
        high_grade="050",
    )
    school_b = School.objects.create(
        district=district,
        state_code="0002",
        name="Birch Middle",
        level="M",
        low_grade="060",
        high_grade="080",
    )
    course = Course.objects.create(
        district=district, code="MATH5", title="Math 5", subject="02", credits=1
    )
    section = Section.objects.create(
        course=course,
        school=school_a,
        school_year=year,
        section_code="A1",
        educator_edid="12345678",
    )
    world = World(district, school_a, school_b, section)
    # s_roster: school A, on section A1; s_a: school A only; s_case: school A, on erin's
    # caseload; s_b: school B; s_old: enrolled at school A last year only.
    for n, name in enumerate(["s_roster", "s_a", "s_case", "s_b", "s_old"]):
        world.students[name] = _student(district, n)
    entry = dt.date(year - 1, 8, 20)
    for name in ("s_roster", "s_a", "s_case"):
        Enrollment.objects.create(
            student=world.students[name],
            school=school_a,
            school_year=year,
            grade_level="050",
            entry_date=entry,
            entry_type="01",
        )
    Enrollment.objects.create(
        student=world.students["s_b"],
        school=school_b,
        school_year=year,
        grade_level="070",
        entry_date=entry,
        entry_type="01",
    )
    Enrollment.objects.create(
        student=world.students["s_old"],
        school=school_a,
        school_year=year - 1,
        grade_level="040",
        entry_date=dt.date(year - 2, 8, 20),
        entry_type="01",
    )
    SectionEnrollment.objects.create(
        section=section, student=world.students["s_roster"], begin_date=entry
    )
    vendor = people_services.vendor_create(
        actor=SYSTEM, name="Synthetic Assessments Inc", designation="contract_provider"
    )
    today = timezone.localdate()
    world.contract = people_services.contract_create(
        actor=SYSTEM,
        vendor=vendor,
        title="Assessment platform",
        starts_on=today - dt.timedelta(days=30),
        ends_on=today + dt.timedelta(days=300),
        signed_on=today - dt.timedelta(days=31),
        privacy_obligations_signed=True,
        sdtsa_clauses_attested=True,
        categories=["demographics", "assessments"],
        schools=["0001"],
        purposes=["Deliver interim assessments"],
        fields=["student.first_name", "student.last_name", "assessmentresult.scale_score"],
    )
    scope_ids = {"school_a": school_a.pk, "school_b": school_b.pk, "section_a1": section.pk}
    codes = {"school_a": "0001", "school_b": "0002"}
    for persona in PERSONAS:
        world.users[persona.username] = persona_create(
            actor=SYSTEM,
            persona=persona,
            password=PASSWORD,
            scope_ids=scope_ids,
            school_codes=codes,
            caseload=[world.students["s_case"].pk],
            contract=world.contract if persona.role == "vendor" else None,
        )
    return world


@pytest.fixture
def fast_hashing(settings: LazySettings) -> None:
    """Argon2 is slow by design; most tests only need a correct hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db: None, fast_hashing: None) -> World:
    return build_world()


def staff_actor(user: Any, *, mfa: bool = True) -> Actor:
    return Actor(
        kind=ActorKind.STAFF,
        id=f"user:{user.pk}",
        username=user.username,
        role=user.staff_profile.role,
        extra={"mfa": "verified"} if mfa else {},
    )


@pytest.fixture
def audit_events() -> Iterator[list[dict[str, Any]]]:
    """Every audit entry written during the test (through the people.auditing seam)."""
    seen: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        seen.append(
            {
                "action": kwargs["action"],
                "outcome": kwargs["outcome"],
                "actor": kwargs["actor"],
                **kwargs["details"],
            }
        )

    security_event.connect(receiver, dispatch_uid="tests.access.audit_events")
    yield seen
    security_event.disconnect(dispatch_uid="tests.access.audit_events")


def sign_in(client: Any, user: Any, *, mfa: bool = True) -> None:
    """Sign ``user`` in on the test client; with ``mfa``, as allauth records a passed TOTP."""
    import time

    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    if mfa:
        session = client.session
        session["account_authentication_methods"] = [
            {"method": "password", "at": time.time()},
            {"method": "mfa", "at": time.time(), "type": "totp"},
        ]
        session["account_authentication_methods_user"] = str(user.pk)
        session.save()


def all_routes() -> list[tuple[str, Any, str | None, list[str]]]:
    """Every URL pattern of config.urls: (pattern text, view, url name, namespaces)."""
    from django.urls import URLResolver, get_resolver

    out: list[tuple[str, Any, str | None, list[str]]] = []

    def walk(resolver: Any, prefix: str, namespaces: list[str]) -> None:
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                more = [pattern.namespace] if pattern.namespace else []
                walk(pattern, prefix + str(pattern.pattern), namespaces + more)
            else:
                out.append(
                    (prefix + str(pattern.pattern), pattern.callback, pattern.name, namespaces)
                )

    walk(get_resolver(), "", [])
    return out
