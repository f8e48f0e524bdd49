"""Encrypted fields: round trip, associated data binding, fail-closed reads, no SQL on PII."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from crypto_world import synthetic_students
from django.core.exceptions import FieldError
from django.db import connection, transaction

from studentvault.core.elements import data_element_of
from studentvault.crypto.errors import DecryptionFailed, EncryptedFieldMisuse
from studentvault.crypto.fields import EncryptedMixin, Sealed, encrypted_fields_of, key_id_of
from studentvault.crypto.keysets import category_keys
from studentvault.records.models import AssessmentResult, ParentContact, Student

pytestmark = pytest.mark.django_db


def _raw(table: str, column: str, pk: int) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return bytes(cursor.fetchone()[0])


def test_every_encrypted_element_uses_an_encrypted_field_with_its_category() -> None:
    from django.apps import apps

    checked = 0
    for model in apps.get_app_config("records").get_models():
        for field in model._meta.concrete_fields:
            element = data_element_of(field)
            if element is None or element.value_kind == "link":
                continue
            assert isinstance(field, EncryptedMixin) == element.encrypted, field
            if element.encrypted:
                assert field.category == element.category.value
                checked += 1
    assert checked > 30


def test_round_trip_through_save_bulk_create_and_reload() -> None:
    students = synthetic_students(3)
    Student.objects.bulk_create(students[:2])
    students[2].save()
    for original in students:
        loaded = Student.objects.get(pk=original.pk)
        assert loaded.sasid == original.sasid
        assert loaded.last_name == original.last_name
        assert loaded.birth_date == original.birth_date
        assert isinstance(loaded.birth_date, dt.date)
        assert loaded.language_background == "eng"
        assert loaded.gender == original.gender  # plain counting field


def test_column_holds_tink_ciphertext_under_the_category_primary_key() -> None:
    (student,) = synthetic_students(1)
    student.save()
    raw = _raw("records_student", "last_name", student.pk)
    assert student.last_name.encode() not in raw
    assert key_id_of(raw) == category_keys("demographics").primary_key_id
    sasid_raw = _raw("records_student", "sasid", student.pk)
    assert key_id_of(sasid_raw) == category_keys("enrollment").primary_key_id


def test_text_flag_and_blank_values_round_trip() -> None:
    (student,) = synthetic_students(1)
    student.save()
    contact = ParentContact.objects.create(
        student=student,
        name="Synthetic Guardian",
        relationship="MOTHER",
        phone="555-0100",
        contact_restrictions="",
        is_primary=True,
    )
    loaded = ParentContact.objects.get(pk=contact.pk)
    assert loaded.name == "Synthetic Guardian"
    assert loaded.phone == "555-0100"
    assert loaded.contact_restrictions == ""
    assert loaded.is_primary is True


def test_swapping_ciphertext_between_rows_fails_closed(
    security_events: list[dict[str, Any]],
) -> None:
    a, b = synthetic_students(2)
    Student.objects.bulk_create([a, b])
    raw_a = _raw("records_student", "last_name", a.pk)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE records_student SET last_name = %s WHERE id = %s", [raw_a, b.pk])
    with pytest.raises(DecryptionFailed) as failure:
        Student.objects.get(pk=b.pk)
    message = str(failure.value)
    assert "records_student.last_name" in message and f"row {b.pk}" in message
    assert a.last_name not in message and b.last_name not in message
    assert security_events[-1]["action"] == "crypto:field:decrypt_failed"
    assert security_events[-1]["outcome"] == "failure"
    assert security_events[-1]["row"] == str(b.pk)
    # The untouched row still reads.
    assert Student.objects.get(pk=a.pk).last_name == a.last_name


def test_moving_ciphertext_to_another_column_of_the_same_row_fails_closed() -> None:
    (a,) = synthetic_students(1)
    a.save()
    raw_first = _raw("records_student", "first_name", a.pk)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE records_student SET last_name = %s WHERE id = %s", [raw_first, a.pk])
    with pytest.raises(DecryptionFailed):
        Student.objects.get(pk=a.pk)


def test_changing_row_uid_makes_every_encrypted_field_fail() -> None:
    (a,) = synthetic_students(1)
    a.save()
    Student.objects.filter(pk=a.pk).update(row_uid=uuid.uuid4())
    with pytest.raises(DecryptionFailed):
        Student.objects.get(pk=a.pk)


def test_tampered_ciphertext_fails_closed() -> None:
    (a,) = synthetic_students(1)
    a.save()
    raw = bytearray(_raw("records_student", "sasid", a.pk))
    raw[-1] ^= 0x01
    with connection.cursor() as cursor:
        cursor.execute("UPDATE records_student SET sasid = %s WHERE id = %s", [bytes(raw), a.pk])
    with pytest.raises(DecryptionFailed):
        list(Student.objects.all())


def test_values_give_opaque_sealed_objects_never_plaintext() -> None:
    (a,) = synthetic_students(1)
    a.save()
    value = Student.objects.values_list("last_name", flat=True).get()
    assert isinstance(value, Sealed)
    assert a.last_name not in repr(value) and "sealed" in str(value)


def test_no_sql_comparison_on_encrypted_fields() -> None:
    for lookup in ("last_name", "last_name__icontains", "last_name__startswith", "birth_date__gt"):
        with pytest.raises(FieldError):
            list(Student.objects.filter(**{lookup: "x"}))
    assert list(Student.objects.filter(middle_name__isnull=True)) == []


def test_queryset_update_with_plaintext_is_refused() -> None:
    (a,) = synthetic_students(1)
    a.save()
    with pytest.raises(EncryptedFieldMisuse), transaction.atomic():
        Student.objects.filter(pk=a.pk).update(last_name="Plaintext")
    assert Student.objects.get(pk=a.pk).last_name == a.last_name


def test_nullable_encrypted_date_and_number() -> None:
    (a,) = synthetic_students(1)
    a.save()
    result_fields = {f.name for f in encrypted_fields_of(AssessmentResult)}
    assert "scale_score" in result_fields and "accommodations" in result_fields
