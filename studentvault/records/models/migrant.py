"""Migrant education: certificates of eligibility and services received."""

from __future__ import annotations

from studentvault.core.categories import DataCategory
from studentvault.core.elements import Sensitivity

from ..fields import Elements
from .base import Record

E = Elements(DataCategory.MIGRANT, retention="migrant_records")
S = Sensitivity.SENSITIVE


class MigrantEligibility(Record):
    """A certificate of eligibility (COE) for the migrant education program."""

    student = E.link("records.Student", "The student", related_name="migrant_eligibilities")
    signature_date = E.date("Date the certificate of eligibility was signed", sensitivity=S)
    qualifying_arrival_date = E.date(
        "Qualifying arrival date",
        sensitivity=S,
        edfi_name="StudentMigrantEducationProgramAssociation.QualifyingArrivalDate",
    )
    qualifying_move = E.code(
        "migrant_qualifying_move",
        "Kind of qualifying move",
        sensitivity=S,
        edfi_name="StudentMigrantEducationProgramAssociation.LastQualifyingMove",
    )
    eligibility_expires = E.date(
        "Date the eligibility expires",
        sensitivity=S,
        edfi_name="StudentMigrantEducationProgramAssociation.EligibilityExpirationDate",
    )


class MigrantService(Record):
    """A migrant education service the student received."""

    student = E.link("records.Student", "The student", related_name="migrant_services")
    service_type = E.code(
        "migrant_service",
        "Service received",
        sensitivity=S,
        edfi_name="StudentMigrantEducationProgramAssociation.MigrantEducationProgramService",
    )
    begin_date = E.date("First day of the service", sensitivity=S)
    end_date = E.date("Last day of the service", sensitivity=S, null=True)
