"""The student: identity, demographics and directory-information choices.

Identity (SASID, local ID, names, birth date) is what singles a student out; it is stored
encrypted and found only through blind indexes. Coded demographics used to count students in
reports (gender, race/ethnicity) stay plain, without identity beside them (docs/adr).
"""

from __future__ import annotations

from django.db import models

from studentvault.core.categories import DataCategory
from studentvault.core.elements import Sensitivity
from studentvault.crypto.blind_index import BlindIndexField

from ..codes import code_set
from ..fields import Elements
from .base import Record

D = Elements(DataCategory.DEMOGRAPHICS, retention="permanent")
ID = Elements(DataCategory.ENROLLMENT, retention="permanent")
COUNTING = "a coded reporting dimension counted in state and federal reports; holds no identity"

RACE_FLAGS = (
    "american_indian_alaska_native",
    "asian",
    "black_african_american",
    "white",
    "native_hawaiian_pacific_islander",
)


def federal_race_ethnicity(*, hispanic_latino: bool, races: dict[str, bool]) -> str:
    """The federal race/ethnicity reporting category (codes 01-07) from the flags.

    Hispanic or Latino wins over any race; two or more races give 07; no flag at all is an
    error, because the state requires at least one.
    """
    codes = code_set("federal_race_ethnicity").codes
    by_label = {c.label: c.code for c in codes}
    if hispanic_latino:
        return by_label["Hispanic or Latino"]
    chosen = [name for name in RACE_FLAGS if races.get(name)]
    if len(chosen) > 1:
        return by_label["Two or More Races"]
    if not chosen:
        raise ValueError("at least one race flag or the Hispanic/Latino flag must be set")
    return {
        "american_indian_alaska_native": by_label["American Indian or Alaska Native"],
        "asian": by_label["Asian"],
        "black_african_american": by_label["Black or African American"],
        "white": by_label["White"],
        "native_hawaiian_pacific_islander": by_label["Native Hawaiian or Other Pacific Islander"],
    }[chosen[0]]


