"""The upsert engine: canonical rows in, students and their records added, changed or left.

Every import format translates its source into *canonical rows*: dictionaries of the columns of
the synthetic district layout (docs/formats/synthetic-district.md) for one of the loader's
``FileSpec``s. This engine parses them with the loader's own parser (by kind of value and code
set), resolves natural keys, compares them with what is stored and writes the difference.

Invariants:
- upserts are keyed by the model's unique constraint; a student by SASID through the blind
  index (local ID when a source carries no SASID); rows of models without a unique constraint
  are matched on all their values, so importing the same file twice changes nothing;
- comparison is made on decrypted current values against parsed incoming values; only the fields
  a source provides are compared and written (``partial`` sources leave the others as they are);
- authorization: every row that names a student needs ``change`` on the row's categories for
  that student (``access.policy.student_scope_filter(action="change")``), whether the row adds,
  changes or leaves data, so the outcome reveals nothing outside the actor's scope. Existing
  students are checked before anything is written; students created by the run are checked after
  the run's writes, inside the transaction (a school-scoped account may thus create students
  enrolled at its school, nobody else). Organization rows (district, schools, courses, sections,
  assessments) that are added or changed need a current district-scope grant whose role allows
  ``change`` on the category;
- the caller runs the engine inside one transaction and rolls it back on any problem or for a
  dry run; problems name file, line and field, never a value;
- a batch in which nothing stored can match any row (students none of whom is known; records of
  students all created by this run, of models whose unique key contains the student) is
  written by the bulk writer (``bulk.py``), after the same checks and with the same counts,
  preview, touched students and categories as the general path; everything else goes the
  general way, which compares rows with what is stored, saves the changes on model instances
  and hands its adds (rows no stored row matches) to the bulk writer. A batch whose rows are
  all valid is parsed by a lean pass, by column (each distinct text of a column parsed once),
  that gives what the reference loop gives row by row (``_Batch``); any invalid row sends the
  batch to the reference loop, which reports;
- a first load (``first_load``, set by the import service when no student was stored at the
  start and the student tables are locked to the run: ``exchange.first_load``) finds students
  only among those the run created, by the normalised identifier the blind index hashes, and
  asks the database nothing about them; so students' rows stream into COPY like any other
  rows (docs/adr/0080);
- a source marked ``refuse_incomplete`` (OneRoster: docs/adr/0075) refuses *individual rows*
  that are valid but cannot make a record: a new record without an element the data model needs
  to create it (``REQUIRED_TO_CREATE``: a student's birth date...) or a row that refers to a
  record neither stored nor added by the run. Each refusal is reported with file, line, element
  and reason, and counted, so rows added + changed + unchanged + refused + not stored = rows in
  the file. Bad values, unknown codes and duplicate keys still reject the whole run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import islice
from typing import Any

from django.db import models

from studentvault.access.models import Grant
from studentvault.access.policy import Action, actor_user_id, scope_denial, student_scope_filter
from studentvault.core.actors import Actor
from studentvault.core.categories import DataCategory
from studentvault.core.elements import DataElement, data_element_of
from studentvault.crypto.blind_index import INDEXES, index_function
from studentvault.crypto.fields import EncryptedMixin
from studentvault.people.roles import ScopeKind, get_role
from studentvault.records import models as m
from studentvault.records.district_files import (
    FileSpec,
    parse_column,
    parse_value,
    value_fields,
)

from . import bulk
from .errors import Problem

BATCH = 2000
MAX_PROBLEMS = 200
PREVIEW_LIMIT = 200
REFUSALS_LISTED = 200

# Elements a record cannot be created without when a (partial) source does not give them; an
# existing record is updated with what the source gives.
REQUIRED_TO_CREATE: dict[type[models.Model], tuple[str, ...]] = {
    m.Student: ("birth_date",),
    m.School: ("level", "low_grade", "high_grade"),
    m.Course: ("title", "subject"),
    m.Section: ("educator_edid",),
}

Row = dict[str, str]
Cells = list[str]


@dataclass
class CanonicalFile:
    """One source file (or one kind of element of it) as canonical rows for one model."""

    name: str
    spec: FileSpec
    # (line, row) pairs: each row a dict of canonical column -> text or, when ``header`` is
    # given, the row's texts in the order of ``header`` (canonical column names).
    rows: Iterable[tuple[int, Row]] | Iterable[tuple[int, Cells]]
    partial: bool = False
    notes: list[str] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    source_records: int | None = None
    # Refuse rows that cannot make a record one by one (with reasons) instead of the whole run.
    refuse_incomplete: bool = False
    # Canonical column -> the source's own name of the element, for refusal messages.
    source_names: dict[str, str] = field(default_factory=dict)
    # Rows the format itself refused: (line, source element, reason).
    refused_rows: list[tuple[int, str | None, str]] = field(default_factory=list)
    # Rows read into other records (e.g. demographics into students): reason -> count.
    merged: Counter[str] = field(default_factory=Counter)
    header: list[str] | None = None


@dataclass
class WorkerResults:
    """An engine's results from applying one file in a worker process (``Engine.results``)."""

    counts: list[FileCounts]
    problems: list[Problem]
    preview: list[dict[str, Any]]
    touched_students: set[int]
    touched_categories: set[DataCategory]
    new_student_categories: dict[DataCategory, set[int]]


@dataclass
class FileCounts:
    """What the engine did with one canonical file."""

    name: str
    model: str
    rows: int = 0
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    refused: int = 0
    refusals: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    merged: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model,
            "rows": self.rows,
            "added": self.added,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "refused": self.refused,
            "refusals": self.refusals,
            "skipped": self.skipped,
            "merged": self.merged,
            "notes": self.notes,
        }


