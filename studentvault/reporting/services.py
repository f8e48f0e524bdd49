"""Running and publishing reports: authorized by the access module, audited, never unprotected.

Invariants:
- a run needs the action "report" on every data category the report aggregates; the
  aggregates are computed only over the students the actor may report on in *all* of them
  (the intersection of ``student_scope_filter(actor, category, action="report")``): a district
  data steward reaches the district, a principal their school, a teacher nobody;
- every run, allowed, refused or failing its disclosure audit, writes one audit entry
  ``reporting:report:run`` with the report, year, rule set, cell and suppression counts and the
  audit verdict, and never a student id (a report is an aggregate);
- nothing is published unless every table passed its audit; publishing needs report access
  to every student of the district in every category (a school's partial view is never
  published as the district's report) and writes ``reporting:report:publish``;
- the stored publication holds display texts only (``ReportResult.document(internal=False)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from studentvault import audit
from studentvault.access.policy import Action, scope_denial, student_scope_filter
from studentvault.core.actors import Actor
from studentvault.core.categories import DataCategory
from studentvault.records.models import Student
from studentvault.reporting.disclosure import (
    DisclosureNotPublishable,
    RuleSetError,
    get_rule_set,
)

from .aggregates import ReportDefinitionError
from .models import PublishedReport, publication_checksum
from .reports import ReportResult, build, get_report

RUN_ACTION = "reporting:report:run"
PUBLISH_ACTION = "reporting:report:publish"


class ReportDenied(PermissionError):
    """The actor may not run (or publish) this report; ``reason`` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def report_population(actor: Actor, categories: Sequence[DataCategory]) -> Q:
    """The students ``actor`` may report on in every one of ``categories`` (prefix student__).

    Raises ``ReportDenied`` naming the first category the actor cannot report on at all.
    """
    combined: Q | None = None
    for category in categories:
        q = student_scope_filter(actor, category, action=Action.REPORT, prefix="student__")
        if q is None:
            denial = scope_denial(actor, category, action=Action.REPORT)
            reason = denial.value if denial is not None else "no_scope"
            raise ReportDenied(reason, f"no report access to {category.value} data ({reason})")
        combined = q if combined is None else combined & q
    assert combined is not None, "a report aggregates at least one category"
    return combined


def _reaches_district(actor: Actor, categories: Sequence[DataCategory]) -> bool:
    """True when the actor may report on every student of the district in every category."""
    everyone = Student.objects.count()
    for category in categories:
        q = student_scope_filter(actor, category, action=Action.REPORT)
        if q is None or Student.objects.filter(q).count() != everyone:
            return False
    return True


def report_run(
    *,
    actor: Actor,
    name: str,
    school_year: int,
    rule_set: str | None = None,
    subgroups: Sequence[str] | None = None,
    channel: str = "web",
) -> ReportResult:
    """Compute one report for ``actor``: authorized, protected, audited (see module doc).

    Raises ``ReportDefinitionError`` for an unknown report, subgroup or rule set (not audited:
    nothing was read), ``ReportDenied`` when refused and ``DisclosureNotPublishable`` when a
    table fails its audit (both audited).
    """
    definition = get_report(name)
    try:
        rules = get_rule_set(rule_set)
    except RuleSetError as error:
        raise ReportDefinitionError(str(error)) from None
    chosen = definition.subgroups(subgroups)
    categories = definition.categories(chosen)
    details: dict[str, str | int | bool | None] = {
        "report": name,
        "year": school_year,
        "rules": rules.name,
        "subgroups": ",".join(s.code for s in chosen),
        "channel": channel,
    }
    category_names = [c.value for c in categories]
    try:
        population = report_population(actor, categories)
    except ReportDenied as denied:
        audit.record(
            actor=actor,
            action=RUN_ACTION,
            outcome="failure",
            categories=category_names,
            details={**details, "reason": denied.reason},
        )
        raise
    try:
        result = build(
            definition, scope=population, school_year=school_year, rules=rules, subgroups=chosen
        )
    except DisclosureNotPublishable as failed:
        audit.record(
            actor=actor,
            action=RUN_ACTION,
            outcome="failure",
            categories=category_names,
            details={**details, "audit_passed": False, "reason": "audit_failed"},
        )
        raise DisclosureNotPublishable(
            f"report {name!r} for {school_year} failed the disclosure audit and cannot be "
            f"shown or published: {failed}"
        ) from failed
    audit.record(
        actor=actor,
        action=RUN_ACTION,
        categories=category_names,
        details={
            **details,
            "cells": result.cells,
            "suppressed": result.suppressed,
            "audit_passed": result.audit_passed,
        },
    )
    return result


@transaction.atomic
def report_publish(*, actor: Actor, result: ReportResult) -> PublishedReport:
    """Store ``result``'s public document as a ``PublishedReport`` and audit the publication.

    Refused (``ReportDenied``, audited) unless the actor may report on the whole district in
    every category the report aggregates; ``DisclosureNotPublishable`` if any table failed.
    """
    definition = get_report(result.name)
    needed = list(definition.categories(definition.subgroups(list(result.subgroups))))
    if not result.audit_passed:
        raise DisclosureNotPublishable(f"report {result.name!r} failed its audit; not published")
    if not _reaches_district(actor, needed):
        audit.record(
            actor=actor,
            action=PUBLISH_ACTION,
            outcome="failure",
            categories=[c.value for c in needed],
            details={
                "report": result.name,
                "year": result.school_year,
                "reason": "not_district_wide",
            },
        )
        raise ReportDenied(
            "not_district_wide",
            "publishing needs report access to every student of the district",
        )
    now = timezone.now()
    document = result.document(internal=False, generated_at=now.isoformat(), generated_by=actor.id)
    published = PublishedReport.objects.create(
        name=result.name,
        title=result.title,
        school_year=result.school_year,
        rule_set=result.rule_set,
        generated_at=now,
        generated_by=actor.id,
        audit_passed=True,
        publication=document,
        checksum=publication_checksum(document),
    )
    audit.record(
        actor=actor,
        action=PUBLISH_ACTION,
        categories=[c.value for c in needed],
        target=f"published_report:{published.pk}",
        details={
            "report": result.name,
            "year": result.school_year,
            "rules": result.rule_set,
            "cells": result.cells,
            "suppressed": result.suppressed,
            "audit_passed": True,
            "checksum": published.checksum,
        },
    )
    return published


def published_document(report: PublishedReport) -> dict[str, Any]:
    """The stored public document, refused if it no longer matches its checksum."""
    if not report.checksum_matches():
        raise DisclosureNotPublishable(
            f"published report {report.pk} does not match its checksum; it is not served"
        )
    document: dict[str, Any] = report.publication
    return document
