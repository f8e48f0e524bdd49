"""The shape of a synthetic district: schools, who sits where, courses, sections, assessments.

Everything here is drawn once from the seed, before any student is generated, so each chunk of
students can be generated on its own (in any process) and still agree with the others. Students
are laid out in index order school by school and grade by grade: student ``i`` belongs to the
block (school, grade) whose range holds ``i``, and its rank inside the block decides its course
sections without any random draw.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from ..codes import code_set
from .text import IntArray, day, word_list

DISTRICT_CODE = "9999"
MIN_STUDENTS = 50
MAX_STUDENTS = 5_000_000
MIN_SCHOOL_YEAR = 2000
MAX_SCHOOL_YEAR = 2100
SECTION_SIZE = 28
MONDAY, TUESDAY, THURSDAY, FRIDAY = 0, 1, 3, 4


def school_year_on(today: dt.date) -> int:
    """The school year in force on ``today``, named by its ending year; July 1 starts the next.

    The rule of ``access.policy.current_school_year`` without its settings override, so that
    the generator needs no Django settings (the ``generate`` command passes the configured one).
    """
    return today.year + 1 if today.month >= 7 else today.year


def school_day(school_year: int, month_day: str, *, fall: bool) -> int:
    """The day number of ``month_day`` ("MM-DD") in school year ``school_year``: in its fall
    (July to December of calendar year ``school_year - 1``) or in its spring (January to June
    of calendar year ``school_year``), by the July 1 rule of ``school_year_on``."""
    month = int(month_day[:2])
    if fall != (month >= 7):
        half = "fall (07-12)" if fall else "spring (01-06)"
        raise ValueError(f"{month_day} is not in the {half} of a school year")
    year = school_year - 1 if fall else school_year
    return day(f"{year:04d}-{month_day}")


def weekday_of_month(year: int, month: int, weekday: int, nth: int) -> int:
    """The day number of the ``nth`` ``weekday`` (Monday 0) of a month; ``nth=-1``: the last."""
    if nth > 0:
        first = dt.date(year, month, 1)
        found = first + dt.timedelta((weekday - first.weekday()) % 7 + 7 * (nth - 1))
    else:
        after = dt.date(year + month // 12, month % 12 + 1, 1)
        last = after - dt.timedelta(1)
        found = last - dt.timedelta((last.weekday() - weekday) % 7)
    if found.month != month:
        raise ValueError(f"{year}-{month:02d} has no weekday {weekday} number {nth}")
    return day(found.isoformat())


@dataclass(frozen=True)
class SchoolCalendar:
    """The fixed dates of school year ``school_year`` and of the year before, as day numbers.

    Every date the generator writes is one of these or is drawn inside a window derived from
    the school year (``fall``/``spring``), never a literal, so one seed gives the same district
    in any year with its dates moved. School days fall on the usual weekdays: the year starts
    on the third Monday of August, the fall term ends on the third Friday of December, the
    spring term starts on the first Tuesday after New Year's Day, and the prior year ended on
    the last Thursday of May (for 2025-26 these are 2025-08-18, 2025-12-19, 2026-01-06 and
    2025-05-29, with the prior year from 2024-08-19).
    """

    school_year: int
    prior_year: int
    year_start: int
    fall_end: int
    spring_start: int
    prior_start: int
    prior_end: int

    def fall(self, month_day: str) -> int:
        """A day of the fall of this school year ("MM-DD" in calendar year school_year - 1)."""
        return school_day(self.school_year, month_day, fall=True)

    def spring(self, month_day: str, *, years_before: int = 0) -> int:
        """A day of the spring of this school year, or of the one ``years_before`` earlier
        ("MM-DD" in calendar year school_year - years_before)."""
        return school_day(self.school_year - years_before, month_day, fall=False)


def school_calendar(school_year: int) -> SchoolCalendar:
    """The calendar of ``school_year`` (named by its ending year: 2026 is 2025-26)."""
    if not MIN_SCHOOL_YEAR <= school_year <= MAX_SCHOOL_YEAR:
        raise ValueError(
            f"--school-year must be between {MIN_SCHOOL_YEAR} and {MAX_SCHOOL_YEAR} "
            f"(a school year is named by the year it ends in), got {school_year}"
        )
    fall, spring, prior = school_year - 1, school_year, school_year - 2
    new_year = dt.date(spring, 1, 2)
    return SchoolCalendar(
        school_year=school_year,
        prior_year=school_year - 1,
        year_start=weekday_of_month(fall, 8, MONDAY, 3),
        fall_end=weekday_of_month(fall, 12, FRIDAY, 3),
        spring_start=day((new_year + dt.timedelta((TUESDAY - new_year.weekday()) % 7)).isoformat()),
        prior_start=weekday_of_month(prior, 8, MONDAY, 3),
        prior_end=weekday_of_month(fall, 5, THURSDAY, -1),
    )


def checked(set_name: str, *codes: str) -> tuple[str, ...]:
    """The given codes, after making sure each is in the code set (no code typed wrongly)."""
    known = code_set(set_name)
    for value in codes:
        if value not in known:
            raise LookupError(f"code {value!r} is not in code set {set_name!r}")
    return codes


# Grade ordinal (-1 preschool, 0 kindergarten, 1..12) -> state three-digit grade code.
_GRADE_BY_ORDINAL = {
    int(ordinal): code
    for code, ordinal in code_set("grade_level").column("ordinal").items()
    if code != "006"  # half-day kindergarten: every synthetic kindergartner is full day (007)
}
GRADE_CODES: tuple[str, ...] = tuple(_GRADE_BY_ORDINAL[g] for g in range(-1, 13))


def grade_code(ordinal: int) -> str:
    """The state grade code of a grade ordinal (-1 = preschool ... 12)."""
    return GRADE_CODES[ordinal + 1]


@dataclass(frozen=True)
class SchoolKind:
    level: str
    low: int
    high: int
    word: str
    tiny: bool = False


EARLY = SchoolKind("EC", -1, -1, "Early Learning Center")
ELEMENTARY = SchoolKind("EL", 0, 5, "Elementary School")
K8 = SchoolKind("K8", 0, 8, "K-8 School")
MIDDLE = SchoolKind("MS", 6, 8, "Middle School")
HIGH = SchoolKind("HS", 9, 12, "High School")
ALTERNATIVE = SchoolKind("HS", 9, 12, "Alternative High School", tiny=True)
checked("school_level", *(k.level for k in (EARLY, ELEMENTARY, K8, MIDDLE, HIGH)))


@dataclass
class School:
    """One synthetic school and the rates that make its students differ from its neighbours'."""

    index: int
    code: str
    name: str
    kind: SchoolKind
    weight: float
    lunch_rate: float
    hispanic_factor: float
    achievement: float
    title_i: bool = False

    def serves(self, grade: int) -> bool:
        return self.kind.low <= grade <= self.kind.high


