"""Synthetic rows for the crypto tests (invented names and numbers only).

Kept out of conftest.py so test modules can import it by a name no other folder uses.
"""

from __future__ import annotations

from typing import Any

SYNTHETIC_LAST_NAMES = ("Quillfeather", "Marrowdale", "Ostrander-Vey", "Brightwater", "Koval")
SYNTHETIC_FIRST_NAMES = ("Zephyrine", "Thaddeus", "Marisol", "Oluwaseun", "Ingeborg")


def synthetic_students(count: int, *, district: Any = None, start: int = 0) -> list[Any]:
    """Unsaved synthetic students (invented names, SASIDs 9900000000 + n)."""
    import datetime as dt

    from studentvault.records.models import District, Student

    if district is None:
        district = District.objects.create(state_code="9999", name="Synthetic Test District")
    students = []
    for n in range(start, start + count):
        students.append(
            Student(
                district=district,
                sasid=f"99{n:08d}",
                local_id=f"L-{n:06d}",
                first_name=SYNTHETIC_FIRST_NAMES[n % 5],
                last_name=SYNTHETIC_LAST_NAMES[(n // 5) % 5] + ("" if n < 25 else str(n)),
                birth_date=dt.date(2008 + n % 10, 1 + n % 12, 1 + n % 28),
                gender="01" if n % 2 else "02",
                language_background="eng",
                white=True,
                federal_race_ethnicity="05",
            )
        )
    return students


def synthetic_district(students: int = 10) -> dict[str, Any]:
    """A small synthetic district: every records model gets rows, every field a value.

    Student-linked models get one row per student. Values come from the data elements (first
    code of the code set, fixed dates in 2025, invented text), so every encrypted field of the
    model is exercised. Returns {"students": [...], "contacts": [...], "school_name": str}.
    """
    import datetime as dt
    from decimal import Decimal

    from django.apps import apps

    from studentvault.core.elements import data_element_of
    from studentvault.records.codes import code_set
    from studentvault.records.models import District, ParentContact, School, Student

    district = District.objects.create(state_code="9998", name="Synthetic Valley District")
    school_name = "Synthetic Test School Alpha"
    school = School.objects.create(
        district=district,
        state_code="9001",
        name=school_name,
        level=code_set("school_level").codes[0].code,
        low_grade=code_set("grade_level").codes[0].code,
        high_grade=code_set("grade_level").codes[-1].code,
    )
    pupils = synthetic_students(students, district=district)
    Student.objects.bulk_create(pupils)
    made: dict[type[Any], list[Any]] = {District: [district], School: [school], Student: pupils}
    contacts: list[Any] = []

    def value_for(field: Any, n: int) -> Any:
        element = data_element_of(field)
        assert element is not None, field
        kind = element.value_kind
        if kind == "code":
            return code_set(element.code_set).codes[0].code
        if kind == "codes":
            return [code_set(element.code_set).codes[0].code]
        if kind == "date":
            return dt.date(2025, 8, 15)
        if kind == "flag":
            return True
        if kind == "number":
            return 7
        if kind == "year":
            return 2026
        if kind == "decimal":
            return Decimal("1.50")
        width = getattr(field, "max_length", 20) or 20
        return f"S{n}{field.name}"[:width]

    pending = [m for m in apps.get_app_config("records").get_models() if m not in made]
    while pending:
        progressed = False
        for model in list(pending):
            links = [f for f in model._meta.concrete_fields if f.is_relation and f.many_to_one]
            if any(f.related_model not in made for f in links):
                continue
            per_student = any(f.related_model is Student for f in links)
            rows = []
            for n in range(len(pupils) if per_student else 1):
                values: dict[str, Any] = {}
                for f in model._meta.concrete_fields:
                    if f.primary_key or f.name == "row_uid" or data_element_of(f) is None:
                        continue
                    if f.is_relation:
                        targets = made[f.related_model]
                        values[f.name] = targets[n % len(targets)]
                    else:
                        values[f.name] = value_for(f, n)
                rows.append(model(**values))
            if model is ParentContact:
                for n, contact in enumerate(rows):
                    contact.name = f"Guardian Vexbridge{n}"
                    contact.phone = f"555-01{n:02d}"
                contacts = rows
            model.objects.bulk_create(rows)
            made[model] = rows
            pending.remove(model)
            progressed = True
        assert progressed, f"cannot order {pending}"
    return {"students": pupils, "contacts": contacts, "school_name": school_name}


def pii_needles(district: dict[str, Any]) -> list[str]:
    """Every identifying value of the synthetic district, birth dates in every usual format."""
    needles: list[str] = []
    for s in district["students"]:
        needles += [s.first_name, s.last_name, s.sasid, s.local_id]
        d = s.birth_date
        needles += [
            d.isoformat(),
            f"{d.month:02d}/{d.day:02d}/{d.year}",
            f"{d.month}/{d.day}/{d.year}",
            f"{d.year}{d.month:02d}{d.day:02d}",
            f"{d.day:02d}.{d.month:02d}.{d.year}",
            f"{d.day:02d}/{d.month:02d}/{d.year}",
            d.strftime("%B %d, %Y"),
        ]
    for c in district["contacts"]:
        needles += [c.name, c.phone]
    return sorted(set(needles))
