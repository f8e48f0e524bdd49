"""``core.rows`` (ADR 0079): instances built from fixed SQL equal the ORM's, field by field,
on SQLite and PostgreSQL; a statement of the wrong shape is refused, not half-read."""

# ruff: noqa: S608 - table and column names come from the models

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection

from studentvault.core import rows
from studentvault.core.actors import Actor
from studentvault.people import services as people_services
from studentvault.people.models import Contract, Vendor

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("tests")


def _same(built: Any, loaded: Any) -> None:
    assert type(built) is type(loaded)
    for field in type(loaded)._meta.concrete_fields:
        assert getattr(built, field.attname) == getattr(loaded, field.attname), field.name
    assert built._state.adding is False and built._state.db == "default"


def _student() -> Any:
    from studentvault.records.models import District, Student

    district = District.objects.create(state_code="9998", name="Synthetic Rows")
    return Student.objects.create(
        district=district,
        sasid="1000000099",
        local_id="L99",
        first_name="Synthetic",
        last_name="Rowe",
        birth_date=dt.date(2013, 2, 3),
        gender="F",
        federal_race_ethnicity="05",
        language_background="eng",
    )


def _contract() -> Contract:
    vendor = people_services.vendor_create(
        actor=SYSTEM, name="Synthetic Rows Inc", designation="contract_provider"
    )
    today = dt.date.today()
    return people_services.contract_create(
        actor=SYSTEM,
        vendor=vendor,
        title="Rows",
        starts_on=today,
        ends_on=today + dt.timedelta(days=10),
        signed_on=today,
        privacy_obligations_signed=True,
        sdtsa_clauses_attested=True,
        categories=["demographics"],
        schools=["0001", "0002"],
        purposes=["Testing"],
        fields=["student.first_name"],
    )


def test_by_pk_equals_the_orm_and_opens_encrypted_fields() -> None:
    from studentvault.records.models import Student

    stored = _student()
    built = rows.by_pk(Student, stored.pk)
    _same(built, Student.objects.get(pk=stored.pk))
    assert isinstance(built, Student)
    assert built.first_name == "Synthetic" and built.birth_date == dt.date(2013, 2, 3)
    assert rows.by_pk(Student, stored.pk + 10_000) is None


def test_fetch_builds_two_models_of_one_row_with_json_and_dates() -> None:
    contract = _contract()
    quote = connection.ops.quote_name
    sql = (
        f"SELECT {rows.columns(Contract, 'c')}, {rows.columns(Vendor, 'v')} "
        f"FROM {quote(Contract._meta.db_table)} c "
        f"JOIN {quote(Vendor._meta.db_table)} v ON v.id = c.vendor_id WHERE c.id = %s"
    )
    [(built, vendor)] = rows.fetch(sql, [contract.pk], [(Contract, "c"), (Vendor, "v")])
    _same(built, Contract.objects.get(pk=contract.pk))
    _same(vendor, Vendor.objects.get(pk=contract.vendor_id))
    assert isinstance(built, Contract) and built.schools == ["0001", "0002"]
    assert rows.fetch(sql, [contract.pk + 10_000], [(Contract, "c"), (Vendor, "v")]) == []


def test_a_statement_of_the_wrong_shape_is_refused() -> None:
    contract = _contract()
    table = connection.ops.quote_name(Contract._meta.db_table)
    short = f"SELECT {table}.id FROM {table} WHERE id = %s"
    with pytest.raises(ValueError, match="too few columns for Contract"):
        rows.fetch(short, [contract.pk], [Contract])
    long = f"SELECT {rows.columns(Contract)}, 1 FROM {table} WHERE id = %s"
    with pytest.raises(ValueError, match="more columns"):
        rows.fetch(long, [contract.pk], [Contract])


def test_parameters_are_bound_not_formatted() -> None:
    contract = _contract()
    table = connection.ops.quote_name(Contract._meta.db_table)
    sql = f"SELECT {rows.columns(Contract)} FROM {table} WHERE {table}.title = %s"
    assert rows.fetch(sql, ["x' OR '1'='1"], [Contract]) == []
    assert [c.pk for (c,) in rows.fetch(sql, ["Rows"], [Contract])] == [contract.pk]


def test_a_key_of_the_wrong_type_is_refused() -> None:
    from studentvault.records.models import Student

    with pytest.raises(ValueError, match="expected a number"):
        rows.by_pk(Student, "1 OR 1=1")


def test_a_key_no_column_can_hold_finds_nothing() -> None:
    from studentvault.records.models import Student

    assert rows.by_pk(Student, 2**80) is None
    assert rows.by_pk(Student, -(2**80)) is None


def test_by_pk_with_only_reads_those_columns_and_defers_the_rest() -> None:
    from django.test.utils import CaptureQueriesContext

    from studentvault.records.models import Student

    stored = _student()
    wanted = ["row_uid", "first_name", "district"]
    with CaptureQueriesContext(connection) as queries:
        built = rows.by_pk(Student, stored.pk, only=wanted)
    (query,) = queries.captured_queries
    assert '"first_name"' in query["sql"] and '"district_id"' in query["sql"]
    assert '"last_name"' not in query["sql"] and '"birth_date"' not in query["sql"]
    assert isinstance(built, Student)
    loaded = Student.objects.only(*wanted).get(pk=stored.pk)
    assert built.get_deferred_fields() == loaded.get_deferred_fields()
    assert {"last_name", "birth_date", "sasid"} <= built.get_deferred_fields()
    assert (built.pk, built.first_name, built.district_id) == (
        stored.pk,
        "Synthetic",
        stored.district_id,
    )
    assert rows.by_pk(Student, stored.pk + 10_000, only=wanted) is None