@dataclass(frozen=True)
class Course:
    code: str
    title: str
    subject: str
    sced_code: str
    credits: str


@dataclass(frozen=True)
class Period:
    """One of the six course slots of a secondary grade: a course and its term."""

    course: Course
    term: str  # "year", "fall" or "spring"


@dataclass(frozen=True)
class Assessment:
    code: str
    title: str
    kind: str
    subject: str


def _middle_periods(grade: int) -> list[Period]:
    g = f"{grade}"
    rows = [
        (f"ELA{grade:02d}", f"Language Arts {g}", "ELA"),
        (f"MATH{grade:02d}", f"Mathematics {g}", "MATH"),
        (f"SCI{grade:02d}", f"Science {g}", "SCI"),
        (f"SS{grade:02d}", f"Social Studies {g}", "SS"),
        (f"RDG{grade:02d}", f"Reading Workshop {g}", "ELA"),
        (f"MLAB{grade:02d}", f"Math Lab {g}", "MATH"),
    ]
    return [Period(Course(c, t, s, "", ""), "year") for c, t, s in rows]


# SCED codes are illustrative (the shape of the statewide standard codes), not a crosswalk.
_HIGH_COURSES: dict[int, list[tuple[str, str, str, str]]] = {
    9: [
        ("ENG09", "English 9", "ELA", "01001"),
        ("ALG1", "Algebra I", "MATH", "02052"),
        ("PHYSCI", "Physical Science", "SCI", "03159"),
        ("WGEO", "World Geography", "SS", "04001"),
        ("SPEECH", "Speech and Debate", "ELA", "01151"),
        ("EARTH", "Earth and Space Science", "SCI", "03001"),
    ],
    10: [
        ("ENG10", "English 10", "ELA", "01002"),
        ("GEOM", "Geometry", "MATH", "02072"),
        ("BIO", "Biology", "SCI", "03051"),
        ("WHIST", "World History", "SS", "04051"),
        ("JOURN", "Journalism", "ELA", "01201"),
        ("STATS", "Introductory Statistics", "MATH", "02201"),
    ],
    11: [
        ("ENG11", "American Literature", "ELA", "01003"),
        ("ALG2", "Algebra II", "MATH", "02056"),
        ("CHEM", "Chemistry", "SCI", "03101"),
        ("USHIST", "United States History", "SS", "04101"),
        ("CREWR", "Creative Writing", "ELA", "01104"),
        ("ENVSCI", "Environmental Science", "SCI", "03003"),
    ],
    12: [
        ("ENG12", "British Literature", "ELA", "01004"),
        ("PRECALC", "Precalculus", "MATH", "02110"),
        ("PHYS", "Physics", "SCI", "03151"),
        ("CIVICS", "Civics and Government", "SS", "04151"),
        ("ECON", "Economics", "SS", "04201"),
        ("ANAT", "Anatomy and Physiology", "SCI", "03053"),
    ],
}


