"""``oneroster``: OneRoster 1.1 and 1.2 CSV bulk (or delta) files.

Read: orgs, academicSessions, courses, classes, users, roles (1.2), demographics, enrollments;
manifest and userProfiles are read and counted but give no record. docs/formats/oneroster.md
has the whole mapping; docs/adr/0075 the decisions:

- a student is keyed by its local ID, OneRoster ``users.identifier`` (option
  ``local_id_from: "sourcedId"`` uses ``sourcedId``); OneRoster carries no SASID;
- a *new* student needs a birth date (``demographics.birthDate``): without one the row is refused
  with its line and reason and the rest of the run goes on (``CanonicalFile.refuse_incomplete``);
  an existing student (same local ID) is updated with what the file gives;
- orgs of type ``district`` -> the district, ``school`` -> schools (the 4-character state code is
  ``identifier`` or ``options.org_codes[sourcedId]``; a new school needs a level and grades,
  which OneRoster orgs do not carry, so only existing schools are updated);
- courses -> courses (code = ``courseCode`` or ``sourcedId``; subject from the SCED prefix of
  ``subjectCodes`` or words of ``subjects``); classes -> sections of the school year of their
  term; teacher enrollments give the section's educator when the teacher has an EDID-like
  identifier (8 digits in ``identifier`` or ``{EDID:...}`` in ``userIds``); student enrollments
  -> section rosters; demographics -> the student's birth date, gender, ethnicity and race;
- header typos seen in real files (``prefferedGivenName``, ``dataLastModified``, trailing empty
  columns) are read through the preset, and every header so read is named in the report.

Every data row is accounted for: stored (added, changed, unchanged), refused with a reason,
read into another record (``merged``) or not stored with a reason (``skipped``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studentvault.records import models as m
from studentvault.records.district_files import FILES, FileSpec

from ..engine import CanonicalFile, Row
from ..errors import ImportRejected, Problem
from ..intake import ReceivedFile, csv_rows
from . import FormatOptions

SPECS: dict[str, FileSpec] = {spec.file: spec for spec in FILES}

# Known OneRoster files (lower-case name -> canonical name) and the columns each must have.
KNOWN: dict[str, str] = {
    name.lower(): name
    for name in (
        "manifest.csv",
        "orgs.csv",
        "academicSessions.csv",
        "courses.csv",
        "classes.csv",
        "users.csv",
        "roles.csv",
        "demographics.csv",
        "enrollments.csv",
        "userProfiles.csv",
    )
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "manifest.csv": ("propertyName", "value"),
    "orgs.csv": ("sourcedId", "name", "type"),
    "academicSessions.csv": ("sourcedId", "type", "startDate", "schoolYear"),
    "courses.csv": ("sourcedId", "title"),
    "classes.csv": ("sourcedId", "courseSourcedId", "schoolSourcedId", "termSourcedIds"),
    "users.csv": ("sourcedId", "givenName", "familyName"),
    "roles.csv": ("userSourcedId", "role"),
    "demographics.csv": ("sourcedId",),
    "enrollments.csv": ("classSourcedId", "userSourcedId", "role"),
    "userProfiles.csv": ("sourcedId",),
}
# Misspelled headers found in real OneRoster files -> the standard name.
HEADER_TYPOS: dict[str, str] = {
    "prefferedGivenName": "preferredGivenName",
    "prefferedMiddleName": "preferredMiddleName",
    "prefferedFamilyName": "preferredFamilyName",
    "dataLastModified": "dateLastModified",
}
SEX = {"female": "01", "male": "02", "other": "03"}
FLAGS = {
    "americanIndianOrAlaskaNative": "american_indian_alaska_native",
    "asian": "asian",
    "blackOrAfricanAmerican": "black_african_american",
    "nativeHawaiianOrOtherPacificIslander": "native_hawaiian_pacific_islander",
    "white": "white",
    "hispanicOrLatinoEthnicity": "hispanic_latino",
}
# SCED subject areas (first two digits of a course code) -> StudentVault subject.
SCED_SUBJECTS = {"01": "ELA", "02": "MATH", "03": "SCI", "04": "SS"}
SUBJECT_WORDS = {
    "math": "MATH",
    "algebra": "MATH",
    "geometry": "MATH",
    "english": "ELA",
    "reading": "ELA",
    "writing": "ELA",
    "language arts": "ELA",
    "science": "SCI",
    "physics": "SCI",
    "biology": "SCI",
    "chemistry": "SCI",
    "history": "SS",
    "social studies": "SS",
    "geography": "SS",
    "civics": "SS",
}
STUDENT_NAMES = {
    "local_id": "identifier",
    "first_name": "givenName",
    "last_name": "familyName",
    "middle_name": "middleName",
    "preferred_name": "preferredGivenName",
    "birth_date": "birthDate (demographics.csv)",
    "gender": "sex (demographics.csv)",
    "district_code": "orgs (district)",
}
EDID = re.compile(r"^\d{8}$")
USER_ID = re.compile(r"\{\s*EDID\s*:\s*(\d{8})\s*\}", re.IGNORECASE)
DELETED = "tobedeleted"


@dataclass
class _Table:
    """One OneRoster file read: its name, header and rows (line, standard column -> cell)."""

    received: ReceivedFile
    name: str
    rows: list[tuple[int, dict[str, str]]]
    mapped: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def _read(received: ReceivedFile, name: str, columns: dict[str, str]) -> _Table:
    header, rows = csv_rows(received)
    mapped: list[str] = []
    names: list[str] = []
    for h in header:
        target = columns.get(h) or HEADER_TYPOS.get(h) or h
        if target != h:
            mapped.append(f"{h!r} read as {target!r}")
        names.append(target)
    # Trailing empty header cells (",,") are tolerated: rows may omit them.
    while names and not names[-1]:
        names.pop()
    if "" in names:
        raise ImportRejected(
            [Problem(received.name, 1, None, f"column {names.index('') + 1} has no name")]
        )
    repeated = sorted({n for n in names if names.count(n) > 1})
    missing = [c for c in REQUIRED[name] if c not in names]
    if missing or repeated:
        parts = [f"missing columns {missing}"] if missing else []
        parts += [f"repeated columns {repeated}"] if repeated else []
        raise ImportRejected([Problem(received.name, 1, None, "; ".join(parts))])
    width, full = len(names), len(header)
    table = _Table(received, name, [], mapped)
    for line, cells in rows:
        if not width <= len(cells) <= full or any(c.strip() for c in cells[width:]):
            raise ImportRejected(
                [Problem(received.name, line, None, f"expected {width} fields, found {len(cells)}")]
            )
        table.rows.append((line, {n: c.strip() for n, c in zip(names, cells, strict=False)}))
    return table


def _flag(value: str) -> str:
    lowered = value.lower()
    if lowered == "true":
        return "1"
    if lowered == "false":
        return "0"
    return value  # the engine refuses it, naming line and field


def _subject(course: dict[str, str]) -> str:
    for code in re.split(r"[,\s]+", course.get("subjectCodes", "")):
        if re.fullmatch(r"\d{4,5}", code) and code[:2] in SCED_SUBJECTS:
            return SCED_SUBJECTS[code[:2]]
    words = course.get("subjects", "").lower()
    for word, subject in SUBJECT_WORDS.items():
        if word in words:
            return subject
    return ""


@dataclass
class _Orgs:
    """Org sourcedId -> (type, state code) and the district code to use by default."""

    kinds: dict[str, str] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)
    parents: dict[str, str] = field(default_factory=dict)
    default_district: str = ""

    def district_of(self, sourced_id: str) -> str:
        if self.kinds.get(sourced_id) == "district":
            return self.codes.get(sourced_id, "")
        parent = self.parents.get(sourced_id, "")
        if self.kinds.get(parent) == "district" and self.codes.get(parent):
            return self.codes[parent]
        return self.default_district


@dataclass
class OneRosterFormat:
    """OneRoster 1.1 / 1.2 CSV (orgs, academicSessions, courses, classes, users, roles,
    demographics, enrollments)."""

    name: str = "oneroster"
    description: str = "OneRoster 1.1/1.2 CSV (orgs, users, classes, enrollments, demographics)"
    text: bool = True

    def preset(self) -> dict[str, str]:
        return {
            **HEADER_TYPOS,
            "users.identifier": "student.local_id",
            "users.givenName": "student.first_name",
            "users.familyName": "student.last_name",
            "users.middleName": "student.middle_name",
            "users.preferredGivenName": "student.preferred_name",
            "demographics.birthDate": "student.birth_date",
            "demographics.sex": "student.gender (female 01, male 02, other 03)",
            "demographics.hispanicOrLatinoEthnicity": "student.hispanic_latino",
            "orgs.identifier": "school.state_code / district.state_code",
            "classes.classCode": "section.section_code",
            "courses.courseCode": "course.code",
        }

    def expand(self, paths: list[Path]) -> list[Path]:
        out: list[Path] = []
        for path in paths:
            if path.is_dir():
                out += sorted(p for p in path.iterdir() if p.name.lower() in KNOWN)
            else:
                out.append(path)
        return out

    def canonical_files(
        self, files: list[ReceivedFile], options: FormatOptions
    ) -> Iterator[CanonicalFile]:
        tables: dict[str, _Table] = {}
        for received in files:
            name = KNOWN.get(received.name.lower())
            if name is None:
                raise ImportRejected(
                    [
                        Problem(
                            received.name,
                            None,
                            None,
                            "not a OneRoster file this importer reads: "
                            + ", ".join(sorted(KNOWN.values())),
                        )
                    ]
                )
            if name in tables:
                raise ImportRejected(
                    [Problem(received.name, None, None, f"a second file for {name}")]
                )
            tables[name] = _read(received, name, options.columns)
        yield from _Run(tables, dict(options.options)).canonical()


class _Run:
    """Turns the tables of one run into canonical files, in dependency order."""

    def __init__(self, tables: dict[str, _Table], options: dict[str, Any]) -> None:
        self.tables = tables
        self.options = options
        self.orgs = _Orgs()
        self.org_codes = {str(k): str(v) for k, v in options.get("org_codes", {}).items()}
        self.users: dict[str, dict[str, str]] = {}
        self.roles: dict[str, str] = {}
        self.enrollment_roles: dict[str, str] | None = None
        self.local_ids: dict[str, str] = {}
        self.course_codes: dict[str, str] = {}
        self.sessions: dict[str, dict[str, str]] = {}
        self.classes: dict[str, dict[str, str]] = {}
        self.section_keys: dict[str, tuple[str, str, str]] = {}

    def rows(self, name: str) -> list[tuple[int, dict[str, str]]]:
        table = self.tables.get(name)
        return table.rows if table else []

    def file(self, name: str, part: str = "", **kw: Any) -> CanonicalFile:
        table = self.tables[name]
        notes = list(kw.pop("notes", []))
        if not part or part in {"district", "students"}:
            notes += [f"header {m_} (preset)" for m_ in table.mapped]
        return CanonicalFile(
            name=f"{table.received.name} ({part})" if part else table.received.name,
            notes=notes,
            **kw,
        )

    def canonical(self) -> Iterator[CanonicalFile]:
        if "manifest.csv" in self.tables:
            yield self._manifest()
        if "orgs.csv" in self.tables:
            yield from self._orgs()
        else:
            self.orgs.default_district = self._single_district()
        if "academicSessions.csv" in self.tables:
            yield self._sessions()
        if "roles.csv" in self.tables:
            yield self._roles()
        if "users.csv" in self.tables:
            yield self._students()
        if "demographics.csv" in self.tables:
            yield self._demographics_merged()
        if "userProfiles.csv" in self.tables:
            rows = self.rows("userProfiles.csv")
            yield self.file(
                "userProfiles.csv",
                spec=SPECS["students.csv"],
                rows=[],
                skipped=Counter(
                    {"user profile (system credentials: not stored)": len(rows)} if rows else {}
                ),
            )
        if "courses.csv" in self.tables:
            yield self._courses()
        for sourced_id, course in self._course_rows():
            self.course_codes.setdefault(sourced_id, course)
        if "classes.csv" in self.tables:
            yield self._sections()
        if "enrollments.csv" in self.tables:
            yield self._rosters()

    # --- manifest, orgs, sessions, roles ------------------------------------------------

    def _manifest(self) -> CanonicalFile:
        rows = self.rows("manifest.csv")
        version = next(
            (r["value"] for _, r in rows if r["propertyName"] == "oneroster.version"), ""
        )
        modes = {r["value"] for _, r in rows if r["propertyName"].startswith("file.")}
        notes = [f"OneRoster version {version or 'not stated'}"]
        if "delta" in modes:
            notes.append("delta files are applied as upserts; deletions are not applied")
        return self.file(
            "manifest.csv",
            spec=SPECS["district.csv"],
            rows=[],
            merged=Counter({"manifest property (read for the version)": len(rows)} if rows else {}),
            notes=notes,
        )

    def _single_district(self) -> str:
        if "district_code" in self.options:
            return str(self.options["district_code"])
        codes = list(m.District.objects.values_list("state_code", flat=True)[:2])
        return codes[0] if len(codes) == 1 else ""

    def _code(self, sourced_id: str, row: dict[str, str]) -> str:
        if sourced_id in self.org_codes:
            return self.org_codes[sourced_id]
        identifier = row.get("identifier", "")
        return identifier if re.fullmatch(r"\d{4}", identifier) else ""

    def _orgs(self) -> Iterator[CanonicalFile]:
        rows = self.rows("orgs.csv")
        districts: list[tuple[int, Row]] = []
        schools: list[tuple[int, Row]] = []
        refused: list[tuple[int, str | None, str]] = []
        skipped: Counter[str] = Counter()
        for _, row in rows:
            sid = row["sourcedId"]
            self.orgs.kinds[sid] = row["type"].lower()
            self.orgs.parents[sid] = row.get("parentSourcedId", "")
            code = self._code(sid, row)
            if code:
                self.orgs.codes[sid] = code
        district_codes = [c for s, c in self.orgs.codes.items() if self.orgs.kinds[s] == "district"]
        self.orgs.default_district = (
            district_codes[0] if len(district_codes) == 1 else self._single_district()
        )
        for line, row in rows:
            sid, kind = row["sourcedId"], row["type"].lower()
            if row.get("status", "").lower() == DELETED:
                skipped["org with status tobedeleted (imports do not delete)"] += 1
            elif kind not in {"district", "school"}:
                skipped[f"org of type {kind or 'none'} (no StudentVault record)"] += 1
            elif sid not in self.orgs.codes:
                refused.append(
                    (
                        line,
                        "identifier",
                        f"a {kind} org needs its 4-character state code in identifier "
                        f"(or in options.org_codes of a saved mapping)",
                    )
                )
            elif kind == "district":
                districts.append((line, {"state_code": self.orgs.codes[sid], "name": row["name"]}))
            else:
                schools.append(
                    (
                        line,
                        {
                            "district_code": self.orgs.district_of(sid),
                            "state_code": self.orgs.codes[sid],
                            "name": row["name"],
                        },
                    )
                )
        yield self.file(
            "orgs.csv",
            "district",
            spec=SPECS["district.csv"],
            rows=districts,
            skipped=skipped,
            refuse_incomplete=True,
            refused_rows=refused,
            source_names={"state_code": "identifier", "name": "name"},
        )
        yield self.file(
            "orgs.csv",
            "schools",
            spec=SPECS["schools.csv"],
            rows=schools,
            partial=True,
            refuse_incomplete=True,
            source_names={
                "state_code": "identifier",
                "level": "school level (not in OneRoster orgs)",
                "low_grade": "grades (not in OneRoster orgs)",
                "high_grade": "grades (not in OneRoster orgs)",
                "district_code": "parentSourcedId",
            },
            notes=["a new school needs its level and grades: only existing schools are updated"],
        )

    def _sessions(self) -> CanonicalFile:
        rows = self.rows("academicSessions.csv")
        for _, row in rows:
            self.sessions[row["sourcedId"]] = row
        return self.file(
            "academicSessions.csv",
            spec=SPECS["sections.csv"],
            rows=[],
            merged=Counter(
                {"academic session (gives the school year of its classes)": len(rows)}
                if rows
                else {}
            ),
        )

    def _roles(self) -> CanonicalFile:
        rows = self.rows("roles.csv")
        for _, row in sorted(rows, key=lambda r: r[1].get("roleType", "") != "primary"):
            self.roles.setdefault(row["userSourcedId"], row["role"].lower())
        return self.file(
            "roles.csv",
            spec=SPECS["students.csv"],
            rows=[],
            merged=Counter({"role (gives the user's role)": len(rows)} if rows else {}),
        )

    # --- users and demographics ---------------------------------------------------------

    def _role(self, row: dict[str, str]) -> str:
        sid = row["sourcedId"]
        if row.get("role"):
            return row["role"].lower()
        if sid in self.roles:
            return self.roles[sid]
        if self.enrollment_roles is None:
            self.enrollment_roles = {}
            for _, enrollment in self.rows("enrollments.csv"):
                self.enrollment_roles.setdefault(
                    enrollment["userSourcedId"], enrollment["role"].lower()
                )
        return self.enrollment_roles.get(sid, "")

    def _students(self) -> CanonicalFile:
        table = self.tables["users.csv"]
        key = "sourcedId" if self.options.get("local_id_from") == "sourcedId" else "identifier"
        demographics = {r["sourcedId"]: r for _, r in self.rows("demographics.csv")}
        present = {n for _, r in table.rows[:1] for n in r}
        rows: list[tuple[int, Row]] = []
        refused: list[tuple[int, str | None, str]] = []
        skipped: Counter[str] = Counter()
        for line, user in table.rows:
            sid = user["sourcedId"]
            self.users[sid] = user
            role = self._role(user)
            if user.get("status", "").lower() == DELETED:
                skipped["user with status tobedeleted (imports do not delete)"] += 1
                continue
            if role != "student":
                if role == "teacher":
                    reason = (
                        "teacher (StudentVault keeps no staff records; an EDID-like identifier "
                        "becomes the educator of the teacher's sections)"
                    )
                elif role in {"parent", "guardian", "relative"}:
                    reason = f"{role} (parent contacts come from the SIS file)"
                else:
                    reason = f"user with role {role or 'none'} (no StudentVault record)"
                skipped[reason] += 1
                continue
            local_id = user.get(key, "")
            if not local_id:
                refused.append((line, key, f"a student needs a local ID: {key} is empty"))
                continue
            self.local_ids[sid] = local_id
            row: Row = {
                "district_code": self.orgs.district_of(user.get("primaryOrgSourcedId", "")),
                "local_id": local_id,
                "first_name": user["givenName"],
                "last_name": user["familyName"],
            }
            if "middleName" in present:
                row["middle_name"] = user.get("middleName", "")
            if "preferredGivenName" in present:
                row["preferred_name"] = user.get("preferredGivenName", "")
            demo = demographics.get(sid)
            if demo is not None:
                if demo.get("birthDate"):
                    row["birth_date"] = demo["birthDate"]
                sex = demo.get("sex", "").lower()
                if sex and sex != "unspecified":
                    row["gender"] = SEX.get(sex, demo["sex"])
                flags = {c: _flag(demo[c]) for c in FLAGS if demo.get(c)}
                if flags:
                    # The engine needs all flags together: a flag left empty is "false".
                    for column, target in FLAGS.items():
                        row[target] = flags.get(column, "0")
            rows.append((line, row))
        return self.file(
            "users.csv",
            "students",
            spec=SPECS["students.csv"],
            rows=rows,
            partial=True,
            refuse_incomplete=True,
            refused_rows=refused,
            skipped=skipped,
            source_names=dict(STUDENT_NAMES) | {"local_id": key},
            notes=[f"students are keyed by their local ID, users.{key}; OneRoster has no SASID"],
        )

    def _demographics_merged(self) -> CanonicalFile:
        merged: Counter[str] = Counter()
        skipped: Counter[str] = Counter()
        for _, row in self.rows("demographics.csv"):
            if row["sourcedId"] in self.local_ids:
                merged["demographics of a student in users.csv"] += 1
            else:
                skipped["demographics of a user that is not a student stored from users.csv"] += 1
        return self.file(
            "demographics.csv",
            spec=SPECS["students.csv"],
            rows=[],
            merged=merged,
            skipped=skipped,
            notes=["demographicRaceTwoOrMoreRaces is derived from the race flags, not read"],
        )

    # --- courses, classes, enrollments --------------------------------------------------

    def _course_rows(self) -> Iterator[tuple[str, str]]:
        for _, row in self.rows("courses.csv"):
            yield row["sourcedId"], row.get("courseCode") or row["sourcedId"]

    def _courses(self) -> CanonicalFile:
        rows: list[tuple[int, Row]] = []
        refused: list[tuple[int, str | None, str]] = []
        skipped: Counter[str] = Counter()
        for line, course in self.rows("courses.csv"):
            code = course.get("courseCode") or course["sourcedId"]
            if course.get("status", "").lower() == DELETED:
                skipped["course with status tobedeleted (imports do not delete)"] += 1
                continue
            if len(code) > 20:
                refused.append((line, "courseCode", "a course code has at most 20 characters"))
                continue
            row: Row = {
                "district_code": self.orgs.district_of(course.get("orgSourcedId", "")),
                "code": code,
                "title": course["title"],
            }
            subject = _subject(course)
            if subject:
                row["subject"] = subject
            rows.append((line, row))
        return self.file(
            "courses.csv",
            spec=SPECS["courses.csv"],
            rows=rows,
            partial=True,
            refuse_incomplete=True,
            refused_rows=refused,
            skipped=skipped,
            source_names={
                "subject": "subjectCodes/subjects (no SCED area or known subject word)",
                "district_code": "orgSourcedId",
            },
        )

    def _edid(self, user_sid: str) -> str:
        user = self.users.get(user_sid, {})
        if EDID.match(user.get("identifier", "")):
            return user["identifier"]
        found = USER_ID.search(user.get("userIds", ""))
        return found.group(1) if found else ""

    def _sections(self) -> CanonicalFile:
        teachers: dict[str, str] = {}
        for _, e in sorted(
            self.rows("enrollments.csv"), key=lambda r: r[1].get("primary", "").lower() != "true"
        ):
            if e["role"].lower() == "teacher" and e.get("status", "").lower() != DELETED:
                edid = self._edid(e["userSourcedId"])
                if edid:
                    teachers.setdefault(e["classSourcedId"], edid)
        rows: list[tuple[int, Row]] = []
        refused: list[tuple[int, str | None, str]] = []
        skipped: Counter[str] = Counter()
        for line, cls in self.rows("classes.csv"):
            sid = cls["sourcedId"]
            if cls.get("status", "").lower() == DELETED:
                skipped["class with status tobedeleted (imports do not delete)"] += 1
                continue
            section_code = cls.get("classCode") or sid
            school = self.orgs.codes.get(cls["schoolSourcedId"], "")
            terms = [t.strip() for t in cls["termSourcedIds"].split(",") if t.strip()]
            year = next((self.sessions[t]["schoolYear"] for t in terms if t in self.sessions), "")
            if len(section_code) > 30:
                refused.append((line, "classCode", "a section code has at most 30 characters"))
                continue
            if not school or self.orgs.kinds.get(cls["schoolSourcedId"]) != "school":
                refused.append(
                    (
                        line,
                        "schoolSourcedId",
                        "the class's school is not a school org with a state code in orgs.csv",
                    )
                )
                continue
            if not year:
                refused.append(
                    (line, "termSourcedIds", "no term of the class is in academicSessions.csv")
                )
                continue
            self.classes[sid] = cls
            self.section_keys[sid] = (school, year, section_code)
            row: Row = {
                "course_code": self.course_codes.get(
                    cls["courseSourcedId"], cls["courseSourcedId"]
                ),
                "school_code": school,
                "school_year": year,
                "section_code": section_code,
            }
            if sid in teachers:
                row["educator_edid"] = teachers[sid]
            rows.append((line, row))
        return self.file(
            "classes.csv",
            spec=SPECS["sections.csv"],
            rows=rows,
            partial=True,
            refuse_incomplete=True,
            refused_rows=refused,
            skipped=skipped,
            source_names={
                "educator_edid": "a teacher enrollment with an EDID-like identifier",
                "course_code": "courseSourcedId",
            },
        )

    def _rosters(self) -> CanonicalFile:
        rows: list[tuple[int, Row]] = []
        refused: list[tuple[int, str | None, str]] = []
        skipped: Counter[str] = Counter()
        merged: Counter[str] = Counter()
        for line, e in self.rows("enrollments.csv"):
            role = e["role"].lower()
            if e.get("status", "").lower() == DELETED:
                skipped["enrollment with status tobedeleted (imports do not delete)"] += 1
            elif role == "teacher":
                if self._edid(e["userSourcedId"]) and e["classSourcedId"] in self.section_keys:
                    merged["teacher enrollment (gives the section's educator)"] += 1
                else:
                    skipped["teacher enrollment without an EDID-like identifier"] += 1
            elif role != "student":
                skipped[f"enrollment with role {role or 'none'} (no StudentVault record)"] += 1
            elif e["classSourcedId"] not in self.section_keys:
                refused.append(
                    (line, "classSourcedId", "the class is not a section stored from classes.csv")
                )
            elif e["userSourcedId"] not in self.users:
                refused.append((line, "userSourcedId", "the user is not in users.csv"))
            else:
                school, year, section = self.section_keys[e["classSourcedId"]]
                term = next(
                    (
                        self.sessions[t]
                        for t in self.classes[e["classSourcedId"]]["termSourcedIds"].split(",")
                        if t.strip() in self.sessions
                    ),
                    {},
                )
                rows.append(
                    (
                        line,
                        {
                            "school_code": school,
                            "school_year": year,
                            "section_code": section,
                            "local_id": self.local_ids.get(e["userSourcedId"], ""),
                            "begin_date": e.get("beginDate") or term.get("startDate", ""),
                            "end_date": e.get("endDate", ""),
                        },
                    )
                )
        return self.file(
            "enrollments.csv",
            spec=SPECS["section_enrollments.csv"],
            rows=rows,
            refuse_incomplete=True,
            refused_rows=refused,
            skipped=skipped,
            merged=merged,
            source_names={
                "local_id": "userSourcedId",
                "section_code": "classSourcedId",
                "begin_date": "beginDate",
            },
        )
