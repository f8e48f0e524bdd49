"""Students and everything about them, generated a fixed-size chunk at a time.

A chunk covers student indexes [start, stop) and draws from its own random stream, seeded by
(seed, 1, chunk number); the district layout it reads was drawn before any chunk. So a chunk's
rows depend on the seed and the chunk number alone, never on which process made them or in
what order: one worker or two write byte-identical files.

The rates below are the documented defaults (docs/formats/synthetic-district.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from ..codes import code_set
from .layout import (
    ALTERNATIVE,
    ASSESSMENTS,
    CMAS_GRADES,
    DISTRICT_CODE,
    GRADE_CODES,
    PERIODS,
    SCIENCE_GRADES,
    Layout,
    checked,
    local_ids,
    sasids,
)
from .text import (
    DATE_TEXT,
    EPOCH,
    HUNDREDTHS_TEXT,
    INT_TEXT,
    NO_DATE,
    PAD3_TEXT,
    TENTHS_TEXT,
    BoolArray,
    FloatArray,
    IntArray,
    TextArray,
    choose,
    word_list,
)
from .text import (
    rows as csv_rows,
)

CHUNK_STUDENTS = 25_000
NEVER = 10**6  # a day number later than any date the generator writes


def _obj(values: Sequence[str]) -> TextArray:
    return np.array(list(values), dtype=object)


FEMALE = _obj(word_list("first_names_female"))
MALE = _obj(word_list("first_names_male"))
LAST = _obj(word_list("last_names"))
STREETS = _obj(word_list("street_names"))
GRADE_TEXT = _obj(GRADE_CODES)  # index: ordinal + 1
EMPTY = ""

GENDERS = _obj(checked("gender", "01", "02", "03"))
GENDER_RATES = (0.487, 0.508, 0.005)

# Race/ethnicity groups drawn first, then turned into the state's flags.
HISPANIC, WHITE, BLACK, ASIAN, AIAN, NHPI, TWO = range(7)
GROUP_RATES = (0.34, 0.51, 0.05, 0.03, 0.01, 0.003, 0.05)
# Columns of the race flag matrix, in the order of the Student model's fields.
F_AIAN, F_ASIAN, F_BLACK, F_WHITE, F_NHPI = range(5)
_by_label = {c.label: c.code for c in code_set("federal_race_ethnicity")}
FEDERAL_SINGLE = _obj(
    [
        _by_label["American Indian or Alaska Native"],
        _by_label["Asian"],
        _by_label["Black or African American"],
        _by_label["White"],
        _by_label["Native Hawaiian or Other Pacific Islander"],
    ]
)
FEDERAL_HISPANIC = _by_label["Hispanic or Latino"]
FEDERAL_TWO = _by_label["Two or More Races"]
TWO_RACE_PAIRS = (
    ((F_WHITE, F_BLACK), 0.30),
    ((F_WHITE, F_ASIAN), 0.25),
    ((F_WHITE, F_AIAN), 0.25),
    ((F_BLACK, F_AIAN), 0.08),
    ((F_ASIAN, F_NHPI), 0.07),
    ((F_WHITE, F_NHPI), 0.05),
)

LANGUAGES = _obj([c.code for c in code_set("language")])
_LANGUAGE_INDEX = {code: i for i, code in enumerate(LANGUAGES.tolist())}
ENGLISH = _LANGUAGE_INDEX[checked("language", "eng")[0]]
# Share of each group whose first language is not English, and which languages.
NON_ENGLISH_RATE = (0.40, 0.03, 0.20, 0.50, 0.05, 0.30, 0.06)
GROUP_LANGUAGES: dict[int, tuple[tuple[str, float], ...]] = {
    HISPANIC: (("spa", 0.96), ("por", 0.02), ("oth", 0.02)),
    WHITE: (
        ("rus", 0.3),
        ("ukr", 0.25),
        ("ara", 0.1),
        ("deu", 0.1),
        ("fra", 0.1),
        ("por", 0.1),
        ("oth", 0.05),
    ),
    BLACK: (("som", 0.3), ("amh", 0.25), ("ara", 0.1), ("fra", 0.15), ("swa", 0.1), ("kin", 0.1)),
    ASIAN: (
        ("vie", 0.25),
        ("zho", 0.2),
        ("kor", 0.1),
        ("nep", 0.15),
        ("hmn", 0.05),
        ("tgl", 0.1),
        ("hin", 0.1),
        ("jpn", 0.05),
    ),
    AIAN: (("oth", 1.0),),
    NHPI: (("tgl", 0.5), ("oth", 0.5)),
    TWO: (("spa", 0.5), ("oth", 0.5)),
}
for _pairs in GROUP_LANGUAGES.values():
    checked("language", *(code for code, _ in _pairs))

EL_STATUS = _obj(checked("english_proficiency", "NEP", "LEP", "FEPM1", "FEPM2", "FEPEX", "PHLOTE"))
NEP, LEP, FEPM1, FEPM2, FEPEX, PHLOTE = range(6)
LANGUAGE_PROGRAMS = _obj(checked("language_program", "ESL", "SHELT", "DL", "TBE", "NEW", "WAIVED"))
LANGUAGE_PROGRAM_RATES = (0.55, 0.15, 0.10, 0.05, 0.10, 0.05)
WAIVED = 5

ENTRY_NEW = _obj(checked("entry_type", "04", "05", "06", "08", "01"))
ENTRY_NEW_RATES = (0.5, 0.25, 0.08, 0.07, 0.10)
ENTRY_CONTINUING, ENTRY_IN_DISTRICT, ENTRY_NEW_TO_SYSTEM = checked("entry_type", "02", "03", "01")
EXIT_COMPLETED, EXIT_TRANSFER_IN_DISTRICT, EXIT_DROPOUT = checked("exit_type", "00", "11", "40")
EXIT_LEAVER = _obj(checked("exit_type", "13", "14", "15", "16", "05"))
EXIT_LEAVER_RATES = (0.4, 0.3, 0.1, 0.15, 0.05)

PROGRAMS = [c.code for c in code_set("program")]
LUNCH = _obj(checked("lunch_eligibility", "01", "02"))

DISABILITIES = _obj(
    checked(
        "disability_type",
        "SLD",
        "SLI",
        "OHI",
        "AUT",
        "DD",
        "ID",
        "EMN",
        "MD",
        "HI",
        "OI",
        "VI",
        "TBI",
        "DB",
    )
)
SLD, SLI, OHI, AUT, DD, ID, EMN, MD, HI, OI, VI, TBI, DB = range(13)
DISABILITY_RATES = (
    0.33,
    0.17,
    0.15,
    0.12,
    0.07,
    0.06,
    0.05,
    0.02,
    0.012,
    0.005,
    0.004,
    0.005,
    0.0005,
)
SETTINGS = _obj(
    checked(
        "special_education_setting",
        "RC80",
        "RC79TO40",
        "RC39",
        "SS",
        "RF",
        "HH",
        "CF",
        "PPPS",
        "EC",
    )
)
SETTING_RATES = (0.65, 0.17, 0.12, 0.03, 0.005, 0.005, 0.003, 0.017, 0.0)
SETTING_RATES_SIGNIFICANT = (0.15, 0.30, 0.45, 0.10, 0, 0, 0, 0, 0.0)
SETTING_EC = 8
SERVICES = _obj(
    checked(
        "special_education_service",
        "SDI",
        "SLP",
        "OT",
        "PT",
        "COUN",
        "PSY",
        "SW",
        "AUD",
        "ORM",
        "AT",
    )
)
PROVIDERS = _obj(
    ["District special education staff", "BOCES itinerant staff", "Contracted therapy provider"]
)
EC_PROGRAMS = _obj(checked("early_childhood_program", "UPK", "HS", "ECSE", "TUITION"))
EC_PROGRAM_RATES = (0.65, 0.15, 0.10, 0.10)
ECSE = 2
EC_DOMAINS = [c.code for c in code_set("early_childhood_domain")]
EC_INSTRUMENT = "Teaching Strategies GOLD"
GIFTED_AREAS = checked(
    "gifted_area",
    "GIA",
    "MTH",
    "RDG",
    "WRT",
    "SCI",
    "SST",
    "WLG",
    "VAR",
    "PAR",
    "MUS",
    "CRE",
    "LDR",
)
GIFTED_AREA_RATES = (0.35, 0.2, 0.15, 0.08, 0.07, 0.03, 0.02, 0.03, 0.02, 0.02, 0.02, 0.01)
MIGRANT_MOVES = _obj(checked("migrant_qualifying_move", "WITH", "AGRI", "FISH"))
MIGRANT_SERVICES = _obj(
    checked("migrant_service", "INSTR", "TUTOR", "SUMMER", "SUPPORT", "HEALTH", "CAREER")
)
RELATIONSHIPS = _obj(
    checked(
        "contact_relationship",
        "MOTHER",
        "FATHER",
        "GUARDIAN",
        "GRANDPARENT",
        "FOSTER",
        "STEPPARENT",
        "OTHER",
    )
)
MOTHER, FATHER, GUARDIAN, GRANDPARENT, FOSTER, STEPPARENT, OTHER = range(7)
RESTRICTIONS = _obj(
    [
        "No contact permitted: court order on file",
        "May not pick up the student",
        "No access to education records: court order on file",
        "Contact by mail only",
    ]
)
AREA_CODES = _obj(["303", "720", "719", "970"])
PAD2_TEXT = _obj([f"{i:02d}" for i in range(100)])  # 555-0100..0199: numbers kept for fiction
INCIDENTS = _obj(
    checked(
        "discipline_incident_type",
        "FIGHT",
        "ASSAULT",
        "DRUGS",
        "ALCOHOL",
        "TOBACCO",
        "WEAPON",
        "BULLY",
        "DEFIANCE",
        "PROPERTY",
        "THEFT",
        "OTHER",
    )
)
INCIDENT_RATES = (0.22, 0.05, 0.08, 0.03, 0.12, 0.02, 0.08, 0.30, 0.04, 0.04, 0.02)
ACTIONS = _obj(checked("discipline_action", "ISS", "OSS", "EXPS", "EXPN", "IAES", "REFLE"))
ACTION_RATES = (0.38, 0.45, 0.015, 0.005, 0.02, 0.13)
ACTION_DAYS = ((1, 3), (1, 5), (20, 90), (20, 90), (10, 45), (0, 0))
MARKS = _obj(checked("course_mark", "A", "B", "C", "D", "F", "I", "W"))
MARK_RATES = (0.30, 0.28, 0.20, 0.08, 0.08, 0.03, 0.03)
MARK_PASSES = np.array([True, True, True, True, False, False, False])
CTE_PROGRAMS = _obj([c.code for c in code_set("cte_program")])
CTE_PARTICIPANT, CTE_CONCENTRATOR = checked("cte_status", "PART", "CONC")
INSTITUTIONS = _obj([c.code for c in code_set("concurrent_institution")])
INSTITUTION_RATES = (0.15, 0.2, 0.12, 0.15, 0.12, 0.08, 0.1, 0.08)
COLLEGE_COURSES = (
    ("English Composition I", 300),
    ("College Algebra", 400),
    ("Introduction to Psychology", 300),
    ("Public Speaking", 300),
    ("General Chemistry I", 500),
    ("Introduction to Sociology", 300),
    ("Principles of Macroeconomics", 300),
    ("Introduction to Computer Science", 300),
    ("United States History to 1865", 300),
    ("Introduction to Statistics", 300),
)
ACCOMMODATIONS_SPED = (
    checked("accommodation", "ET", "TTS", "SL", "HR", "SR", "AT", "LP", "BR"),
    (0.3, 0.2, 0.25, 0.08, 0.08, 0.04, 0.03, 0.02),
)
ACCOMMODATIONS_EL = (checked("accommodation", "WWD", "ET", "SL"), (0.5, 0.3, 0.2))
ACCOMMODATIONS_504 = (checked("accommodation", "ET", "SL"), (0.6, 0.4))
_ACCOMMODATION_ORDER = {c.code: i for i, c in enumerate(code_set("accommodation"))}
_GIFTED_ORDER = {c.code: i for i, c in enumerate(code_set("gifted_area"))}
NOT_TESTED = _obj(checked("not_tested_reason", "PRF", "ABS", "MED", "WD", "OTH"))
NOT_TESTED_RATES = (0.5, 0.3, 0.05, 0.05, 0.10)
NOT_TESTED_NEW = checked("not_tested_reason", "NEW")[0]
checked("performance_level", "1", "2", "3", "4", "5")


@dataclass(frozen=True)
class ScoreRule:
    """How scale scores and performance levels are drawn for one kind of test."""

    levels: tuple[str, ...]  # performance level codes, lowest first; () = no levels
    rates: tuple[float, ...]  # share of tested students at each level
    ranges: tuple[tuple[int, int], ...]  # scale score range of each level
    mean: float = 0.0  # for tests without levels: score = mean + sd * z, rounded to 10
    sd: float = 0.0
    low: int = 0
    high: int = 0


CMAS_ELA = ScoreRule(
    ("1", "2", "3", "4", "5"),
    (0.13, 0.18, 0.25, 0.35, 0.09),
    ((650, 699), (700, 724), (725, 749), (750, 784), (785, 850)),
)
CMAS_MATH = ScoreRule(
    ("1", "2", "3", "4", "5"),
    (0.14, 0.27, 0.27, 0.24, 0.08),
    ((650, 699), (700, 724), (725, 749), (750, 784), (785, 850)),
)
CMAS_SCIENCE = ScoreRule(
    ("2", "3", "4", "5"), (0.30, 0.37, 0.27, 0.06), ((650, 699), (700, 724), (725, 774), (775, 850))
)
COALT = ScoreRule(
    ("1", "2", "3", "4"), (0.2, 0.3, 0.3, 0.2), ((100, 124), (125, 149), (150, 174), (175, 200))
)
PSAT_ERW = ScoreRule((), (), (), mean=470, sd=95, low=160, high=760)
PSAT_MATH = ScoreRule((), (), (), mean=455, sd=95, low=160, high=760)
SAT_ERW = ScoreRule((), (), (), mean=490, sd=100, low=200, high=800)
SAT_MATH = ScoreRule((), (), (), mean=475, sd=100, low=200, high=800)
_ASSESSMENT_CODES = {a.code for a in ASSESSMENTS}
GROWTH_GRADES = (4, 5, 6, 7, 8, 10)


def _test_plan() -> list[tuple[str, int, str, ScoreRule, bool]]:
    """(family, grade, assessment code, score rule, for CoAlt takers) for every test given."""
    plan: list[tuple[str, int, str, ScoreRule, bool]] = []
    for g in CMAS_GRADES:
        plan.append(("ELA", g, f"CMAS-ELA-{g:02d}", CMAS_ELA, False))
        plan.append(("MATH", g, f"CMAS-MATH-{g:02d}", CMAS_MATH, False))
    for g in SCIENCE_GRADES:
        plan.append(("SCI", g, f"CMAS-SCI-{g:02d}", CMAS_SCIENCE, False))
        plan.append(("SCI", g, f"COALT-SCI-{g:02d}", COALT, True))
    plan += [
        ("ELA", 10, "PSAT10-ERW", PSAT_ERW, False),
        ("MATH", 10, "PSAT10-MATH", PSAT_MATH, False),
        ("ELA", 11, "SAT-ERW", SAT_ERW, False),
        ("MATH", 11, "SAT-MATH", SAT_MATH, False),
    ]
    for g in (*CMAS_GRADES, 10, 11):
        plan.append(("ELA", g, f"COALT-ELA-{g:02d}", COALT, True))
        plan.append(("MATH", g, f"COALT-MATH-{g:02d}", COALT, True))
    for _, _, code, _, _ in plan:
        if code not in _ASSESSMENT_CODES:
            raise LookupError(f"assessment {code} is planned but not defined")
    return plan


TEST_PLAN = _test_plan()


class Rows:
    """Rows of one file, gathered in parts and put in student order before they are joined."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.keys: list[IntArray] = []
        self.parts: list[list[TextArray]] = []

    def add(self, key: IntArray, columns: Sequence[TextArray | str]) -> None:
        if len(columns) != self.width:
            raise ValueError(f"expected {self.width} columns, got {len(columns)}")
        n = key.size
        full = [np.full(n, c, dtype=object) if isinstance(c, str) else c for c in columns]
        for column in full:
            if column.shape != (n,):
                raise ValueError("every column of a part must have one value per row")
        self.keys.append(key)
        self.parts.append(full)

    def count(self) -> int:
        return int(sum(k.size for k in self.keys))

    def text(self) -> str:
        if not self.keys:
            return ""
        order = np.argsort(np.concatenate(self.keys), kind="stable")
        columns = [
            np.concatenate([part[i] for part in self.parts])[order].tolist()
            for i in range(self.width)
        ]
        return csv_rows(columns)