def _high_periods(grade: int) -> list[Period]:
    courses = [Course(c, t, s, sced, "0.50") for c, t, s, sced in _HIGH_COURSES[grade]]
    return [Period(c, "fall" if i < 3 else "spring") for i, c in enumerate(courses)]


PERIODS: dict[int, list[Period]] = {
    **{g: _middle_periods(g) for g in (6, 7, 8)},
    **{g: _high_periods(g) for g in (9, 10, 11, 12)},
}
COURSES: tuple[Course, ...] = tuple(p.course for g in sorted(PERIODS) for p in PERIODS[g])
checked("subject", *{c.subject for c in COURSES})

CMAS_GRADES = (3, 4, 5, 6, 7, 8)
SCIENCE_GRADES = (5, 8, 11)


def _assessments() -> tuple[Assessment, ...]:
    found: list[Assessment] = []
    for g in CMAS_GRADES:
        found.append(
            Assessment(f"CMAS-ELA-{g:02d}", f"CMAS English Language Arts Grade {g}", "state", "ELA")
        )
        found.append(
            Assessment(f"CMAS-MATH-{g:02d}", f"CMAS Mathematics Grade {g}", "state", "MATH")
        )
    for g in SCIENCE_GRADES:
        found.append(Assessment(f"CMAS-SCI-{g:02d}", f"CMAS Science Grade {g}", "state", "SCI"))
    found += [
        Assessment(
            "PSAT10-ERW", "PSAT 10 Evidence-Based Reading and Writing", "college_prep", "ERW"
        ),
        Assessment("PSAT10-MATH", "PSAT 10 Math", "college_prep", "MATH"),
        Assessment("SAT-ERW", "SAT Evidence-Based Reading and Writing", "college_entrance", "ERW"),
        Assessment("SAT-MATH", "SAT Math", "college_entrance", "MATH"),
    ]
    for g in (*CMAS_GRADES, 10, 11):
        found.append(
            Assessment(
                f"COALT-ELA-{g:02d}", f"CoAlt English Language Arts Grade {g}", "alternate", "ELA"
            )
        )
        found.append(
            Assessment(f"COALT-MATH-{g:02d}", f"CoAlt Mathematics Grade {g}", "alternate", "MATH")
        )
    for g in SCIENCE_GRADES:
        found.append(
            Assessment(f"COALT-SCI-{g:02d}", f"CoAlt Science Grade {g}", "alternate", "SCI")
        )
    checked("assessment_kind", *{a.kind for a in found})
    checked("subject", *{a.subject for a in found})
    return tuple(found)


ASSESSMENTS = _assessments()

# Share of each grade in the K-12 enrollment (kindergarten smaller, ninth grade larger).
_GRADE_WEIGHTS = np.array([0.95, 1, 1, 1, 1, 1, 1, 1, 1, 1.08, 1.03, 1.0, 0.95])
PRESCHOOL_SHARE = 0.02
LUNCH_RATE = 0.40  # district share of students eligible for free or reduced-price lunch


def largest_remainder(total: int, weights: np.ndarray) -> IntArray:
    """Split ``total`` into whole parts proportional to ``weights`` (Hamilton's method)."""
    if total <= 0 or weights.size == 0:
        return np.zeros(weights.size, dtype=np.int64)
    exact = total * weights / weights.sum()
    parts = np.floor(exact).astype(np.int64)
    short = total - int(parts.sum())
    order = np.argsort(-(exact - parts), kind="stable")
    parts[order[:short]] += 1
    result: IntArray = parts
    return result


