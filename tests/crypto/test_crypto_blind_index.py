"""Blind indexes: exact lookup by SASID, local ID and last name + birth date, no plaintext."""

from __future__ import annotations

import datetime as dt

import pytest
from crypto_world import synthetic_students
from django.db import connection

from studentvault.crypto.blind_index import (
    index_for,
    normalize_date,
    normalize_identifier,
    normalize_name,
)
from studentvault.crypto.kek import clear_kek_cache
from studentvault.crypto.keysets import clear_caches
from studentvault.records.models import Student

pytestmark = pytest.mark.django_db


def test_lookup_by_sasid_local_id_and_name_birth() -> None:
    students = synthetic_students(12)
    Student.objects.bulk_create(students)
    target = students[7]
    found = Student.objects.get(sasid_index=index_for("sasid", f"  {target.sasid} "))
    assert found.pk == target.pk
    found = Student.objects.get(local_id_index=index_for("local_id", target.local_id.lower()))
    assert found.pk == target.pk
    typed_name = target.last_name.upper().replace("-", " ")
    typed_date = target.birth_date.strftime("%m/%d/%Y")
    matches = Student.objects.filter(
        name_birth_index=index_for("name_birth", typed_name, typed_date)
    )
    assert [s.pk for s in matches] == [target.pk]
    assert not Student.objects.filter(sasid_index=index_for("sasid", "0000000000")).exists()


def test_index_follows_changes_on_save_and_update_fields() -> None:
    (student,) = synthetic_students(1)
    student.save()
    student.sasid = "9811111111"
    student.save(update_fields=["sasid"])
    assert Student.objects.filter(sasid_index=index_for("sasid", "9811111111")).exists()
    student.last_name = "Renamed"
    student.save()
    assert Student.objects.filter(
        name_birth_index=index_for("name_birth", "renamed", student.birth_date)
    ).exists()


def test_index_columns_hold_no_plaintext_and_differ_per_index() -> None:
    (student,) = synthetic_students(1)
    student.sasid = "9900001234"
    student.local_id = "9900001234"  # same value in two indexes gives unrelated index values
    student.save()
    with connection.cursor() as cursor:
        cursor.execute("SELECT sasid_index, local_id_index, name_birth_index FROM records_student")
        sasid_index, local_id_index, name_birth_index = cursor.fetchone()
    assert sasid_index != local_id_index
    for value in (sasid_index, local_id_index, name_birth_index):
        assert len(value) == 64 and int(value, 16) >= 0
        assert "9900001234" not in value


def test_index_key_depends_on_the_blind_index_root() -> None:
    first = index_for("sasid", "9900000001")
    assert index_for("sasid", "9900000001") == first
    clear_caches()
    clear_kek_cache()
    from studentvault.crypto.models import Keyset

    Keyset.objects.filter(name="blind_index_root").delete()
    clear_caches()
    assert index_for("sasid", "9900000001") != first


def test_normalisation() -> None:
    assert normalize_identifier(" 12-34 567 ") == "1234567"
    assert normalize_name("  O'Brien-Smith ") == normalize_name("OBRIEN SMITH") == "obriensmith"
    assert normalize_name("ＭＡＲＴÍＮＥＺ") == normalize_name("martínez")
    assert normalize_date(dt.date(2012, 5, 3)) == normalize_date("05/03/2012") == "2012-05-03"
    with pytest.raises(ValueError, match="birth date"):
        normalize_date("third of May")
    with pytest.raises(ValueError, match="no blind index"):
        index_for("first_name", "x")
    with pytest.raises(ValueError, match="takes 2"):
        index_for("name_birth", "x")