@dataclass
class _Parsed:
    line: int
    values: dict[str, Any]  # attname -> value (links as <link>_id)
    provided: list[str]  # attnames provided by the source
    students: list[int]


class _Texts:
    """The source texts of one batch of rows, by row or by column, whichever is asked: made
    from (line, dict) rows, or from (line, cells) rows and the file's header."""

    def __init__(self, batch: list[tuple[int, Any]], header: list[str] | None) -> None:
        self.lines = [line for line, _ in batch]
        self._batch = batch
        self._header = header
        self._by_name: dict[str, Sequence[str]] | None = None
        if header is not None:
            columns = zip(*[cells for _, cells in batch], strict=True)
            self._by_name = dict(zip(header, columns, strict=True))

    def __len__(self) -> int:
        return len(self.lines)

    def rows(self) -> list[tuple[int, Row]]:
        """(line, dict) per row, as the reference parse reads them."""
        if self._header is None:
            return self._batch
        header = self._header
        return [(line, dict(zip(header, cells, strict=True))) for line, cells in self._batch]

    def column(self, name: str, missing: str | None = None) -> Sequence[str]:
        """Each row's text of column ``name``; where a row has no such column, ``missing``
        (KeyError when ``missing`` is None)."""
        if self._by_name is not None:
            found = self._by_name.get(name)
            if found is not None:
                return found
            if missing is None:
                raise KeyError(name)
            return [missing] * len(self.lines)
        if missing is None:
            return [row[name] for _, row in self._batch]
        return [row.get(name, missing) for _, row in self._batch]


class _Batch:
    """One batch of parsed rows, as the parse gave it: by row (the reference parse: a
    :class:`_Parsed` per row) or by column (the lean parse: every row gives the same elements,
    ``columns[attname][i]`` is row i's value). Either view can be asked for; the other is made
    from it when first asked (the rows view of a column batch is what the reference parse gives
    for the same rows: tested)."""

    def __init__(
        self,
        *,
        rows: list[_Parsed] | None = None,
        lines: list[int] | None = None,
        columns: dict[str, list[Any]] | None = None,
        provided: list[str] | None = None,
        student_link: bool = False,
    ) -> None:
        self._rows = rows
        self.by_column = columns is not None
        self._columns = columns or {}
        self.provided = provided or []  # by column: what every row gives
        self._student_link = student_link
        self.lines = lines if lines is not None else [p.line for p in rows or []]

    def __len__(self) -> int:
        return len(self.lines)

    @property
    def columns(self) -> dict[str, list[Any]]:
        if not self.by_column:
            raise ValueError("a batch parsed by row has no column view (rows may differ)")
        return self._columns

    @property
    def rows(self) -> list[_Parsed]:
        if self._rows is None:
            names = list(self._columns)
            cells = zip(*self._columns.values(), strict=True)
            students = self._columns.get("student_id") if self._student_link else None
            self._rows = [
                _Parsed(
                    line,
                    dict(zip(names, values, strict=True)),
                    list(self.provided),
                    [students[i]] if students is not None else [],
                )
                for i, (line, values) in enumerate(zip(self.lines, cells, strict=True))
            ]
        return self._rows

    def column(self, attname: str) -> list[Any]:
        """Each row's value of ``attname`` (None where a row does not give it)."""
        if self.by_column:
            found = self._columns.get(attname)
            return found if found is not None else [None] * len(self.lines)
        return [p.values.get(attname) for p in self.rows]

    def provided_names(self) -> set[str]:
        """Every element some row of the batch gives."""
        if self.by_column:
            return set(self.provided)
        return {name for p in self.rows for name in p.provided}


def _normalised(index: str, value: str) -> str:
    """``value`` as the blind index ``index`` (``sasid``, ``local_id``) reads it before hashing:
    two values that give the same normalised text name the same student."""
    (normalize,) = INDEXES[index]
    return str(normalize(value))


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _model_categories(model: type[models.Model], attnames: Iterable[str]) -> set[DataCategory]:
    return set(_categories_of(model, tuple(sorted(set(attnames)))))


@cache
def _categories_of(model: type[models.Model], attnames: tuple[str, ...]) -> frozenset[DataCategory]:
    found: set[DataCategory] = set()
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    for name in attnames:
        f = by_attname.get(name)
        element = data_element_of(f) if f is not None else None
        if element is not None:
            found.add(element.category)
    return frozenset(found)


@cache
def _unique_key(model: type[models.Model]) -> tuple[str, ...] | None:
    """The attnames of the model's first unique constraint (links as ``<name>_id``)."""
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields:
            names = []
            for name in constraint.fields:
                f = model._meta.get_field(name)
                names.append(f.attname if isinstance(f, models.ForeignKey) else name)
            return tuple(names)
    return None


def _runs(ids: list[int], *, gap: int = 1000, span: int = 250_000) -> Iterable[tuple[int, int]]:
    """(low, high) ranges covering sorted ``ids``: a new range where ids are more than ``gap``
    apart or the range would cover more than ``span`` ids."""
    if not ids:
        return
    low = previous = ids[0]
    for pk in ids[1:]:
        if pk - previous > gap or pk - low >= span:
            yield low, previous
            low = pk
        previous = pk
    yield low, previous


def _narrowing(
    model: type[models.Model], unique: tuple[str, ...] | None, parsed: list[_Parsed]
) -> dict[str, Any]:
    """Lookups keeping every stored row whose unique key could equal the key of a row of
    ``parsed`` (a superset; the caller matches keys exactly): ``<attname>__in`` for each plain
    element of the key that every row gives a value for. Empty (every row) otherwise."""
    if unique is None:
        return {}
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    lookups: dict[str, Any] = {}
    for name in unique:
        f = by_attname.get(name)
        if f is None or isinstance(f, EncryptedMixin):
            continue
        values = [p.values.get(name) for p in parsed]
        if any(v is None or isinstance(v, list) for v in values):
            continue
        lookups[f"{name}__in"] = set(values)
    return lookups