def _join_codes(
    rng: np.random.Generator,
    n: int,
    codes: Sequence[str],
    rates: Sequence[float],
    most: int,
    order: dict[str, int],
) -> TextArray:
    """For n people, 1..most distinct codes each (weighted, without replacement), joined by |."""
    out = np.full(n, "", dtype=object)
    if n == 0:
        return out
    weights = np.asarray(rates, dtype=np.float64)
    keys = rng.exponential(size=(n, len(codes))) / weights
    ranked = np.argsort(keys, axis=1)
    counts = rng.integers(1, most + 1, size=n)
    for i, (row, k) in enumerate(zip(ranked.tolist(), counts.tolist(), strict=True)):
        chosen = sorted((codes[j] for j in row[:k]), key=order.__getitem__)
        out[i] = "|".join(chosen)
    return out


class Chunk:
    """The students with indexes [start, stop) and all their records."""

    def __init__(self, layout: Layout, number: int) -> None:
        self.layout = layout
        self.number = number
        self.start = number * CHUNK_STUDENTS
        self.stop = min(layout.students, self.start + CHUNK_STUDENTS)
        self.rng = np.random.default_rng(np.random.SeedSequence([layout.seed, 1, number]))
        # Every date below is derived from the school year's calendar, never a literal.
        self.cal = layout.calendar
        self.year_text = str(self.cal.school_year)
        self.prior_year_text = str(self.cal.prior_year)
        index = np.arange(self.start, self.stop, dtype=np.int64)
        block = np.searchsorted(layout.block_start, index, side="right") - 1
        self.n = index.size
        self.index = index
        self.pos = np.arange(self.n, dtype=np.int64)
        self.school = layout.block_school[block]
        self.grade = layout.block_grade[block]
        self.rank = index - layout.block_start[block]
        self.sections = layout.block_sections[block]
        schools = layout.schools
        self.school_text = np.array([s.code for s in schools], dtype=object)
        self.lunch_rate = np.array([s.lunch_rate for s in schools])[self.school]
        self.hispanic_factor = np.array([s.hispanic_factor for s in schools])[self.school]
        self.achievement = np.array([s.achievement for s in schools])[self.school]
        self.title_i = np.array([s.title_i for s in schools])[self.school]
        self.tiny = np.array([s.kind is ALTERNATIVE for s in schools])[self.school]
        self.sasid = np.array([str(v) for v in sasids(layout, index).tolist()], dtype=object)
        self.files: dict[str, Rows] = {}

    # -- helpers ---------------------------------------------------------------------------
    def _rows(self, name: str, width: int) -> Rows:
        if name not in self.files:
            self.files[name] = Rows(width)
        return self.files[name]

    def _chance(self, p: float | FloatArray) -> BoolArray:
        return self.rng.random(self.n) < p

    def _days(self, low: int | IntArray, high: int | IntArray, size: int) -> IntArray:
        """Uniform day numbers in [low, high] (inclusive)."""
        low_a = np.broadcast_to(np.asarray(low, dtype=np.int64), (size,))
        high_a = np.broadcast_to(np.asarray(high, dtype=np.int64), (size,))
        span = np.maximum(high_a - low_a, 0) + 1
        drawn: IntArray = low_a + (self.rng.random(size) * span).astype(np.int64)
        return drawn

    # -- the files -------------------------------------------------------------------------
    def build(self) -> dict[str, tuple[int, str]]:
        """Every file's rows for this chunk, as (row count, CSV text without header)."""
        self.students()
        self.enrollments()
        self.programs()
        self.early_childhood()
        self.special_education()
        self.discipline()
        self.parent_contacts()
        self.english_learners()
        self.migrant()
        self.career_and_college()
        self.courses()
        self.assessments()
        return {name: (r.count(), r.text()) for name, r in self.files.items()}

    def students(self) -> None:
        rng, n = self.rng, self.n
        gender = choose(rng, GENDER_RATES, n)
        female = (gender == 0) | ((gender == 2) & self._chance(0.5))
        self.gender = gender
        # Race and ethnicity: the Hispanic share follows the school, the rest keep their ratios.
        p_hispanic = np.clip(GROUP_RATES[HISPANIC] * self.hispanic_factor, 0.02, 0.92)
        other = choose(rng, GROUP_RATES[1:], n) + 1
        group = np.where(rng.random(n) < p_hispanic, HISPANIC, other)
        self.group = group
        race = np.zeros((n, 5), dtype=bool)
        single = {WHITE: F_WHITE, BLACK: F_BLACK, ASIAN: F_ASIAN, AIAN: F_AIAN, NHPI: F_NHPI}
        for g, column in single.items():
            race[group == g, column] = True
        hispanic = group == HISPANIC
        hispanic_race = choose(rng, (0.85, 0.08, 0.03, 0.04), n)
        race[hispanic & (hispanic_race == 0), F_WHITE] = True
        race[hispanic & (hispanic_race == 1), F_AIAN] = True
        race[hispanic & (hispanic_race == 2), F_BLACK] = True
        race[hispanic & (hispanic_race == 3), F_WHITE] = True
        race[hispanic & (hispanic_race == 3), F_AIAN] = True
        pair = choose(rng, [r for _, r in TWO_RACE_PAIRS], n)
        for i, ((a, b), _) in enumerate(TWO_RACE_PAIRS):
            chosen = (group == TWO) & (pair == i)
            race[chosen, a] = True
            race[chosen, b] = True
        count = race.sum(axis=1)
        federal = FEDERAL_SINGLE[np.argmax(race, axis=1)]
        federal = np.where(count > 1, FEDERAL_TWO, federal)
        federal = np.where(hispanic, FEDERAL_HISPANIC, federal)

        # Language background and English learner status.
        non_english = rng.random(n) < np.asarray(NON_ENGLISH_RATE)[group]
        language = np.full(n, ENGLISH, dtype=np.int64)
        for g, pairs in GROUP_LANGUAGES.items():
            chosen = non_english & (group == g)
            picks = choose(rng, [r for _, r in pairs], int(chosen.sum()))
            table = np.array([_LANGUAGE_INDEX[c] for c, _ in pairs], dtype=np.int64)
            language[chosen] = table[picks]
        grade = self.grade
        p_learner = np.clip(0.85 - 0.025 * grade, 0.5, 0.85)
        learner = non_english & (grade >= 0) & (rng.random(n) < p_learner)
        p_nep = np.clip(0.35 - 0.02 * grade, 0.08, 0.35)
        status = np.where(rng.random(n) < p_nep, NEP, LEP)
        former = choose(rng, (0.2, 0.2, 0.35, 0.25), n) + FEPM1
        status = np.where(learner, status, former)
        status = np.where(non_english & (grade < 0), PHLOTE, status)
        self.non_english = non_english
        self.language = language
        self.learner = learner
        self.el_status = status

        # Birth dates consistent with grade (Colorado's October 1 cutoff), a few retained.
        # A kindergartner of school year Y turned 5 by October 1 of Y - 1, so the latest birth
        # date of grade g is October 1 of Y - 6 - g (exact, leap years too).
        cutoff = np.datetime64(f"{self.cal.school_year - 6:04d}-10", "M")
        month = cutoff - (12 * grade).astype("timedelta64[M]")
        latest = (month.astype("datetime64[D]") - EPOCH).astype(np.int64)
        birth = latest - rng.integers(0, 365, size=n)
        birth = np.where((grade >= 1) & self._chance(0.04), birth - 365, birth)
        self.birth = birth

        first_f = FEMALE[rng.integers(0, FEMALE.size, n)]
        first_m = MALE[rng.integers(0, MALE.size, n)]
        middle_f = FEMALE[rng.integers(0, FEMALE.size, n)]
        middle_m = MALE[rng.integers(0, MALE.size, n)]
        preferred_f = FEMALE[rng.integers(0, FEMALE.size, n)]
        preferred_m = MALE[rng.integers(0, MALE.size, n)]
        first = np.where(female, first_f, first_m)
        middle = np.where(self._chance(0.7), np.where(female, middle_f, middle_m), EMPTY)
        preferred = np.where(self._chance(0.07), np.where(female, preferred_f, preferred_m), EMPTY)
        last = LAST[rng.integers(0, LAST.size, n)]
        self.first_name = first
        self.last_name = last
        directory = self._chance(0.03)
        media = directory | self._chance(0.05)
        military = (grade >= 9) & self._chance(0.08)

        def flag(values: BoolArray) -> TextArray:
            return np.where(values, "1", "0").astype(object)

        self._rows("students.csv", 20).add(
            self.pos,
            [
                DISTRICT_CODE,
                self.sasid,
                np.array(local_ids(self.layout, self.index), dtype=object),
                first,
                middle,
                last,
                preferred,
                DATE_TEXT[birth],
                GENDERS[gender],
                flag(hispanic),
                flag(race[:, F_AIAN]),
                flag(race[:, F_ASIAN]),
                flag(race[:, F_BLACK]),
                flag(race[:, F_WHITE]),
                flag(race[:, F_NHPI]),
                federal.astype(object),
                LANGUAGES[language],
                flag(directory),
                flag(media),
                flag(military),
            ],
        )

    def enrollments(self) -> None:
        rng, n, grade, layout = self.rng, self.n, self.grade, self.layout
        has_prior = (grade >= 1) & self._chance(0.88)
        mid_year = ~has_prior & (grade >= 0) & self._chance(0.25)
        entry = np.where(
            mid_year, self.cal.year_start + rng.integers(5, 200, size=n), self.cal.year_start
        )

        # Prior-year school: the same school when it served the grade below, else a feeder.
        prior_school = self.school.copy()
        keep = self._chance(np.where(self.tiny, 0.4, 0.97))
        draw = rng.random(n)
        for g in range(1, 13):
            feeders = layout.serving[g - 1]
            here = np.array([s.serves(g - 1) for s in layout.schools])[self.school]
            moved = (grade == g) & ~(here & keep)
            if feeders.size:
                prior_school[moved] = feeders[(draw[moved] * feeders.size).astype(np.int64)]
        first_type = np.where(
            has_prior,
            np.where(prior_school == self.school, ENTRY_CONTINUING, ENTRY_IN_DISTRICT),
            np.where(grade <= 0, ENTRY_NEW_TO_SYSTEM, ENTRY_NEW[choose(rng, ENTRY_NEW_RATES, n)]),
        ).astype(object)

        # Transfers inside the district during the year: a closed stay at another school.
        transfer = (grade >= 0) & self._chance(0.02)
        other_school = self.school.copy()
        pick = rng.random(n)
        for g in range(0, 13):
            options = layout.serving[g]
            chosen = transfer & (grade == g)
            if options.size < 2:
                transfer[chosen] = False
                continue
            alt = options[(pick[chosen] * options.size).astype(np.int64)]
            same = alt == self.school[chosen]
            alt[same] = options[(np.searchsorted(options, alt[same]) + 1) % options.size]
            other_school[chosen] = alt
        transfer &= other_school != self.school
        left_other = np.minimum(
            np.maximum(self._days(self.cal.fall("09-15"), self.cal.spring("02-13"), n), entry + 10),
            self.cal.spring("03-01"),
        )
        current_entry = np.where(transfer, left_other + rng.integers(1, 6, size=n), entry)

        # Students who left the district during the year.
        leaver = (grade >= 0) & self._chance(0.015)
        exit_day = np.minimum(
            current_entry + rng.integers(20, 160, size=n), self.cal.spring("05-01")
        )
        exit_day = np.where(leaver, np.maximum(exit_day, current_entry + 1), NO_DATE)
        exit_type = EXIT_LEAVER[choose(rng, EXIT_LEAVER_RATES, n)]
        exit_type = np.where((grade >= 9) & self._chance(0.25), EXIT_DROPOUT, exit_type)
        exit_type = np.where(leaver, exit_type, EMPTY).astype(object)

        self.has_prior = has_prior
        self.prior_school = prior_school
        self.year_entry = entry
        self.entry = current_entry
        self.exit = exit_day
        self.leaver = leaver

        rows = self._rows("enrollments.csv", 8)
        p = np.flatnonzero(has_prior)
        rows.add(
            p * 3,
            [
                self.sasid[p],
                self.school_text[prior_school[p]],
                self.prior_year_text,
                GRADE_TEXT[grade[p]],  # ordinal g - 1 sits at index g
                DATE_TEXT[np.full(p.size, self.cal.prior_start)],
                np.where(grade[p] == 1, ENTRY_NEW_TO_SYSTEM, ENTRY_CONTINUING).astype(object),
                DATE_TEXT[np.full(p.size, self.cal.prior_end)],
                EXIT_COMPLETED,
            ],
        )
        t = np.flatnonzero(transfer)
        rows.add(
            t * 3 + 1,
            [
                self.sasid[t],
                self.school_text[other_school[t]],
                self.year_text,
                GRADE_TEXT[grade[t] + 1],
                DATE_TEXT[entry[t]],
                first_type[t],
                DATE_TEXT[left_other[t]],
                EXIT_TRANSFER_IN_DISTRICT,
            ],
        )
        current_type = np.where(transfer, ENTRY_IN_DISTRICT, first_type).astype(object)
        rows.add(
            self.pos * 3 + 2,
            [
                self.sasid,
                self.school_text[self.school],
                self.year_text,
                GRADE_TEXT[grade + 1],
                DATE_TEXT[current_entry],
                current_type,
                DATE_TEXT[exit_day],
                exit_type,
            ],
        )

    def programs(self) -> None:
        rng, n, grade = self.rng, self.n, self.grade
        male = self.gender != 0
        self.ec_program = choose(rng, EC_PROGRAM_RATES, n)
        sped_rate = np.where(male, 0.155, 0.09) + np.where(self.tiny, 0.05, 0.0)
        sped = np.where(grade < 0, self.ec_program == ECSE, self._chance(sped_rate))
        frl = self._chance(self.lunch_rate)
        gifted_rate = np.where(grade >= 1, np.where(frl, 0.05, 0.11), np.where(grade == 0, 0.02, 0))
        gifted = self._chance(gifted_rate)
        migrant = self._chance(np.where((self.group == HISPANIC) & frl, 0.02, 0.0015))
        homeless = self._chance(np.where(frl, 0.03, 0.004))
        section_504 = ~sped & (grade >= 0) & self._chance(0.034)
        language_program = choose(rng, LANGUAGE_PROGRAM_RATES, n)
        language_program = np.where(
            (language_program == 4) & (self.el_status != NEP), 0, language_program
        )
        self.sped, self.frl, self.gifted, self.is_migrant = sped, frl, gifted, migrant
        self.section_504 = section_504
        self.language_program = language_program
        end = self.exit
        rows = self._rows("programs.csv", 6)

        def add(order: int, chosen: BoolArray, begin: IntArray, **extra: TextArray) -> None:
            p = np.flatnonzero(chosen)
            rows.add(
                p * 8 + order,
                [
                    self.sasid[p],
                    PROGRAMS[order],
                    DATE_TEXT[begin[p]],
                    DATE_TEXT[end[p]],
                    extra["lunch"][p] if "lunch" in extra else EMPTY,
                    extra.get("gifted", EMPTY),
                ],
            )

        add(0, self.title_i, self.entry)
        add(1, sped, self.year_entry)
        gifted_areas = _join_codes(
            rng, int(gifted.sum()), GIFTED_AREAS, GIFTED_AREA_RATES, 3, _GIFTED_ORDER
        )
        add(2, gifted, self.year_entry, gifted=gifted_areas)
        lunch = LUNCH[choose(rng, (0.82, 0.18), n)]
        add(3, frl, self.year_entry, lunch=lunch)
        add(4, self.learner & (language_program != WAIVED), self.year_entry)
        self.coe_signed = self._days(
            self.cal.spring("06-01", years_before=3), self.cal.fall("12-15"), n
        )
        add(5, migrant, np.maximum(self.coe_signed, self.year_entry))
        add(6, homeless, self.year_entry)
        add(7, section_504, self.year_entry)

    def early_childhood(self) -> None:
        rng = self.rng
        p = np.flatnonzero(self.grade < 0)
        self._rows("early_childhood_enrollments.csv", 4).add(
            p,
            [
                self.sasid[p],
                EC_PROGRAMS[self.ec_program[p]],
                DATE_TEXT[self.entry[p]],
                DATE_TEXT[self.exit[p]],
            ],
        )
        rows = self._rows("early_childhood_assessments.csv", 6)
        ability = rng.normal(size=p.size)
        exit_or_never = np.where(self.exit[p] < 0, NEVER, self.exit[p])
        for checkpoint, (when, gain) in enumerate(
            ((self.cal.fall("10-31"), 0), (self.cal.spring("02-27"), 35))
        ):
            present = (self.entry[p] <= when - 14) & (exit_or_never >= when)
            q = p[present]
            for d, domain in enumerate(EC_DOMAINS):
                latent = 0.7 * ability[present] + 0.7 * rng.normal(size=q.size)
                score = np.clip(np.round(450 + 60 * latent + gain), 200, 800).astype(np.int64)
                rows.add(
                    q * 20 + checkpoint * 10 + d,
                    [
                        self.sasid[q],
                        EC_INSTRUMENT,
                        DATE_TEXT[np.full(q.size, when)],
                        domain,
                        INT_TEXT[score],
                        np.where(score >= 420, "1", "0").astype(object),
                    ],
                )

    def special_education(self) -> None:
        rng, grade = self.rng, self.grade
        p = np.flatnonzero(self.sped)
        k = p.size
        primary = choose(rng, DISABILITY_RATES, k)
        primary = np.where((primary == DD) & (grade[p] > 3), SLD, primary)
        preschool = grade[p] < 0
        primary = np.where(
            preschool, np.array([DD, SLI, AUT])[choose(rng, (0.6, 0.3, 0.1), k)], primary
        )
        second = self.rng.random(k) < 0.15
        secondary = np.where(primary == SLI, OHI, SLI)
        rows = self._rows("disabilities.csv", 3)
        rows.add(p * 2, [self.sasid[p], DISABILITIES[primary], "1"])
        s = p[second]
        rows.add(s * 2 + 1, [self.sasid[s], DISABILITIES[secondary[second]], "0"])

        significant = np.isin(primary, (ID, MD))
        setting = np.where(
            significant,
            choose(rng, SETTING_RATES_SIGNIFICANT, k),
            choose(rng, SETTING_RATES, k),
        )
        setting = np.where(preschool, SETTING_EC, setting)
        coalt_rate = np.select([primary == ID, primary == MD, primary == AUT], [0.6, 0.8, 0.2], 0)
        self.coalt = np.zeros(self.n, dtype=bool)
        self.coalt[p] = (grade[p] >= 3) & (rng.random(k) < coalt_rate)

        review = self._days(self.cal.spring("04-01", years_before=1), self.cal.spring("03-31"), k)
        years_on = (rng.random(k) * np.clip(grade[p] + 2, 1, 8)).astype(np.int64)
        begin = review - 365 * years_on - rng.integers(0, 200, size=k)
        begin = np.maximum(begin, self.birth[p] + 3 * 365 + 30)
        review = np.maximum(review, begin)
        self._rows("ieps.csv", 5).add(
            p,
            [
                self.sasid[p],
                DATE_TEXT[begin],
                DATE_TEXT[review],
                DATE_TEXT[review + 364],
                SETTINGS[setting],
            ],
        )

        services = self._rows("special_education_services.csv", 6)
        provider = PROVIDERS[choose(rng, (0.8, 0.1, 0.1), k)]
        end = DATE_TEXT[self.exit[p]]
        sdi_minutes = np.select(
            [setting == 0, setting == 1],
            [rng.integers(60, 301, size=k), rng.integers(400, 1001, size=k)],
            rng.integers(1000, 1801, size=k),
        )
        plan = [
            (primary != SLI, sdi_minutes),
            (
                np.isin(primary, (SLI, AUT, DD)) | (rng.random(k) < 0.25),
                rng.integers(30, 121, size=k),
            ),
            (rng.random(k) < 0.15, rng.integers(30, 61, size=k)),
            (rng.random(k) < 0.03, rng.integers(30, 61, size=k)),
            ((primary == EMN) | (rng.random(k) < 0.10), rng.integers(30, 61, size=k)),
            (rng.random(k) < 0.04, np.full(k, 30)),
            (rng.random(k) < 0.05, np.full(k, 30)),
            (primary == HI, np.full(k, 30)),
            (primary == VI, np.full(k, 60)),
            (rng.random(k) < 0.03, np.full(k, 30)),
        ]
        for order, (chosen, minutes) in enumerate(plan):
            c = np.flatnonzero(chosen)
            services.add(
                p[c] * 16 + order,
                [
                    self.sasid[p[c]],
                    SERVICES[order],
                    provider[c],
                    INT_TEXT[minutes[c].astype(np.int64)],
                    DATE_TEXT[review[c]],
                    end[c],
                ],
            )

    def discipline(self) -> None:
        rng, grade = self.rng, self.grade
        rate = np.select([grade >= 9, grade >= 6, grade >= 0], [0.05, 0.06, 0.012], 0.0)
        rate = rate * np.where(self.gender == 0, 0.5, 1.5)
        involved = self._chance(rate)
        twice = involved & self._chance(0.25)
        exit_or_end = np.where(self.exit < 0, self.cal.spring("05-15"), self.exit)
        rows = self._rows("discipline_incidents.csv", 6)
        for k, chosen in enumerate((involved, twice)):
            p = np.flatnonzero(chosen)
            when = self._days(
                np.maximum(self.entry[p], self.cal.year_start + 7), exit_or_end[p], p.size
            )
            when = np.minimum(when, exit_or_end[p])
            action = choose(rng, ACTION_RATES, p.size)
            low = np.array([a for a, _ in ACTION_DAYS])[action]
            high = np.array([b for _, b in ACTION_DAYS])[action]
            removed = low + (rng.random(p.size) * (high - low + 1)).astype(np.int64)
            rows.add(
                p * 2 + k,
                [
                    self.sasid[p],
                    self.school_text[self.school[p]],
                    DATE_TEXT[when],
                    INCIDENTS[choose(rng, INCIDENT_RATES, p.size)],
                    ACTIONS[action],
                    INT_TEXT[removed],
                ],
            )

    def parent_contacts(self) -> None:
        rng, n = self.rng, self.n
        two = self._chance(0.62)
        first_rel = choose(rng, (0.72, 0.14, 0.05, 0.06, 0.02, 0.0, 0.01), n)
        second_rel = np.where(
            first_rel == MOTHER,
            np.array([FATHER, STEPPARENT, GRANDPARENT, OTHER])[
                choose(rng, (0.8, 0.08, 0.08, 0.04), n)
            ],
            np.array([MOTHER, STEPPARENT, GRANDPARENT, OTHER])[
                choose(rng, (0.7, 0.1, 0.15, 0.05), n)
            ],
        )
        number = rng.integers(100, 9999, size=n)
        street = STREETS[rng.integers(0, STREETS.size, n)]
        suffix = np.array(["St", "Ave", "Dr", "Ct", "Way"], dtype=object)[rng.integers(0, 5, n)]
        zipcode = rng.integers(0, 1000, size=n)
        address = np.array(
            [
                f'"{a} {b} {c}, Exampleville, CO 80{z:03d}"'
                for a, b, c, z in zip(
                    number.tolist(), street.tolist(), suffix.tolist(), zipcode.tolist(), strict=True
                )
            ],
            dtype=object,
        )
        rows = self._rows("parent_contacts.csv", 8)
        for k, (relationship, chosen) in enumerate(
            ((first_rel, np.ones(n, bool)), (second_rel, two))
        ):
            p = np.flatnonzero(chosen)
            rel = relationship[p]
            female = np.where(
                rel == MOTHER, True, np.where(rel == FATHER, False, rng.random(p.size) < 0.6)
            )
            first = np.where(
                female,
                FEMALE[rng.integers(0, FEMALE.size, p.size)],
                MALE[rng.integers(0, MALE.size, p.size)],
            )
            last = np.where(
                rng.random(p.size) < 0.8,
                self.last_name[p],
                LAST[rng.integers(0, LAST.size, p.size)],
            )
            name = first + " " + last
            phone = (
                AREA_CODES[rng.integers(0, AREA_CODES.size, p.size)]
                + "-555-01"
                + PAD2_TEXT[rng.integers(0, 100, p.size)]
            )
            phone = np.where(rng.random(p.size) < 0.05, EMPTY, phone)
            tag = rng.integers(1, 1000, size=p.size)
            email = np.array(
                [
                    f"{a}.{b}{t}@example.org".lower().replace(" ", "")
                    for a, b, t in zip(first.tolist(), last.tolist(), tag.tolist(), strict=True)
                ],
                dtype=object,
            )
            email = np.where(rng.random(p.size) < 0.12, EMPTY, email)
            own_address = address[p]
            if k == 1:
                moved = rng.random(p.size) < 0.25
                own_address = np.where(moved, np.roll(address, 1)[p], own_address)
            own_address = np.where(rng.random(p.size) < 0.03, EMPTY, own_address)
            restricted = rng.random(p.size) < 0.025
            restriction = np.where(
                restricted, RESTRICTIONS[rng.integers(0, RESTRICTIONS.size, p.size)], EMPTY
            )
            rows.add(
                p * 2 + k,
                [
                    self.sasid[p],
                    name.astype(object),
                    RELATIONSHIPS[rel],
                    phone,
                    email,
                    own_address,
                    restriction.astype(object),
                    "1" if k == 0 else "0",
                ],
            )

    def english_learners(self) -> None:
        rng, grade = self.rng, self.grade
        p = np.flatnonzero(self.non_english)
        status = self.el_status[p]
        learner = self.learner[p]
        program = np.where(learner, LANGUAGE_PROGRAMS[self.language_program[p]], EMPTY)
        kindergarten = self.cal.year_start - 365 * np.maximum(grade[p], 0)
        span = (self.cal.spring("01-15") - kindergarten).astype(np.float64)
        arrived = kindergarten + (span * rng.random(p.size) ** 1.5).astype(np.int64)
        arrived = np.where(status == NEP, np.maximum(arrived, self.cal.year_start - 400), arrived)
        # No later than the student's first day in the district: the prior year's start for
        # those with a prior-year enrollment.
        in_district = np.where(
            self.has_prior[p], self.cal.prior_start, np.maximum(self.entry[p], kindergarten)
        )
        arrived = np.minimum(arrived, in_district)
        tracked = learner | (status == FEPM1) | (status == FEPM2)
        first_us = np.where(tracked, arrived, NO_DATE)
        self.first_us = np.full(self.n, NO_DATE, dtype=np.int64)
        self.first_us[p] = first_us
        self._rows("english_learner_profiles.csv", 6).add(
            p,
            [
                self.sasid[p],
                self.year_text,
                LANGUAGES[self.language[p]],
                EL_STATUS[status],
                program.astype(object),
                DATE_TEXT[first_us],
            ],
        )
        q = p[learner]
        nep = self.el_status[q] == NEP
        level = np.where(nep, rng.integers(10, 26, size=q.size), rng.integers(25, 51, size=q.size))
        composite = 200 + 4 * level + 12 * grade[q] + rng.normal(0, 8, size=q.size)
        composite = np.clip(np.round(composite), 100, 600).astype(np.int64)
        self._rows("english_proficiency_results.csv", 4).add(
            q, [self.sasid[q], self.year_text, INT_TEXT[composite], TENTHS_TEXT[level]]
        )

    def migrant(self) -> None:
        rng = self.rng
        p = np.flatnonzero(self.is_migrant)
        signed = self.coe_signed[p]
        arrival = signed - rng.integers(10, 90, size=p.size)
        self._rows("migrant_eligibilities.csv", 5).add(
            p,
            [
                self.sasid[p],
                DATE_TEXT[signed],
                DATE_TEXT[arrival],
                MIGRANT_MOVES[choose(rng, (0.65, 0.33, 0.02), p.size)],
                DATE_TEXT[arrival + 3 * 365 + 1],
            ],
        )
        rows = self._rows("migrant_services.csv", 4)
        first = choose(rng, (0.35, 0.25, 0.15, 0.15, 0.05, 0.05), p.size)
        second = (
            first + rng.integers(1, MIGRANT_SERVICES.size, size=p.size)
        ) % MIGRANT_SERVICES.size
        begin = np.maximum(signed, self.year_entry[p]) + rng.integers(0, 30, size=p.size)
        end = DATE_TEXT[self.exit[p]]
        rows.add(p * 2, [self.sasid[p], MIGRANT_SERVICES[first], DATE_TEXT[begin], end])
        more = rng.random(p.size) < 0.4
        rows.add(
            p[more] * 2 + 1,
            [
                self.sasid[p[more]],
                MIGRANT_SERVICES[second[more]],
                DATE_TEXT[begin[more]],
                end[more],
            ],
        )

    def career_and_college(self) -> None:
        rng, grade = self.rng, self.grade
        p = np.flatnonzero((grade >= 9) & self._chance(0.25))
        concentrator = rng.random(p.size) < 0.15 + 0.08 * (grade[p] - 9)
        self._rows("cte_participations.csv", 4).add(
            p,
            [
                self.sasid[p],
                self.year_text,
                CTE_PROGRAMS[rng.integers(0, CTE_PROGRAMS.size, p.size)],
                np.where(concentrator, CTE_CONCENTRATOR, CTE_PARTICIPANT).astype(object),
            ],
        )
        rate = np.select([grade == 12, grade == 11], [0.22, 0.15], 0.0)
        q = np.flatnonzero(self._chance(rate))
        titles = np.array([t for t, _ in COLLEGE_COURSES], dtype=object)
        credits = np.array([c for _, c in COLLEGE_COURSES], dtype=np.int64)
        first = rng.integers(0, titles.size, size=q.size)
        second = (first + rng.integers(1, titles.size, size=q.size)) % titles.size
        more = rng.random(q.size) < 0.35
        institution = INSTITUTIONS[choose(rng, INSTITUTION_RATES, q.size)]
        rows = self._rows("concurrent_enrollments.csv", 5)
        rows.add(
            q * 2,
            [
                self.sasid[q],
                self.year_text,
                institution,
                titles[first],
                HUNDREDTHS_TEXT[credits[first]],
            ],
        )
        r = q[more]
        rows.add(
            r * 2 + 1,
            [
                self.sasid[r],
                self.year_text,
                institution[more],
                titles[second[more]],
                HUNDREDTHS_TEXT[credits[second[more]]],
            ],
        )

    def courses(self) -> None:
        rng, grade = self.rng, self.grade
        rosters = self._rows("section_enrollments.csv", 6)
        completions = self._rows("course_completions.csv", 6)
        exit_or_never = np.where(self.exit < 0, NEVER, self.exit)
        for g, periods in PERIODS.items():
            p = np.flatnonzero(grade == g)
            if not p.size:
                continue
            entry, leave = self.entry[p], exit_or_never[p]
            school = self.school_text[self.school[p]]
            for k, period in enumerate(periods):
                number = (self.rank[p] + 7 * k) % self.sections[p] + 1
                code = f"{period.course.code}-{g:02d}-" + PAD3_TEXT[number]
                if period.term == "year":
                    take = np.ones(p.size, dtype=bool)
                    begin = np.maximum(entry, self.cal.year_start)
                    end = np.where(leave == NEVER, NO_DATE, leave)
                elif period.term == "fall":
                    take = entry <= self.cal.fall_end
                    begin = np.maximum(entry, self.cal.year_start)
                    end = np.minimum(leave, self.cal.fall_end)
                else:
                    take = (leave >= self.cal.spring_start) & (entry <= leave)
                    begin = np.maximum(entry, self.cal.spring_start)
                    end = np.where(leave == NEVER, NO_DATE, leave)
                t = np.flatnonzero(take)
                rosters.add(
                    p[t] * 8 + k,
                    [
                        school[t],
                        self.year_text,
                        code[t],
                        self.sasid[p[t]],
                        DATE_TEXT[begin[t]],
                        DATE_TEXT[end[t]],
                    ],
                )
                if period.term == "fall":
                    done = t[end[t] == self.cal.fall_end]
                    mark = choose(rng, MARK_RATES, done.size)
                    earned = np.where(MARK_PASSES[mark], 50, 0)
                    completions.add(
                        p[done] * 8 + k,
                        [
                            self.sasid[p[done]],
                            school[done],
                            self.year_text,
                            code[done],
                            HUNDREDTHS_TEXT[earned],
                            MARKS[mark],
                        ],
                    )

    def assessments(self) -> None:
        """Results of the prior school year's spring administration (the latest one before a
        fall day of the current year): a student in grade g now took the grade g - 1 tests at
        the prior-year school, if enrolled in the district that year. Current statuses (special
        education, English learner, 504, alternate assessment) stand in for last year's."""
        rng, n = self.rng, self.n
        grade = self.grade - 1  # the grade the student was in during the prior year
        ability = (
            rng.normal(size=n)
            + self.achievement
            - 0.35 * self.frl
            - 0.5 * self.learner
            - 0.8 * self.sped
            + 1.0 * self.gifted
        )
        ability = ability / 1.2
        accommodations = np.full(n, EMPTY, dtype=object)
        sped = self.sped & self._chance(0.7)
        learner = ~sped & self.learner & self._chance(0.4)
        plan_504 = ~sped & ~learner & self.section_504 & self._chance(0.6)
        for chosen, (codes, rates), most in (
            (sped, ACCOMMODATIONS_SPED, 3),
            (learner, ACCOMMODATIONS_EL, 2),
            (plan_504, ACCOMMODATIONS_504, 2),
        ):
            accommodations[chosen] = _join_codes(
                rng, int(chosen.sum()), codes, rates, most, _ACCOMMODATION_ORDER
            )
        # New to US schools within the year before the prior year's testing window: may skip
        # the English language arts test. Everyone tested held a prior-year enrollment that ran
        # to the end of that year, so no result is "withdrawn" for having left.
        arrived_since = self.cal.spring("04-15", years_before=2)
        newly_arrived = self.learner & (self.el_status == NEP) & (self.first_us >= arrived_since)
        # A growth percentile needs a score from the year before too (in the district then).
        two_years = self.has_prior & self._chance(0.88)
        growth_effect = rng.normal(0, 0.25, size=len(self.layout.schools))[self.prior_school]
        family_latent = {
            f: 0.8 * ability + 0.6 * rng.normal(size=n) for f in ("ELA", "MATH", "SCI")
        }
        rows = self._rows("assessment_results.csv", 10)
        code_order = {a.code: i for i, a in enumerate(ASSESSMENTS)}
        for family, g, code, rule, alternate in TEST_PLAN:
            p = np.flatnonzero((grade == g) & self.has_prior & (self.coalt == alternate))
            if not p.size:
                continue
            size = p.size
            latent = family_latent[family][p]
            reason = NOT_TESTED[choose(rng, NOT_TESTED_RATES, size)]
            untested = rng.random(size) < 0.03
            if family == "ELA":
                new = newly_arrived[p] & (rng.random(size) < 0.8)
                reason = np.where(new, NOT_TESTED_NEW, reason)
                untested |= new
            score = np.full(size, -1, dtype=np.int64)
            level = np.full(size, EMPTY, dtype=object)
            tested = np.flatnonzero(~untested)
            if rule.levels:
                cuts = (
                    np.quantile(latent[tested], np.cumsum(rule.rates)[:-1]) if tested.size else []
                )
                which = np.searchsorted(np.asarray(cuts), latent[tested])
                low = np.array([a for a, _ in rule.ranges])[which]
                high = np.array([b for _, b in rule.ranges])[which]
                score[tested] = low + (rng.random(tested.size) * (high - low + 1)).astype(np.int64)
                level[tested] = np.array(rule.levels, dtype=object)[which]
            else:
                raw = rule.mean + rule.sd * latent[tested]
                score[tested] = np.clip(np.round(raw / 10) * 10, rule.low, rule.high).astype(
                    np.int64
                )
            growth = np.full(size, -1, dtype=np.int64)
            if g in GROWTH_GRADES and family in ("ELA", "MATH") and not alternate:
                eligible = ~untested & two_years[p]
                spread = rng.normal(size=size) + growth_effect[p]
                percentile = np.clip(np.floor(ndtr(spread / 1.03) * 99) + 1, 1, 99)
                growth = np.where(eligible, percentile, -1).astype(np.int64)
            rows.add(
                p * 64 + code_order[code],
                [
                    self.sasid[p],
                    code,
                    self.school_text[self.prior_school[p]],
                    self.prior_year_text,
                    GRADE_TEXT[grade[p] + 1],
                    INT_TEXT[score],
                    level,
                    np.where(untested, EMPTY, accommodations[p]).astype(object),
                    np.where(untested, reason, EMPTY).astype(object),
                    INT_TEXT[growth],
                ],
            )


def chunk_count(students: int) -> int:
    """How many chunks ``students`` students make (the last one may be short)."""
    return -(-students // CHUNK_STUDENTS)


def generate_chunk(layout: Layout, number: int) -> dict[str, tuple[int, str]]:
    """Every file's rows for chunk ``number``: deterministic in (seed, number) alone."""
    return Chunk(layout, number).build()
