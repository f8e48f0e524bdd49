"""The batch API for bulk writers: seal_many, EncryptedMixin.payload, index_function.

Each must give exactly what the one-value path gives (save(), index_for), and refuse what could
bind a value to the wrong row.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
import tink
from crypto_world import synthetic_students

from studentvault.core.actors import Actor
from studentvault.crypto.blind_index import index_for, index_function
from studentvault.crypto.fields import (
    PLAIN_MARKER,
    EncryptedMixin,
    associated_data,
    encrypted_fields_of,
    key_id_of,
    open_bytes,
    seal_bytes,
    seal_many,
)
from studentvault.crypto.keysets import add_primary_key, category_keys
from studentvault.records.models import (
    AssessmentResult,
    CourseCompletion,
    Disability,
    Student,
)

pytestmark = pytest.mark.django_db


def aad(n: int) -> bytes:
    return associated_data("records_student", "last_name", uuid.UUID(int=n))


def test_seal_many_opens_with_each_rows_associated_data_and_no_other() -> None:
    payloads = [f"Quillfeather{n}".encode() for n in range(20)]
    aads = [aad(n) for n in range(20)]
    sealed = seal_many("demographics", payloads, aads)
    assert len(sealed) == 20
    primary = category_keys("demographics").primary_key_id
    for n, value in enumerate(sealed):
        assert key_id_of(value) == primary
        # Tink output prefix (5) + nonce (12) + ciphertext + tag (16), as save() stores.
        assert len(value) == 5 + 12 + len(payloads[n]) + 16
        assert open_bytes(value, category="demographics", aad=aads[n]) == payloads[n]
        with pytest.raises(tink.TinkError):
            open_bytes(value, category="demographics", aad=aads[(n + 1) % 20])
        with pytest.raises(tink.TinkError):
            open_bytes(value, category="special_education", aad=aads[n])
    assert len({bytes(v) for v in seal_many("demographics", payloads[:1] * 5, aads[:1] * 5)}) == 5


def test_seal_many_refuses_sequences_of_different_length_before_encrypting() -> None:
    with pytest.raises(ValueError, match="2 payloads but 1 associated data"):
        seal_many("demographics", [b"a", b"b"], [aad(1)])
    with pytest.raises(ValueError):
        seal_many("demographics", [], [aad(1)])
    assert seal_many("demographics", [], []) == []


def test_seal_many_follows_a_new_primary_key() -> None:
    before = seal_many("demographics", [b"x"], [aad(1)])[0]
    new_key = add_primary_key("demographics", actor=Actor.system("tests"))
    after = seal_many("demographics", [b"x"], [aad(1)])[0]
    assert key_id_of(before) != new_key
    assert key_id_of(after) == new_key
    assert open_bytes(before, category="demographics", aad=aad(1)) == b"x"


def test_seal_many_with_encryption_off_marks_plaintext_like_seal_bytes(settings: object) -> None:
    settings.FIELD_ENCRYPTION = False  # type: ignore[attr-defined]
    assert seal_many("demographics", [b"v"], [aad(1)]) == [
        seal_bytes(b"v", category="demographics", aad=aad(1))
    ]
    assert seal_many("demographics", [b"v"], [aad(1)])[0][:1] == PLAIN_MARKER


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (
            Student,
            {
                "sasid": "9900000001",
                "first_name": "Zephyrine",
                "birth_date": dt.date(2011, 4, 2),
                "language_background": "eng",
            },
        ),
        (CourseCompletion, {"credits_earned": Decimal("0.50"), "mark": "A"}),
        (Disability, {"is_primary": True, "disability_type": "03"}),
        (AssessmentResult, {"scale_score": 712, "accommodations": ["02", "01"]}),
    ],
)
def test_payload_is_what_save_seals(model: type, values: dict[str, object]) -> None:
    """For every kind of encrypted field: a value sealed by save() opens to field.payload()."""
    by_name = {f.attname: f for f in encrypted_fields_of(model)}
    row_uid = uuid.uuid4()
    for name, value in values.items():
        f = by_name[name]
        assert isinstance(f, EncryptedMixin)
        sealed = f.seal(f.to_python(value), row_uid)  # what pre_save does
        assert sealed is not None
        table, column = f.location()
        opened = open_bytes(
            sealed, category=str(f.category), aad=associated_data(table, column, row_uid)
        )
        assert opened == f.payload(value)
        assert f.decode(f.payload(value)) == f.to_python(value)


def test_index_function_is_index_for() -> None:
    synthetic_students(1)[0].save()  # the blind-index root exists
    sasid = index_function("sasid")
    local = index_function("local_id")
    name_birth = index_function("name_birth")
    for value in ["9900000001", " 99-0000-0001 ", "\uff21\uff22\uff11\uff12", "l-000017", ""]:
        assert sasid(value) == index_for("sasid", value)
        assert local(value) == index_for("local_id", value)
        assert sasid(value) != local(value) or value == ""
    for name, born in [
        ("O'Brien", dt.date(2012, 5, 3)),
        ("Ostrander-Vey", "05/03/2012"),
        ("ÉLODIE", "2012-05-03"),
    ]:
        assert name_birth(name, born) == index_for("name_birth", name, born)
    # the same function keeps giving the same answer (the keyed state is copied, not consumed)
    assert sasid("9900000001") == sasid("9900000001")


def test_index_function_refuses_unknown_indexes_and_wrong_arity() -> None:
    with pytest.raises(ValueError, match="no blind index named"):
        index_function("ssn")
    with pytest.raises(ValueError, match="takes 2 value"):
        index_function("name_birth")("Koval")
    with pytest.raises(ValueError, match="takes 1 value"):
        index_function("sasid")("1", "2")


class Marked(str):
    """A str subclass (as Django's SafeString): must take the general path."""


SAMPLES: dict[str, list[object]] = {
    "text": ["Quillfeather", "", "Ostrander-Vey ÉÖ", Marked("Koval"), 17],
    "date": [dt.date(2011, 4, 2), dt.date(1999, 12, 31)],
    "number": [0, 712, -3, True, "42"],
    "flag": [True, False, 1, 0],
    "decimal": [Decimal("0.50"), Decimal("3"), "2.25"],
    "json": [["02", "01"], [], {"b": 1, "a": [2]}],
}


def test_payloads_is_payload_for_every_encrypted_field_and_value_type() -> None:
    from django.apps import apps

    seen_kinds = set()
    for model in apps.get_app_config("records").get_models():
        for f in encrypted_fields_of(model):
            seen_kinds.add(f.kind)
            values = SAMPLES[f.kind]
            assert f.payloads(values) == [f.payload(v) for v in values], (model, f.attname)
    assert seen_kinds == set(SAMPLES)


def test_a_json_value_is_encoded_as_compact_sorted_json() -> None:
    """The encoder made once gives the text json.dumps gave per value (stored payloads stay
    byte-for-byte what they were)."""
    import json

    from studentvault.crypto.fields import EncryptedJSONField

    field = EncryptedJSONField(category="demographics")
    for value in [["02", "01"], [], {"b": 1, "a": [2, None]}, "Ostrander-Vey ÉÖ", [1.5, True]]:
        expected = json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
        assert field.encode(value) == expected
        assert field.decode(field.encode(value)) == value