@dataclass
class Layout:
    """The district drawn from a seed: schools, student blocks, sections, name lists."""

    seed: int
    students: int
    calendar: SchoolCalendar
    district_name: str
    schools: list[School]
    # One block per (school, grade) with students, in student index order.
    block_school: IntArray
    block_grade: IntArray
    block_start: IntArray
    block_count: IntArray
    block_sections: IntArray  # sections per course slot (0 below grade 6)
    # Regular (not tiny, not early childhood) schools serving each grade, for feeders/transfers.
    serving: dict[int, IntArray] = field(default_factory=dict)
    sasid_keys: tuple[int, ...] = ()
    local_multiplier: int = 1
    local_offset: int = 0

    @property
    def school_codes(self) -> list[str]:
        return [s.code for s in self.schools]


def _school_counts(students: int) -> list[tuple[SchoolKind, int]]:
    return [
        (EARLY, max(1, round(students / 60_000))),
        (ELEMENTARY, max(1, round(students * 0.40 / 800))),
        (K8, max(1, round(students / 25_000))),
        (MIDDLE, max(1, round(students * 0.19 / 1_100))),
        (HIGH, max(1, round(students * 0.26 / 2_000))),
        (ALTERNATIVE, max(1, round(students / 10_000))),
    ]


def _names(rng: np.random.Generator, kinds: list[tuple[SchoolKind, int]]) -> list[str]:
    places = word_list("place_names")
    endings = (
        "",
        " Creek",
        " Ridge",
        " Park",
        " Valley",
        " Heights",
        " Hills",
        " Mesa",
        " Springs",
        " Meadows",
    )
    combos = [p + e for p in places for e in endings]
    names: list[str] = []
    for kind, count in kinds:
        order = rng.permutation(len(combos))
        for i in range(count):
            base = combos[int(order[i % len(combos)])]
            suffix = "" if i < len(combos) else f" {i // len(combos) + 1}"
            names.append(f"{base}{suffix} {kind.word}")
    return names


