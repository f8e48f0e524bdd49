"""FERPA 34 CFR 99.32 record of disclosures.

Invariants:
- every release of a student's PII outside the school-official exception (vendor API pulls,
  exports, SFTP deliveries, state submissions) is recorded by ``record_disclosure``, or by
  ``prepare_disclosure`` then ``writer.append_many`` (the API's reads, ADR 0065): one
  ``Disclosure`` row per student and one audit entry ("exchange:disclosure:create"), written
  atomically, so neither exists without the other;
- a disclosure row names the recipient, the legitimate interest or legal basis, the contract,
  the data elements (names, never values) and the date; it is kept as long as the student's
  record (the retention module removes it with the record; the audit entry stays).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from studentvault.core.actors import Actor

from .models import Disclosure
from .writer import AuditError, PreparedEntry, append_many, prepare


def record_disclosure(
    *,
    actor: Actor,
    students: Sequence[int],
    recipient: str,
    recipient_kind: str,
    basis: str,
    contract_ref: str = "",
    elements: Sequence[str],
    channel: str,
    redisclosure_to: str = "",
) -> list[Disclosure]:
    """Record that ``students``' ``elements`` were released to ``recipient`` (99.32).

    Call it inside the transaction that performs or logs the release. Raises ``AuditError``
    naming the argument that is missing or wrong; nothing is written then.
    """
    entry, rows = prepare_disclosure(
        actor=actor,
        students=students,
        recipient=recipient,
        recipient_kind=recipient_kind,
        basis=basis,
        contract_ref=contract_ref,
        elements=elements,
        channel=channel,
        redisclosure_to=redisclosure_to,
    )
    with transaction.atomic():  # inside it, append_many appends the entry, then the rows
        [appended] = append_many([entry], rows)
        return list(Disclosure.objects.filter(audit_entry=appended).order_by("pk"))


def prepare_disclosure(
    *,
    actor: Actor,
    students: Sequence[int],
    recipient: str,
    recipient_kind: str,
    basis: str,
    contract_ref: str = "",
    elements: Sequence[str],
    channel: str,
    redisclosure_to: str = "",
) -> tuple[PreparedEntry, list[dict[str, object]]]:
    """The audit entry and the ``Disclosure`` rows of a release (arguments and checks as
    ``record_disclosure``), built without touching the database; the rows name their entry as
    index 0. ``writer.append_many([entry, ...], rows)`` writes them together (ADR 0065).
    """
    if not students:
        raise AuditError("a disclosure record needs at least one student")
    if not recipient.strip():
        raise AuditError("a disclosure record needs the recipient")
    if not basis.strip():
        raise AuditError("a disclosure record needs the legitimate interest or legal basis")
    if recipient_kind not in Disclosure.RecipientKind.values:
        raise AuditError(
            f"recipient kind {recipient_kind!r} must be one of {Disclosure.RecipientKind.values}"
        )
    if channel not in Disclosure.Channel.values:
        raise AuditError(f"channel {channel!r} must be one of {Disclosure.Channel.values}")
    element_list = sorted({e.strip() for e in elements if e.strip()})
    if not element_list:
        raise AuditError("a disclosure record needs the names of the data elements released")
    now = timezone.now()
    entry = prepare(
        actor=actor,
        action="exchange:disclosure:create",
        students=students,
        purpose=basis,
        target=f"recipient:{recipient}",
        details={
            "recipient_kind": recipient_kind,
            "channel": channel,
            "contract": contract_ref,
            "elements": ",".join(element_list),
            "redisclosure_to": redisclosure_to,
        },
        occurred_at=now,
    )
    rows: list[dict[str, object]] = [
        {
            "entry": 0,
            "student_id": student,
            "recipient": recipient[:200],
            "recipient_kind": recipient_kind,
            "basis": basis[:500],
            "contract_ref": contract_ref[:100],
            "elements": element_list,
            "channel": channel,
            "redisclosure_to": redisclosure_to[:500],
            "disclosed_at": now,
        }
        for student in entry.students
    ]
    return entry, rows


def disclosures_for_student(student_id: int) -> QuerySet[Disclosure]:
    """The 99.32 disclosure record of one student, newest first.

    Callers (views, the parent portal) authorise the reader and audit the read themselves.
    """
    return Disclosure.objects.filter(student_id=student_id).order_by("-disclosed_at", "-id")