class Student(Record):
    """A student of the district, keyed by the state-assigned student identifier (SASID)."""

    district = ID.link(
        "records.District", "The district that holds the student's record", related_name="students"
    )
    sasid = ID.text(
        "State Assigned Student Identifier: ten digits from the state's RITS system",
        sensitivity=Sensitivity.IDENTIFYING,
        max_length=10,
        state_name="SASID",
        edfi_name="Student.StudentUniqueId",
    )
    local_id = ID.text(
        "Student number the district assigns (LASID)",
        sensitivity=Sensitivity.IDENTIFYING,
        max_length=20,
        state_name="LASID",
        edfi_name="StudentEducationOrganizationAssociation.StudentIdentificationCode",
    )
    first_name = D.text(
        "Legal first name",
        sensitivity=Sensitivity.IDENTIFYING,
        max_length=60,
        state_name="First Name",
        edfi_name="Student.FirstName",
    )
    middle_name = D.text(
        "Legal middle name",
        sensitivity=Sensitivity.IDENTIFYING,
        max_length=60,
        blank=True,
        state_name="Middle Name",
        edfi_name="Student.MiddleName",
    )
    last_name = D.text(
        "Legal last name",
        sensitivity=Sensitivity.IDENTIFYING,
        max_length=60,
        state_name="Last Name",
        edfi_name="Student.LastSurname",
    )
    preferred_name = D.text(
        "First name the student prefers to be called",
        sensitivity=Sensitivity.IDENTIFYING,
        max_length=60,
        blank=True,
        edfi_name="Student.PreferredFirstName",
    )
    birth_date = D.date(
        "Date of birth",
        sensitivity=Sensitivity.IDENTIFYING,
        state_name="Birth Date",
        edfi_name="Student.BirthDate",
    )
    gender = D.code(
        "gender",
        "Gender as reported to the state (female, male, non-binary)",
        sensitivity=Sensitivity.SENSITIVE,
        state_name="Gender",
        edfi_name="StudentEducationOrganizationAssociation.Sex",
        plain_reason=COUNTING,
    )
    hispanic_latino = D.flag(
        "Hispanic or Latino ethnicity",
        sensitivity=Sensitivity.SENSITIVE,
        state_name="Ethnicity: Hispanic or Latino",
        edfi_name="StudentEducationOrganizationAssociation.HispanicLatinoEthnicity",
        plain_reason=COUNTING,
    )
    american_indian_alaska_native = D.flag(
        "Race: American Indian or Alaska Native",
        sensitivity=Sensitivity.SENSITIVE,
        state_name="Race: American Indian or Alaska Native",
        edfi_name="StudentEducationOrganizationAssociation.Race",
        plain_reason=COUNTING,
    )
    asian = D.flag(
        "Race: Asian",
        sensitivity=Sensitivity.SENSITIVE,
        state_name="Race: Asian",
        edfi_name="StudentEducationOrganizationAssociation.Race",
        plain_reason=COUNTING,
    )
    black_african_american = D.flag(
        "Race: Black or African American",
        sensitivity=Sensitivity.SENSITIVE,
        state_name="Race: Black or African American",
        edfi_name="StudentEducationOrganizationAssociation.Race",
        plain_reason=COUNTING,
    )
    white = D.flag(
        "Race: White",
        sensitivity=Sensitivity.SENSITIVE,
        state_name="Race: White",
        edfi_name="StudentEducationOrganizationAssociation.Race",
        plain_reason=COUNTING,
    )
    native_hawaiian_pacific_islander = D.flag(
        "Race: Native Hawaiian or Other Pacific Islander",
        sensitivity=Sensitivity.SENSITIVE,
        state_name="Race: Native Hawaiian or other Pacific Islander",
        edfi_name="StudentEducationOrganizationAssociation.Race",
        plain_reason=COUNTING,
    )
    federal_race_ethnicity = D.code(
        "federal_race_ethnicity",
        "Federal race/ethnicity reporting category, derived from the flags",
        sensitivity=Sensitivity.SENSITIVE,
        state_name="Federal Race/Ethnicity Reporting Category",
        plain_reason=COUNTING,
    )
    language_background = D.code(
        "language",
        "Language background (first language learned)",
        sensitivity=Sensitivity.SENSITIVE,
        state_name="Language Background",
        edfi_name="StudentEducationOrganizationAssociation.Language",
    )
    directory_opt_out = D.flag(
        "Parent or eligible student opted out of all directory-information disclosure",
        sensitivity=Sensitivity.DIRECTORY,
    )
    media_opt_out = D.flag(
        "Opted out of directory information in media and publications",
        sensitivity=Sensitivity.DIRECTORY,
    )
    military_recruiter_opt_out = D.flag(
        "Opted out of disclosure of name, address and phone to military recruiters",
        sensitivity=Sensitivity.DIRECTORY,
    )

    # Keyed blind indexes (studentvault.crypto.blind_index): exact lookup without plaintext.
    # Find a student with Student.objects.filter(sasid_index=index_for("sasid", value)).
    sasid_index = BlindIndexField(index="sasid", sources=("sasid",))
    local_id_index = BlindIndexField(index="local_id", sources=("local_id",))
    name_birth_index = BlindIndexField(index="name_birth", sources=("last_name", "birth_date"))

    class Meta:
        # The district link has its own index; the blind indexes are searched by equality.
        indexes = [
            models.Index(fields=["sasid_index"], name="student_sasid_index"),
            models.Index(fields=["local_id_index"], name="student_local_id_index"),
            models.Index(fields=["name_birth_index"], name="student_name_birth_index"),
        ]

    def __str__(self) -> str:
        # Never a name or identifier: this string reaches logs and error messages.
        return f"Student #{self.pk}"

    def derive_federal_race_ethnicity(self) -> None:
        """Set the federal category from the ethnicity and race flags."""
        self.federal_race_ethnicity = federal_race_ethnicity(
            hispanic_latino=self.hispanic_latino,
            races={name: getattr(self, name) for name in RACE_FLAGS},
        )