def build_layout(seed: int, students: int, school_year: int) -> Layout:
    """Draw the district's schools and the placement of ``students`` students from ``seed``.

    The draw does not depend on ``school_year``: the same seed gives the same schools and
    students in any year; only the calendar (and so every date) moves.
    """
    calendar = school_calendar(school_year)
    if not MIN_STUDENTS <= students <= MAX_STUDENTS:
        raise ValueError(
            f"--students must be between {MIN_STUDENTS} and {MAX_STUDENTS}, got {students}"
        )
    if seed < 0:
        raise ValueError(f"--seed must be zero or a positive whole number, got {seed}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    kinds = _school_counts(students)
    total_schools = sum(n for _, n in kinds)
    codes = np.sort(rng.choice(8_990, size=total_schools, replace=False) + 1_000)
    names = _names(rng, kinds)
    code_order = rng.permutation(total_schools)
    schools: list[School] = []
    for kind, count in kinds:
        for _ in range(count):
            i = len(schools)
            lunch = float(np.clip(rng.beta(2.2, 3.3), 0.03, 0.95))
            schools.append(
                School(
                    index=i,
                    code=f"{int(codes[code_order[i]]):04d}",
                    name=names[i],
                    kind=kind,
                    weight=float(rng.lognormal(0.0, 0.3 if kind is EARLY else 0.55)),
                    lunch_rate=lunch,
                    hispanic_factor=float(np.exp(1.6 * (lunch - 0.4) + rng.normal(0, 0.25))),
                    achievement=float(rng.normal(0.0, 0.25) - 0.6 * (lunch - 0.4)),
                )
            )
    for school in schools:
        if school.kind is ALTERNATIVE:
            school.lunch_rate = min(0.95, school.lunch_rate + 0.2)
            school.achievement -= 0.4

    preschool = round(students * PRESCHOOL_SHARE)
    grade_totals = {-1: preschool}
    for g, n in enumerate(largest_remainder(students - preschool, _GRADE_WEIGHTS)):
        grade_totals[g] = int(n)

    counts = np.zeros((len(schools), 14), dtype=np.int64)  # column g + 1
    tiny = [s for s in schools if s.kind.tiny]
    for g, total in grade_totals.items():
        remaining = total
        if g >= 9:
            share = {9: 0.15, 10: 0.25, 11: 0.3, 12: 0.3}[g]
            sizes = [int(rng.integers(20, 160)) for _ in tiny]
            for school, size in zip(tiny, sizes, strict=True):
                take = min(round(size * share), remaining // (4 * len(tiny) or 1))
                counts[school.index, g + 1] = take
                remaining -= take
        regular = [s for s in schools if s.serves(g) and not s.kind.tiny]
        weights = np.array([s.weight * (0.6 if s.kind is K8 else 1.0) for s in regular])
        for school, n in zip(regular, largest_remainder(remaining, weights), strict=True):
            counts[school.index, g + 1] = n

    # Make the student-weighted district rates the documented ones, whatever the draw of schools.
    sizes = counts.sum(axis=1).astype(np.float64)
    mean_lunch = float(np.dot(sizes, [s.lunch_rate for s in schools]) / sizes.sum())
    mean_hispanic = float(np.dot(sizes, [s.hispanic_factor for s in schools]) / sizes.sum())
    for school in schools:
        school.lunch_rate = min(0.95, school.lunch_rate * LUNCH_RATE / mean_lunch)
        school.hispanic_factor /= mean_hispanic
        school.title_i = school.kind in (ELEMENTARY, K8) and school.lunch_rate >= 0.55

    block_school, block_grade, block_count = [], [], []
    for school in schools:
        for g in range(-1, 13):
            if counts[school.index, g + 1] > 0:
                block_school.append(school.index)
                block_grade.append(g)
                block_count.append(int(counts[school.index, g + 1]))
    count_array = np.array(block_count, dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(count_array)[:-1]]).astype(np.int64)
    grade_array = np.array(block_grade, dtype=np.int64)
    sections = np.where(grade_array >= 6, -(-count_array // SECTION_SIZE), 0)

    serving = {
        g: np.array([s.index for s in schools if s.serves(g) and not s.kind.tiny], dtype=np.int64)
        for g in range(-1, 13)
    }
    keys = tuple(int(k) for k in rng.integers(1, 2**31, size=4))
    multiplier = int(rng.integers(1_000_000, 9_999_999)) * 10 + 3  # odd, not a multiple of 5
    district = f"{names[0].split(' ')[0]} Valley Consolidated School District (synthetic)"
    return Layout(
        seed=seed,
        students=students,
        calendar=calendar,
        district_name=district,
        schools=schools,
        block_school=np.array(block_school, dtype=np.int64),
        block_grade=grade_array,
        block_start=start,
        block_count=count_array,
        block_sections=sections.astype(np.int64),
        serving=serving,
        sasid_keys=keys,
        local_multiplier=multiplier,
        local_offset=int(rng.integers(0, 10**8)),
    )


def sasids(layout: Layout, index: IntArray) -> IntArray:
    """Ten-digit SASIDs for student indexes: a keyed permutation, so unique by construction.

    A four-round Feistel network permutes [0, 2**34); cycle walking keeps its output below
    9e9, and adding 1e9 gives ten digits that never start with zero.
    """
    mask = np.uint64((1 << 17) - 1)
    limit = 9_000_000_000

    def permute(x: np.ndarray) -> np.ndarray:
        left = (x >> np.uint64(17)) & mask
        right = x & mask
        for key in layout.sasid_keys:
            f = (right * np.uint64(0x9E3779B97F4A7C15)) ^ np.uint64(key)
            f ^= f >> np.uint64(29)
            f = (f * np.uint64(0xBF58476D1CE4E5B9)) >> np.uint64(40)
            left, right = right, left ^ (f & mask)
        return (left << np.uint64(17)) | right

    values = permute(index.astype(np.uint64))
    outside = values >= limit
    while outside.any():
        values[outside] = permute(values[outside])
        outside = values >= limit
    return (values + np.uint64(1_000_000_000)).astype(np.int64)


def local_ids(layout: Layout, index: IntArray) -> list[str]:
    """District student numbers: an affine permutation of eight digits, unique by construction."""
    values = (index * layout.local_multiplier + layout.local_offset) % 10**8
    return [f"{v:08d}" for v in values.tolist()]


def section_code(course: Course, grade: int, number: int) -> str:
    """The section identifier, unique within a school and year."""
    return f"{course.code}-{grade:02d}-{number:03d}"


def educator_edid(school: School, teacher: int) -> str:
    """A synthetic eight-digit EDID for a teacher of a school (starts with 9: not a real one)."""
    return f"9{school.index:04d}{teacher % 1000:03d}"
