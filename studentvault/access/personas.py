"""The fixed cast of personas: one account per persona in the demo and in tests.

Data, not test code: ``studentvault demo setup`` and the test suite both build accounts from
``PERSONAS`` through :func:`studentvault.access.services.persona_create`. A persona names its
scope symbolically ("school_a", "section_a1", "caseload"); the caller maps symbols to rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from studentvault.people.roles import ScopeKind


@dataclass(frozen=True)
class Persona:
    """One member of the cast."""

    username: str
    first_name: str
    last_name: str
    role: str
    scope_kind: ScopeKind
    # "school_a" | "school_b" | "section_a1" | "caseload" | "district" | "contract"
    scope_ref: str
    school_codes: tuple[str, ...] = ()
    purpose: str = ""

    @property
    def email(self) -> str:
        return f"{self.username}@example.org"


PERSONAS: tuple[Persona, ...] = (
    Persona(
        "alice",
        "Alice",
        "Archer",
        "district_data_steward",
        ScopeKind.DISTRICT,
        "district",
        purpose="District data stewardship: state reporting, data quality, access management",
    ),
    Persona(
        "bob",
        "Bob",
        "Baker",
        "principal",
        ScopeKind.SCHOOL,
        "school_a",
        ("school_a",),
        purpose="Principal of school A: oversight of the school's students",
    ),
    Persona(
        "carol",
        "Carol",
        "Chen",
        "teacher",
        ScopeKind.SECTION_ROSTER,
        "section_a1",
        ("school_a",),
        purpose="Teacher of section A1: instruction of the students on it",
    ),
    Persona(
        "dave",
        "Dave",
        "Diaz",
        "counselor",
        ScopeKind.SCHOOL,
        "school_a",
        ("school_a",),
        purpose="School counselor at school A: scheduling, graduation planning",
    ),
    Persona(
        "erin",
        "Erin",
        "Evans",
        "special_education_case_manager",
        ScopeKind.CASELOAD,
        "caseload",
        ("school_a",),
        purpose="Case manager for the IEPs of her caseload",
    ),
    Persona(
        "frank",
        "Frank",
        "Fischer",
        "el_coordinator",
        ScopeKind.SCHOOL,
        "school_b",
        ("school_b",),
        purpose="English learner coordinator at school B",
    ),
    Persona(
        "vera",
        "Vera",
        "Vance",
        "vendor",
        ScopeKind.CONTRACT,
        "contract",
        purpose="Vendor engineer supporting the assessment platform under contract",
    ),
)

PERSONAS_BY_NAME: dict[str, Persona] = {p.username: p for p in PERSONAS}
