"""The student data model: one module per data category of the policy.

Every concrete field carries a data element (category, sensitivity, description, code set,
state and Ed-Fi names, retention class); ``studentvault.records.dictionary`` reads them.
"""

from .assessments import Assessment, AssessmentResult
from .career_technical import CareerTechnicalParticipation
from .concurrent_enrollment import ConcurrentEnrollment
from .courses import Course, CourseCompletion, Section, SectionEnrollment
from .early_childhood import EarlyChildhoodAssessment, EarlyChildhoodEnrollment
from .english_learners import EnglishLearnerProfile, EnglishProficiencyResult
from .enrollment import Enrollment
from .migrant import MigrantEligibility, MigrantService
from .organizations import District, School
from .programs import ProgramParticipation
from .special_education import (
    Disability,
    DisciplineIncident,
    IndividualizedEducationProgram,
    ParentContact,
    SpecialEducationService,
)
from .student import Student

__all__ = [
    "Assessment",
    "AssessmentResult",
    "CareerTechnicalParticipation",
    "ConcurrentEnrollment",
    "Course",
    "CourseCompletion",
    "Disability",
    "DisciplineIncident",
    "District",
    "EarlyChildhoodAssessment",
    "EarlyChildhoodEnrollment",
    "EnglishLearnerProfile",
    "EnglishProficiencyResult",
    "Enrollment",
    "IndividualizedEducationProgram",
    "MigrantEligibility",
    "MigrantService",
    "ParentContact",
    "ProgramParticipation",
    "School",
    "Section",
    "SectionEnrollment",
    "SpecialEducationService",
    "Student",
]