class Engine:
    """Applies canonical files for one actor; run it inside ``transaction.atomic()``."""

    def __init__(
        self,
        *,
        actor: Actor,
        progress: Callable[[str, int], None] | None = None,
    ) -> None:
        self.actor = actor
        self.progress = progress
        self.problems: list[Problem] = []
        self.counts: list[FileCounts] = []
        self.preview: list[dict[str, Any]] = []
        self.touched_students: set[int] = set()
        self.touched_categories: set[DataCategory] = set()
        self.new_students: dict[int, tuple[str, int]] = {}  # pk -> (file, line) that made it
        self.new_student_categories: dict[DataCategory, set[int]] = {}
        self._scope_cache: dict[DataCategory, Any] = {}
        self._district_wide: dict[DataCategory, bool] = {}
        self._categories_cache: dict[tuple[str, ...], set[DataCategory]] = {}
        self._streams = bulk.CopyStreams()
        self._school_codes: dict[int, str] = {}
        self._keys: dict[str, dict[tuple[Any, ...], int]] = {}  # organizations' natural keys
        # Students found so far, by the SASID or local ID text a file gave (identifier -> pk).
        self._students: dict[str, dict[str, int]] = {"sasid": {}, "local_id": {}}
        self._loaded_orgs = False
        # Students this run created, by normalised SASID and local ID (see _resolve_students).
        self._created: dict[str, dict[str, int]] = {"sasid": {}, "local_id": {}}
        # Set by the import service when no student was stored at the start and none can be
        # added by anyone else until the run ends (exchange.first_load): every stored student
        # is then one this run created, and students are found without asking the database.
        self.first_load = False

    # --- problems -----------------------------------------------------------------------

    def problem(self, file: str, line: int | None, field_name: str | None, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(file, line, field_name, text))

    @property
    def failed(self) -> bool:
        return bool(self.problems)

    def refuse(self, source: CanonicalFile, line: int, field_name: str | None, reason: str) -> None:
        """Refuse one row of a ``refuse_incomplete`` source: counted and listed, run goes on."""
        counts = self.counts[-1]
        counts.refused += 1
        if len(counts.refusals) < REFUSALS_LISTED:
            shown = source.source_names.get(field_name, field_name) if field_name else None
            counts.refusals.append({"line": line, "field": shown, "reason": reason})

    @staticmethod
    def _missing_to_create(model: type[models.Model], provided: list[str]) -> list[str]:
        """The elements a new ``model`` record cannot be created without that are not given."""
        return [n for n in REQUIRED_TO_CREATE.get(model, ()) if n not in provided]

    def _incomplete(
        self,
        source: CanonicalFile,
        p: _Parsed,
        model: type[models.Model],
    ) -> bool:
        """Whether a new record lacks an element it cannot be created without (then reported)."""
        missing = self._missing_to_create(model, p.provided)
        if not missing:
            return False
        names = [source.source_names.get(n, n) for n in missing]
        reason = (
            f"a new {model._meta.verbose_name} needs {', '.join(names)}; this source gives "
            f"none for this line"
        )
        if source.refuse_incomplete:
            self.refuse(source, p.line, missing[0], reason)
        else:
            self.problem(source.name, p.line, missing[0], reason)
        return True

    # --- natural keys -------------------------------------------------------------------

    def _load_orgs(self) -> None:
        if self._loaded_orgs:
            return
        self._keys["district"] = {(d.state_code,): d.pk for d in m.District.objects.all()}
        self._keys["school"] = {(s.state_code,): s.pk for s in m.School.objects.all()}
        self._keys["course"] = {(c.code,): c.pk for c in m.Course.objects.all()}
        self._keys["assessment"] = {(a.code,): a.pk for a in m.Assessment.objects.all()}
        self._keys["section"] = {
            (s.school.state_code, str(s.school_year), s.section_code): s.pk
            for s in m.Section.objects.select_related("school")
        }
        self._loaded_orgs = True

    def _resolve_students(self, sasids: set[str], local_ids: set[str]) -> None:
        """Find the students that ``sasids`` and ``local_ids`` name, as the blind index would.

        First among the students this run created (by the normalised identifier, which is what
        the blind index hashes), then, unless this is a first load (nothing else is stored),
        among the stored ones by blind index.
        """
        for name, known, values in (
            ("sasid", self._students["sasid"], sasids),
            ("local_id", self._students["local_id"], local_ids),
        ):
            created = self._created[name]
            wanted = []
            for value in values.difference(known):
                if value:
                    pk = created.get(_normalised(name, value))
                    if pk is None:
                        wanted.append(value)
                    else:
                        known[value] = pk
            if self.first_load or not wanted:
                continue
            index = index_function(name)
            for chunk_start in range(0, len(wanted), BATCH):
                chunk = wanted[chunk_start : chunk_start + BATCH]
                by_index = {index(value): value for value in chunk}
                column = f"{name}_index"
                found = m.Student.objects.filter(**{f"{column}__in": list(by_index)})
                for pk, value_index in found.values_list("pk", column):
                    known[by_index[value_index]] = pk

    # --- authorization ------------------------------------------------------------------

    def _scope(self, category: DataCategory) -> Any:
        if category not in self._scope_cache:
            self._scope_cache[category] = student_scope_filter(
                self.actor, category, action=Action.CHANGE
            )
        return self._scope_cache[category]

    def _allowed(self, category: DataCategory, ids: set[int]) -> set[int]:
        if not ids:  # before the scope, which may ask the database (a worker may not)
            return set()
        q = self._scope(category)
        if q is None:
            return set()
        allowed: set[int] = set()
        id_list = sorted(ids)
        for start in range(0, len(id_list), BATCH):
            chunk = id_list[start : start + BATCH]
            allowed.update(m.Student.objects.filter(q, pk__in=chunk).values_list("pk", flat=True))
        return allowed

    def _outside(self, q: Any, ids: set[int]) -> set[int]:
        """The students of ``ids`` outside the scope ``q`` (``_scope``; None: nobody is in it).

        Asked as "which rows of the id range are not in the scope" (an anti-join, one query per
        run of nearby ids) rather than "which of these ids are", so a run that created a million
        students needs a few queries per scope instead of one per 2,000 ids. Rows of the
        range that are not in ``ids`` (added by someone else) are ignored.
        """
        if q is None:
            return set(ids)
        outside: set[int] = set()
        in_scope = m.Student.objects.filter(q, pk=models.OuterRef("pk"))
        for low, high in _runs(sorted(ids)):
            found = (
                m.Student.objects.filter(pk__gte=low, pk__lte=high)
                .filter(~models.Exists(in_scope))
                .values_list("pk", flat=True)
            )
            outside.update(pk for pk in found if pk in ids)
        return outside

    def district_wide(self, category: DataCategory) -> bool:
        """Whether the actor holds a current district-scope grant allowing change on category."""
        if category in self._district_wide:
            return self._district_wide[category]
        allowed = False
        user_id = actor_user_id(self.actor)
        if user_id is not None and scope_denial(self.actor, category, action=Action.CHANGE) is None:
            for grant in Grant.objects.current().filter(
                user_id=user_id, scope_kind=ScopeKind.DISTRICT
            ):
                role = get_role(grant.role)
                if (
                    role is not None
                    and category in role.categories
                    and category.value in grant.categories
                    and Action.CHANGE in role.actions
                ):
                    allowed = True
                    break
        self._district_wide[category] = allowed
        return allowed

    def check_new_students(self) -> None:
        """After the writes: every student the run created must be in the actor's change scope.

        Categories whose scopes are the same (as for an account with one district-wide grant)
        are asked about together: one pass over the run's students per distinct scope.
        """
        scopes: list[tuple[Any, set[int]]] = []  # a distinct scope, the students to ask about
        place: dict[DataCategory, int] = {}
        for category, ids in self.new_student_categories.items():
            q = self._scope(category)
            place[category] = next((i for i, (o, _) in enumerate(scopes) if o == q), len(scopes))
            if place[category] == len(scopes):
                scopes.append((q, set()))
            scopes[place[category]][1].update(ids)
        outside_of = [self._outside(q, ids) for q, ids in scopes]
        for category, ids in self.new_student_categories.items():
            outside = outside_of[place[category]] & ids
            for pk in sorted(outside)[:MAX_PROBLEMS]:
                file, line = self.new_students[pk]
                self.problem(
                    file,
                    line,
                    None,
                    f"the student on this line would be outside your change scope for "
                    f"{category.value} (give a current enrollment at a school you may change, "
                    f"or import with a district-scope account)",
                )

    # --- worker processes (exchange.workers) ------------------------------------------

    def spoolable(self, source: CanonicalFile) -> bool:
        """Whether a worker process may apply ``source``: a first load's file of student
        records (not of students), whose every row is then new and needs no look-up in the
        database, only what this engine holds (organizations' keys, the run's students)."""
        model = source.spec.model
        unique = _unique_key(model)
        return (
            self.first_load
            and not self.failed
            and self._loaded_orgs
            and model is not m.Student
            and "student" in source.spec.links
            and (unique is None or "student_id" in unique)
        )

    def for_worker(self, streams: bulk.CopyStreams) -> None:
        """In a worker process, before ``apply``: start from empty results, write through
        ``streams`` and report no progress (the parent reports it when it merges the results)."""
        self.progress = None
        self._streams = streams
        self.problems = []
        self.counts = []
        self.preview = []
        self.touched_students = set()
        self.touched_categories = set()
        self.new_student_categories = {}

    def results(self) -> WorkerResults:
        """What ``apply`` added to this engine's results (in a worker: all of them)."""
        return WorkerResults(
            counts=self.counts,
            problems=self.problems,
            preview=self.preview,
            touched_students=self.touched_students,
            touched_categories=self.touched_categories,
            new_student_categories=self.new_student_categories,
        )

    def merge(self, results: WorkerResults) -> None:
        """Take a worker's results as if this engine had applied the file itself."""
        self.counts += results.counts
        self.problems += results.problems[: max(0, MAX_PROBLEMS - len(self.problems))]
        self.preview += results.preview[: max(0, PREVIEW_LIMIT - len(self.preview))]
        self.touched_students |= results.touched_students
        self.touched_categories |= results.touched_categories
        for category, ids in results.new_student_categories.items():
            self.new_student_categories.setdefault(category, set()).update(ids)

    # --- the main loop ------------------------------------------------------------------

    def apply(self, source: CanonicalFile) -> FileCounts:
        """Parse, check and write one canonical file (writes stop at the first problem)."""
        self._load_orgs()
        spec = source.spec
        counts = FileCounts(name=source.name, model=spec.model.__name__)
        self.counts.append(counts)
        for line, element, reason in source.refused_rows:
            counts.rows += 1
            self.refuse(source, line, element, reason)
        fields = [(f, data_element_of(f)) for f in value_fields(spec.model)]
        seen: set[tuple[Any, ...]] = set()
        consumed: Counter[tuple[Any, ...]] = Counter()
        rows = iter(source.rows)
        # Rows of students created by this run may stream into one COPY across batches; any
        # other statement (a look-up, the general path, a progress callback that queries)
        # finishes it first, and so does the end of the file.
        with self._streams.active():
            while batch := list(islice(rows, BATCH)):
                texts = _Texts(batch, source.header)
                parsed = self._parse_batch(source, fields, texts, seen)
                counts.rows += len(batch)
                if not self.failed:
                    self._write_batch(source, parsed, counts, consumed)
                if self.progress:
                    self.progress(source.name, len(batch))
        counts.skipped = dict(source.skipped)
        counts.merged = dict(source.merged)
        counts.notes = list(source.notes)
        return counts

    def _link_value(
        self, source: CanonicalFile, line: int, link: str, columns: tuple[str, ...], row: Row
    ) -> int | None:
        natural = tuple(row.get(c, "") for c in columns)
        if link == "student":
            sasid = row.get("sasid", "")
            local = row.get("local_id", "")
            return self._pk_for_student(sasid, local)
        if link == "section":
            natural = (natural[0], natural[1], natural[2])
        return self._keys[link].get(natural)

    def _parse_batch(
        self,
        source: CanonicalFile,
        fields: list[tuple[models.Field[Any, Any], DataElement | None]],
        texts: _Texts,
        seen: set[tuple[Any, ...]],
    ) -> _Batch:
        spec = source.spec
        is_student = spec.model is m.Student
        if "student" in spec.links or is_student:
            sasids = texts.column("sasid", "")
            locals_ = texts.column("local_id", "")
            self._resolve_students(
                set(sasids),
                {local for sasid, local in zip(sasids, locals_, strict=True) if not sasid},
            )
        if not source.partial and not source.refuse_incomplete and not self.failed:
            valid = self._parse_valid(source, fields, texts, seen)
            if valid is not None:
                return valid
        parsed: list[_Parsed] = []
        for line, row in texts.rows():
            values: dict[str, Any] = {}
            provided: list[str] = []
            bad = False
            for f, element in fields:
                assert element is not None
                if f.name not in row:
                    if source.partial:
                        continue
                    self.problem(source.name, line, f.name, "the column is missing")
                    bad = True
                    continue
                try:
                    values[f.attname] = parse_value(row[f.name], f, element)
                    provided.append(f.attname)
                except ValueError as problem:
                    self.problem(source.name, line, f.name, str(problem))
                    bad = True
            students: list[int] = []
            refused = False
            for link, columns in spec.links.items():
                target = self._link_value(source, line, link, columns, row)
                if target is None:
                    if link == "student":
                        what = "a student not found in this import or in StudentVault"
                    else:
                        what = f"a {link} not found in this import or in StudentVault"
                    if source.refuse_incomplete:
                        self.refuse(
                            source,
                            line,
                            columns[-1],
                            f"refers to {what} (not stored or refused earlier in this run)",
                        )
                        refused = True
                        break
                    self.problem(source.name, line, columns[-1], f"refers to {what}")
                    bad = True
                    continue
                values[f"{link}_id"] = target
                provided.append(f"{link}_id")
                if link == "student":
                    students.append(target)
            if is_student and not (row.get("sasid") or row.get("local_id")):
                self.problem(source.name, line, "sasid", "a student needs a SASID or a local ID")
                bad = True
            if bad or refused:
                continue
            if spec.model is m.Student:
                self._check_race(source, line, values, provided)
            key = self._row_key(spec.model, values, provided, row)
            if key is not None and (is_student or _unique_key(spec.model) is not None):
                if key in seen:
                    self.problem(
                        source.name,
                        line,
                        (spec.key or ("key",))[-1],
                        "duplicate key: an earlier line of this file has the same key",
                    )
                    continue
                seen.add(key)
            parsed.append(_Parsed(line, values, provided, students))
        return _Batch(rows=parsed)

    def _parse_valid(
        self,
        source: CanonicalFile,
        fields: list[tuple[models.Field[Any, Any], DataElement | None]],
        texts: _Texts,
        seen: set[tuple[Any, ...]],
    ) -> _Batch | None:
        """What the reference parse below gives for a batch whose rows are all valid, by column
        in one lean pass; None, with nothing recorded (no problem, no key in ``seen``), when a
        row is not, so that the reference parse reports it exactly as ever.

        Same parser (``parse_value``, each distinct text of a column once: ``parse_column``),
        same link resolution, same race check, same keys: only the bookkeeping for rows with
        problems is left to the reference parse.
        """
        spec = source.spec
        model = spec.model
        is_student = model is m.Student
        count = len(texts)
        columns: dict[str, list[Any]] = {}
        try:
            for f, element in fields:
                assert element is not None
                columns[f.attname] = parse_column(texts.column(f.name), f, element)
        except (KeyError, ValueError):
            return None
        sasids = texts.column("sasid", "")
        locals_ = texts.column("local_id", "")
        for link, link_columns in spec.links.items():
            targets: list[int | None]
            if link == "student":
                by_sasid, by_local = self._students["sasid"], self._students["local_id"]
                targets = [
                    by_sasid.get(sasid) if sasid else
                    by_local.get(local) if local else None
                    for sasid, local in zip(sasids, locals_, strict=True)
                ]  # fmt: skip
            else:
                natural = link_columns[:3] if link == "section" else link_columns
                table = self._keys[link]
                naturals = zip(*[texts.column(c, "") for c in natural], strict=True)
                targets = [table.get(key) for key in naturals]
            if None in targets:
                return None
            columns[f"{link}_id"] = targets
        provided = [f.attname for f, _ in fields] + [f"{link}_id" for link in spec.links]
        if is_student:
            if not all(sasid or local for sasid, local in zip(sasids, locals_, strict=True)):
                return None
            if not self._race_columns(columns, provided):
                return None
        unique = _unique_key(model)
        if is_student or unique is not None:
            # What _row_key gives for each row, without its per-row dispatch.
            if is_student:
                keys: list[tuple[Any, ...]] = [
                    ("sasid", sasid) if sasid else ("local", local)
                    for sasid, local in zip(sasids, locals_, strict=True)
                ]
            else:
                assert unique is not None
                listed = {f.attname for f, e in fields if e is not None and e.value_kind == "codes"}
                key_columns = []
                for name in unique:
                    column = columns.get(name) or [None] * count
                    key_columns.append([_hashable(v) for v in column] if name in listed else column)
                keys = list(zip(*key_columns, strict=True))
            distinct = set(keys)
            if len(distinct) != count or not seen.isdisjoint(distinct):
                return None
            seen |= distinct
        return _Batch(
            lines=texts.lines,
            columns=columns,
            provided=provided,
            student_link="student" in spec.links,
        )

    def _race_columns(self, columns: dict[str, list[Any]], provided: list[str]) -> bool:
        """``_check_race`` for every row of a column batch (each distinct combination of flags
        derived once); False, with nothing recorded, where it would record a problem."""
        flags = ("hispanic_latino", *m.student.RACE_FLAGS)
        given_flags = [name in provided for name in flags]
        if not any(given_flags):
            return True
        if not all(given_flags):
            return False
        derived_of: dict[tuple[Any, ...], Any] = {}
        derived: list[Any] = []
        for combination in zip(*[columns[name] for name in flags], strict=True):
            if combination not in derived_of:
                try:
                    derived_of[combination] = m.student.federal_race_ethnicity(
                        hispanic_latino=combination[0],
                        races=dict(zip(m.student.RACE_FLAGS, combination[1:], strict=True)),
                    )
                except ValueError:
                    return False
            derived.append(derived_of[combination])
        if "federal_race_ethnicity" in provided:
            return columns["federal_race_ethnicity"] == derived
        columns["federal_race_ethnicity"] = derived
        provided.append("federal_race_ethnicity")
        return True

    def _check_race(
        self, source: CanonicalFile, line: int, values: dict[str, Any], provided: list[str]
    ) -> None:
        flags = ("hispanic_latino", *m.student.RACE_FLAGS)
        if not any(name in provided for name in flags):
            return
        if not all(name in provided for name in flags):
            self.problem(
                source.name, line, None, "the ethnicity and race flags must be given together"
            )
            return
        try:
            derived = m.student.federal_race_ethnicity(
                hispanic_latino=values["hispanic_latino"],
                races={name: values[name] for name in m.student.RACE_FLAGS},
            )
        except ValueError as problem:
            self.problem(source.name, line, "white", str(problem))
            return
        given = values.get("federal_race_ethnicity")
        if "federal_race_ethnicity" in provided and given != derived:
            self.problem(
                source.name,
                line,
                "federal_race_ethnicity",
                "does not match the Hispanic/Latino and race flags of the same line",
            )
            return
        values["federal_race_ethnicity"] = derived
        if "federal_race_ethnicity" not in provided:
            provided.append("federal_race_ethnicity")

    def _row_key(
        self, model: type[models.Model], values: dict[str, Any], provided: list[str], row: Row
    ) -> tuple[Any, ...] | None:
        if model is m.Student:
            sasid = row.get("sasid", "")
            return ("sasid", sasid) if sasid else ("local", row.get("local_id", ""))
        unique = _unique_key(model)
        if unique is not None:
            return tuple(_hashable(values.get(name)) for name in unique)
        return tuple((name, _hashable(values[name])) for name in sorted(provided))

    # --- writing ------------------------------------------------------------------------

    def _existing(
        self, model: type[models.Model], parsed: list[_Parsed]
    ) -> dict[Any, list[models.Model]]:
        found: dict[Any, list[models.Model]] = {}
        if model is m.Student:
            return found  # students are found by blind index in _write_batch
        unique = _unique_key(model)
        if any(f.name == "student" for f in model._meta.concrete_fields):
            ids = {p.values["student_id"] for p in parsed}
            objects: Iterable[models.Model] = model._default_manager.filter(student_id__in=ids)
        else:
            objects = model._default_manager.filter(**_narrowing(model, unique, parsed))
        for obj in objects:
            if unique is not None:
                key = tuple(_hashable(getattr(obj, name)) for name in unique)
                found.setdefault(key, []).append(obj)
            else:
                found.setdefault(getattr(obj, "student_id", None), []).append(obj)
        return found

    def _write_batch(
        self,
        source: CanonicalFile,
        batch: _Batch,
        counts: FileCounts,
        consumed: Counter[tuple[Any, ...]],
    ) -> None:
        spec = source.spec
        model = spec.model
        is_student = model is m.Student
        has_student = "student" in spec.links
        categories = _model_categories(model, [f.attname for f in value_fields(model)])
        # Authorization of existing students, before any write of this batch.
        if has_student:
            named = batch.column("student_id")
            distinct = set(named)
            ids = {sid for sid in distinct if sid not in self.new_students}
            for category in categories:
                allowed = self._allowed(category, ids)
                self.new_student_categories.setdefault(category, set()).update(distinct - ids)
                if not ids:
                    continue
                for line, sid in zip(batch.lines, named, strict=True):
                    if sid in ids and sid not in allowed:
                        self.problem(
                            source.name,
                            line,
                            "sasid",
                            f"the student named on this line is outside your change scope for "
                            f"{category.value}",
                        )
            if self.failed:
                return
        if is_student:
            self._write_students(source, batch, counts, categories)
            return
        unique = _unique_key(model)
        if has_student and self._all_new(model, batch):
            self._write_new_records(source, batch, counts, consumed, categories)
            return
        parsed = batch.rows
        existing = self._existing(model, parsed)
        to_add: list[_Parsed] = []
        for p in parsed:
            if unique is not None:
                key = tuple(_hashable(p.values.get(name)) for name in unique)
                current = existing.get(key, [])
                if current:
                    obj = current[0]
                    changed = [
                        name
                        for name in p.provided
                        if _hashable(getattr(obj, name)) != _hashable(p.values[name])
                    ]
                    if changed:
                        if not has_student and not self._org_allowed(source, p, categories):
                            continue
                        for name in changed:
                            setattr(obj, name, p.values[name])
                        obj.save(update_fields=[_field_name(model, n) for n in changed])
                        counts.changed += 1
                        self._note(source, p.line, "change", model, changed)
                        self._touch(p, categories)
                    else:
                        counts.unchanged += 1
                    continue
            else:
                key = tuple((name, _hashable(p.values[name])) for name in sorted(p.provided))
                sid = p.values.get("student_id")
                pool = existing.get(sid, [])
                available = sum(
                    1
                    for obj in pool
                    if tuple((n, _hashable(getattr(obj, n))) for n in sorted(p.provided)) == key
                )
                if available - consumed[key] > 0:
                    consumed[key] += 1
                    counts.unchanged += 1
                    continue
                consumed[key] += 1
            if source.partial and self._incomplete(source, p, model):
                continue
            if not has_student and not self._org_allowed(source, p, categories):
                continue
            to_add.append(p)
        if self.failed or not to_add:
            return
        # Rows no stored row matches: stored by the bulk writer as bulk_create would store them.
        added = bulk.write_new(
            model, [p.values for p in to_add], with_ids=True, streams=self._streams
        )
        for p, pk in zip(to_add, added, strict=True):
            counts.added += 1
            self._note(source, p.line, "add", model, [])
            self._touch(p, categories)
            self._remember(spec, p, pk)

    def _all_new(self, model: type[models.Model], batch: _Batch) -> bool:
        """Whether no stored row can match any row of ``batch``: every student it names was
        created by this run and the model's unique key (if any) contains the student."""
        unique = _unique_key(model)
        if unique is not None and "student_id" not in unique:
            return False
        new = self.new_students
        return all(sid in new for sid in batch.column("student_id"))

    def _write_new_records(
        self,
        source: CanonicalFile,
        batch: _Batch,
        counts: FileCounts,
        consumed: Counter[tuple[Any, ...]],
        categories: set[DataCategory],
    ) -> None:
        """The general path's outcome for rows of students created by this run (all adds),
        written by the bulk writer; authorization was done by the caller."""
        model = source.spec.model
        if _unique_key(model) is None and not self.first_load:
            # As the general path counts them, so that a later batch of this file that goes
            # the general way matches stored rows against the right count. (In a first load no
            # batch goes that way: every student a row can name was created by this run.)
            names: list[str] = []
            for p in batch.rows:
                if p.provided != names:
                    names = p.provided
                    ordered = sorted(names)
                values = p.values
                consumed[tuple([(name, _hashable(values[name])) for name in ordered])] += 1
        if batch.by_column and not source.partial:  # the lean parse's batches
            if self.failed:
                return
            bulk.write_columns(model, batch.columns, len(batch), streams=self._streams)
            lines, named = batch.lines, batch.column("student_id")
        else:
            to_add = batch.rows
            if source.partial:
                to_add = [p for p in to_add if not self._incomplete(source, p, model)]
            if self.failed:
                return
            bulk.write_new(model, [p.values for p in to_add], streams=self._streams)
            lines, named = [p.line for p in to_add], [sid for p in to_add for sid in p.students]
        counts.added += len(lines)
        if lines:
            self.touched_categories |= categories
        for line in lines[: max(0, PREVIEW_LIMIT - len(self.preview))]:
            self._note(source, line, "add", model, [])
        self.touched_students.update(named)

    def _org_allowed(
        self, source: CanonicalFile, p: _Parsed, categories: set[DataCategory]
    ) -> bool:
        for category in categories:
            if not self.district_wide(category):
                self.problem(
                    source.name,
                    p.line,
                    None,
                    f"adding or changing {source.spec.model._meta.verbose_name} records needs "
                    f"a district-scope grant that allows change on {category.value}",
                )
                return False
        return True

    def _remember(self, spec: FileSpec, p: _Parsed, pk: int) -> None:
        model = spec.model
        if model is m.District:
            self._keys["district"][(p.values["state_code"],)] = pk
        elif model is m.School:
            self._keys["school"][(p.values["state_code"],)] = pk
        elif model is m.Course:
            self._keys["course"][(p.values["code"],)] = pk
        elif model is m.Assessment:
            self._keys["assessment"][(p.values["code"],)] = pk
        elif model is m.Section:
            school_id = p.values["school_id"]
            if school_id not in self._school_codes:
                self._school_codes = {id_: code for (code,), id_ in self._keys["school"].items()}
            school_code = self._school_codes[school_id]
            self._keys["section"][
                (school_code, str(p.values["school_year"]), p.values["section_code"])
            ] = pk

    def _note(
        self,
        source: CanonicalFile,
        line: int,
        action: str,
        model: type[models.Model],
        changed: list[str],
    ) -> None:
        if len(self.preview) < PREVIEW_LIMIT:
            self.preview.append(
                {
                    "file": source.name,
                    "line": line,
                    "action": action,
                    "record": model.__name__,
                    "fields": sorted(changed),
                }
            )

    def _touch(self, p: _Parsed, categories: set[DataCategory]) -> None:
        self.touched_categories |= categories
        self.touched_students.update(p.students)

    def _write_students(
        self,
        source: CanonicalFile,
        batch: _Batch,
        counts: FileCounts,
        categories: set[DataCategory],
    ) -> None:
        # Which rows name an existing student: the pk was resolved by blind index in parsing.
        existing_ids: dict[int, int] = {}
        for line, sasid, local in zip(
            batch.lines, batch.column("sasid"), batch.column("local_id"), strict=True
        ):
            pk = self._pk_for_student(sasid, local)
            if pk is not None:
                existing_ids[line] = pk
        ids = {pk for pk in existing_ids.values() if pk not in self.new_students}
        for category in _model_categories(m.Student, batch.provided_names()):
            allowed = self._allowed(category, ids)
            for line in batch.lines if ids else ():
                pk = existing_ids.get(line)
                if pk is not None and pk not in self.new_students and pk not in allowed:
                    self.problem(
                        source.name,
                        line,
                        "sasid",
                        f"the student named on this line is outside your change scope for "
                        f"{category.value}",
                    )
        if self.failed:
            return
        if not existing_ids:
            self._write_new_students(source, batch, counts)
            return
        current = {s.pk: s for s in m.Student.objects.filter(pk__in=list(ids))} if ids else {}
        to_add: list[_Parsed] = []
        for p in batch.rows:
            pk = existing_ids.get(p.line)
            obj = current.get(pk) if pk is not None else None
            row_categories = _model_categories(m.Student, p.provided)
            if obj is not None:
                changed = [
                    name
                    for name in p.provided
                    if _hashable(getattr(obj, name)) != _hashable(p.values[name])
                ]
                if changed:
                    for name in changed:
                        setattr(obj, name, p.values[name])
                    obj.save(update_fields=[_field_name(m.Student, n) for n in changed])
                    counts.changed += 1
                    self._note(source, p.line, "change", m.Student, changed)
                    self.touched_students.add(obj.pk)
                    self.touched_categories |= _model_categories(m.Student, changed)
                else:
                    counts.unchanged += 1
                continue
            if pk is not None:  # created earlier in this run: an update of a new row
                counts.unchanged += 1
                continue
            if self._incomplete(source, p, m.Student):
                continue
            to_add.append(p)
            self.touched_categories |= row_categories
        if self.failed or not to_add:
            return
        added = bulk.write_new(
            m.Student, [p.values for p in to_add], with_ids=True, streams=self._streams
        )
        self._added_students(source, to_add, added, counts)

    def _write_new_students(self, source: CanonicalFile, batch: _Batch, counts: FileCounts) -> None:
        """Students none of whom is stored or added earlier in the run: all adds, written by
        the bulk writer (the caller checked that no row names a known student)."""
        if batch.by_column and not self._missing_to_create(m.Student, batch.provided):
            if self.failed:
                return
            ids = bulk.write_columns(
                m.Student, batch.columns, len(batch), with_ids=True, streams=self._streams
            )
            self.touched_categories |= self._student_categories(batch.provided)
            self._added_students(source, batch, ids, counts)
            return
        to_add = [p for p in batch.rows if not self._incomplete(source, p, m.Student)]
        if self.failed:
            return
        ids = bulk.write_new(
            m.Student, [p.values for p in to_add], with_ids=True, streams=self._streams
        )
        for p in to_add:
            self.touched_categories |= self._student_categories(p.provided)
        self._added_students(source, to_add, ids, counts)

    def _student_categories(self, provided: list[str]) -> set[DataCategory]:
        key = tuple(provided)
        found = self._categories_cache.get(key)
        if found is None:
            found = self._categories_cache[key] = _model_categories(m.Student, provided)
        return found

    def _added_students(
        self,
        source: CanonicalFile,
        added: _Batch | list[_Parsed],
        ids: list[int],
        counts: FileCounts,
    ) -> None:
        """Record the students ``ids`` the run just created from ``added`` (a column batch, or
        rows), in order: counts, preview, the run's new and touched students, the categories
        to check them for (check_new_students), and their SASIDs and local IDs for later rows."""
        if isinstance(added, _Batch):
            lines, sasids, locals_ = added.lines, added.column("sasid"), added.column("local_id")
            for category in self._student_categories(added.provided):
                self.new_student_categories.setdefault(category, set()).update(ids)
        else:
            lines = [p.line for p in added]
            sasids = [p.values.get("sasid") for p in added]
            locals_ = [p.values.get("local_id") for p in added]
            for p, pk in zip(added, ids, strict=True):
                for category in self._student_categories(p.provided):
                    self.new_student_categories.setdefault(category, set()).add(pk)
        counts.added += len(ids)
        for line in lines[: max(0, PREVIEW_LIMIT - len(self.preview))]:
            self._note(source, line, "add", m.Student, [])
        self.touched_students.update(ids)
        self.new_students.update(zip(ids, [(source.name, line) for line in lines], strict=True))
        by_sasid, by_local = self._students["sasid"], self._students["local_id"]
        created_sasid, created_local = self._created["sasid"], self._created["local_id"]
        for pk, sasid, local in zip(ids, sasids, locals_, strict=True):
            if sasid:
                by_sasid[sasid] = pk
                created_sasid[_normalised("sasid", sasid)] = pk
            if local:
                by_local[local] = pk
                created_local[_normalised("local_id", local)] = pk

    def _pk_for_student(self, sasid: str | None, local: str | None) -> int | None:
        """The student a row names by its SASID, or by its local ID when it gives no SASID."""
        if sasid:
            return self._students["sasid"].get(sasid)
        return self._students["local_id"].get(local) if local else None


def _field_name(model: type[models.Model], attname: str) -> str:
    for f in model._meta.concrete_fields:
        if f.attname == attname:
            return f.name
    return attname
