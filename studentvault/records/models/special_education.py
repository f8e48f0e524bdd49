"""Special education (IDEA and state): disabilities, services received, IEPs, discipline
incidents and parent/guardian contacts.

Discipline and parent contacts are categories of their own (see core.categories) although the
policy lists them under special education: they are read by different staff.
"""

from __future__ import annotations

from studentvault.core.categories import DataCategory
from studentvault.core.elements import Sensitivity

from ..fields import Elements
from .base import Record

E = Elements(DataCategory.SPECIAL_EDUCATION, retention="special_education")
DISC = Elements(DataCategory.DISCIPLINE, retention="discipline")
CONTACT = Elements(DataCategory.PARENT_CONTACTS, retention="contacts")
R = Sensitivity.RESTRICTED


class Disability(Record):
    """A disability determined for the student under IDEA."""

    student = E.link("records.Student", "The student", related_name="disabilities")
    disability_type = E.code(
        "disability_type",
        "IDEA disability category",
        sensitivity=R,
        state_name="Primary Disability",
        edfi_name="StudentSpecialEducationProgramAssociation.Disability",
    )
    is_primary = E.flag("Whether this is the student's primary disability", sensitivity=R)


class SpecialEducationService(Record):
    """A special education or related service the student receives."""

    student = E.link("records.Student", "The student", related_name="special_education_services")
    service_type = E.code(
        "special_education_service",
        "Service received",
        sensitivity=R,
        edfi_name="SpecialEducationProgramService.SpecialEducationProgramService",
    )
    provider = E.text(
        "Who provides the service (provider name or agency)",
        sensitivity=R,
        max_length=100,
        edfi_name="SpecialEducationProgramService.ProviderName",
    )
    minutes_per_week = E.number(
        "Minutes of service per week", sensitivity=R, state_name="Service Hours per Week"
    )
    begin_date = E.date("First day of the service", sensitivity=R)
    end_date = E.date("Last day of the service", sensitivity=R, null=True)


class IndividualizedEducationProgram(Record):
    """An IEP: its begin, review and end dates and the educational setting."""

    student = E.link("records.Student", "The student", related_name="ieps")
    begin_date = E.date(
        "IEP begin date",
        sensitivity=R,
        edfi_name="StudentSpecialEducationProgramAssociation.IEPBeginDate",
    )
    review_date = E.date(
        "Date of the last IEP review",
        sensitivity=R,
        null=True,
        edfi_name="StudentSpecialEducationProgramAssociation.IEPReviewDate",
    )
    end_date = E.date(
        "IEP end date",
        sensitivity=R,
        null=True,
        edfi_name="StudentSpecialEducationProgramAssociation.IEPEndDate",
    )
    setting = E.code(
        "special_education_setting",
        "Educational environment (setting)",
        sensitivity=R,
        state_name="Setting Code",
        edfi_name="StudentSpecialEducationProgramAssociation.SpecialEducationSetting",
    )


class DisciplineIncident(Record):
    """A discipline incident the student was involved in and the action taken."""

    student = DISC.link("records.Student", "The student", related_name="discipline_incidents")
    school = DISC.link(
        "records.School", "School where the incident happened", related_name="discipline_incidents"
    )
    incident_date = DISC.date(
        "Date of the incident", sensitivity=R, edfi_name="DisciplineIncident.IncidentDate"
    )
    incident_type = DISC.code(
        "discipline_incident_type",
        "Kind of behavior",
        sensitivity=R,
        edfi_name="DisciplineIncident.Behavior",
    )
    action = DISC.code(
        "discipline_action",
        "Disciplinary action taken",
        sensitivity=R,
        edfi_name="DisciplineAction.DisciplineActionDescriptor",
    )
    days_removed = DISC.number(
        "School days removed from the regular setting",
        sensitivity=R,
        edfi_name="DisciplineAction.ActualDisciplineActionLength",
    )


class ParentContact(Record):
    """A parent or guardian the school may contact, with any restriction on contact."""

    student = CONTACT.link("records.Student", "The student", related_name="parent_contacts")
    name = CONTACT.text(
        "Full name of the parent or guardian",
        sensitivity=Sensitivity.IDENTIFYING,
        max_length=120,
        edfi_name="Parent.FirstName/LastSurname",
    )
    relationship = CONTACT.code(
        "contact_relationship",
        "Relationship to the student",
        sensitivity=Sensitivity.SENSITIVE,
        edfi_name="StudentParentAssociation.Relation",
    )
    phone = CONTACT.text(
        "Telephone number",
        sensitivity=Sensitivity.IDENTIFYING,
        max_length=30,
        blank=True,
        edfi_name="Parent.Telephone",
    )
    email = CONTACT.text(
        "Email address",
        sensitivity=Sensitivity.IDENTIFYING,
        max_length=254,
        blank=True,
        edfi_name="Parent.ElectronicMail",
    )
    address = CONTACT.text(
        "Postal address",
        sensitivity=Sensitivity.IDENTIFYING,
        max_length=250,
        blank=True,
        edfi_name="Parent.Address",
    )
    contact_restrictions = CONTACT.text(
        "Restrictions on contact or custody the school must honor",
        sensitivity=R,
        max_length=500,
        blank=True,
        edfi_name="StudentParentAssociation.ContactRestrictions",
    )
    is_primary = CONTACT.flag(
        "Whether this is the primary contact", sensitivity=Sensitivity.DIRECTORY
    )
