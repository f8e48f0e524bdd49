"""Reports on the synthetic district: counts, suppression, authorization, audit, outputs.

Every run asserts its audit entry; recounts are done in Python from the rows, independently
of the SQL GROUP BY.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client

from studentvault.access.actors import actor_for_user
from studentvault.access.policy import current_school_year
from studentvault.audit.models import AuditEntry
from studentvault.core.actors import Actor
from studentvault.records.district_files import load_district
from studentvault.records.models import (
    AssessmentResult,
    Enrollment,
    ProgramParticipation,
    School,
    Student,
)
from studentvault.reporting import reports as report_module
from studentvault.reporting.aggregates import (
    TOTAL,
    ReportDefinitionError,
    count_date,
    require_plain,
)
from studentvault.reporting.disclosure import (
    SUPPRESSED,
    AuditReport,
    CountTable,
    Dimension,
    DisclosureNotPublishable,
    get_rule_set,
)
from studentvault.reporting.disclosure.audit import audit_pattern
from studentvault.reporting.models import PublishedReport
from studentvault.reporting.outputs import document_csv, render
from studentvault.reporting.reports import ReportResult, median
from studentvault.reporting.services import ReportDenied, report_publish, report_run
from studentvault.web import demo
from tests.access.access_world import sign_in, totp_code

pytestmark = pytest.mark.django_db
YEAR = current_school_year()
ASSESSMENT_YEAR = YEAR - 1  # the synthetic district's results are last spring's


@pytest.fixture
def district(synthetic_district_files: Path) -> dict[str, Any]:
    load_district(synthetic_district_files)
    accounts = demo.ensure_accounts(actor=Actor.system("tests"))
    return {a.username: a for a in accounts}


def actor(username: str, *, mfa: bool = True) -> Actor:
    user = get_user_model().objects.get(username=username)
    base = actor_for_user(user)
    return dataclasses.replace(base, extra={"mfa": "verified"} if mfa else {})


def last_run(username: str) -> AuditEntry:
    user = get_user_model().objects.get(username=username)
    entry = (
        AuditEntry.objects.filter(action="reporting:report:run", actor_id=f"user:{user.pk}")
        .order_by("-seq")
        .first()
    )
    assert entry is not None, "the run was not audited"
    return entry


def rows_of(result: ReportResult, table_id: str) -> dict[tuple[str, ...], tuple[str, str | None]]:
    [table] = [t for t in result.tables if t.id == table_id]
    return {key: (display, reason) for key, display, reason in table.rows}


def recount_enrollment(field: str, students: set[int] | None = None) -> Counter[tuple[str, ...]]:
    """school x grade x value on the count date, with every total, counted in Python."""
    on = count_date(YEAR)
    codes = dict(School.objects.values_list("pk", "state_code"))
    values = dict(Student.objects.values_list("pk", field))
    seen: set[tuple[int, int, str]] = set()
    counts: Counter[tuple[str, ...]] = Counter()
    for e in Enrollment.objects.filter(school_year=YEAR):
        if students is not None and e.student_id not in students:
            continue
        if e.entry_date > on or (e.exit_date is not None and e.exit_date < on):
            continue
        if (e.student_id, e.school_id, e.grade_level) in seen:
            continue
        seen.add((e.student_id, e.school_id, e.grade_level))
        for s in (codes[e.school_id], TOTAL):
            for g in (e.grade_level, TOTAL):
                for v in (values[e.student_id], TOTAL):
                    counts[(s, g, v)] += 1
    return counts


def test_only_plain_fields_can_be_grouped() -> None:
    require_plain(Enrollment, "school__state_code", "grade_level", "student__gender")
    require_plain(AssessmentResult, "performance_level", "growth_percentile")
    with pytest.raises(ReportDefinitionError, match=r"Student\.first_name is stored encrypted"):
        require_plain(Enrollment, "student__first_name")
    with pytest.raises(ReportDefinitionError, match="scale_score is stored encrypted"):
        require_plain(AssessmentResult, "scale_score")
    with pytest.raises(ReportDefinitionError, match="lunch_eligibility is stored encrypted"):
        require_plain(ProgramParticipation, "lunch_eligibility")


def test_enrollment_counts_equal_a_recount_and_small_cells_are_withheld(
    district: dict[str, Any],
) -> None:
    result = report_run(actor=actor("alice"), name="enrollment", school_year=YEAR)
    assert result.audit_passed and result.suppressed > 0
    for table_id, field in (
        ("race_ethnicity", "federal_race_ethnicity"),
        ("gender", "gender"),
    ):
        truth = recount_enrollment(field)
        cells = rows_of(result, table_id)
        assert cells[(TOTAL, TOTAL, TOTAL)][0] == str(truth[(TOTAL, TOTAL, TOTAL)])
        for key, (display, reason) in cells.items():
            value = truth.get(key, 0)
            if 0 < value < 16:
                assert display == SUPPRESSED and reason == "primary", key
            elif display != SUPPRESSED:
                assert display == str(value), key
            else:
                assert reason == "complementary", key
    # The shared school x grade totals are hidden alike in every table (linked protection).
    margins = [
        {k[:2]: d for k, (d, _) in rows_of(result, t.id).items() if k[2] == TOTAL}
        for t in result.tables
    ]
    assert all(m == margins[0] for m in margins)
    entry = last_run("alice")
    assert entry.outcome == "success" and entry.student_list == []
    details = json.loads(entry.details)
    assert details["report"] == "enrollment" and details["audit_passed"] is True
    assert details["cells"] == result.cells and details["suppressed"] == result.suppressed
    assert {"enrollment", "demographics", "programs"} <= set(entry.category_list)


def test_program_subgroup_counts_participation_on_the_count_date(
    district: dict[str, Any],
) -> None:
    result = report_run(
        actor=actor("alice"),
        name="enrollment",
        school_year=YEAR,
        subgroups=["free_reduced_lunch"],
    )
    on = count_date(YEAR)
    frl = {
        p.student_id
        for p in ProgramParticipation.objects.filter(program="free_reduced_lunch")
        if p.begin_date <= on and (p.end_date is None or p.end_date >= on)
    }
    truth = recount_enrollment("pk")
    total = truth[(TOTAL, TOTAL, TOTAL)]
    cells = rows_of(result, "free_reduced_lunch")
    enrolled = {k[2] for k in truth if k[0] == TOTAL and k[1] == TOTAL and k[2] != TOTAL}
    assert cells[(TOTAL, TOTAL, "Y")][0] == str(len(frl & enrolled))
    assert cells[(TOTAL, TOTAL, "N")][0] == str(total - len(frl & enrolled))


def test_published_output_holds_no_withheld_value_and_passes_an_independent_audit(
    district: dict[str, Any],
) -> None:
    alice = actor("alice")
    result = report_run(
        actor=alice, name="enrollment", school_year=YEAR, subgroups=["race_ethnicity"]
    )
    published = report_publish(actor=alice, result=result)
    document = published.publication
    assert published.audit_passed and published.checksum_matches()
    [table] = document["tables"]
    assert table["columns"] == ["school", "grade", "race_ethnicity", "value"]
    assert all(len(row) == 4 for row in table["rows"])
    assert "primary" not in json.dumps(document) and "complementary" not in json.dumps(document)
    # Rebuild the true table and audit the published pattern with the engine's LP audit.
    truth = recount_enrollment("federal_race_ethnicity")
    dims = tuple(
        Dimension(name=d["name"], codes=tuple(d["codes"]), parent=_parents(d["codes"]))
        for d in table["dimensions"]
    )
    values = np.zeros(tuple(len(d.codes) for d in dims), dtype=np.int64)
    hidden = np.zeros(values.shape, dtype=bool)
    for *key, display in table["rows"]:
        index = tuple(d.index[c] for d, c in zip(dims, key, strict=True))
        values[index] = truth.get(tuple(key), 0)
        hidden[index] = display == SUPPRESSED
        if display != SUPPRESSED:
            assert display == str(values[index])
    full = CountTable(dimensions=dims, values=values)
    rules = get_rule_set("colorado")
    sensitive = np.array([rules.is_sensitive(int(v), "student") for v in full.flat_values])  # type: ignore[arg-type]
    assert sensitive.any() and (hidden.ravel() >= sensitive).all()
    width = np.where(sensitive, 16, 0).astype(np.int64)
    verdict = audit_pattern(full.additivity_matrix(), full.flat_values, hidden.ravel(), width)
    assert verdict.passed
    entry = AuditEntry.objects.filter(action="reporting:report:publish").order_by("-seq").first()
    assert entry is not None and entry.student_list == []
    assert entry.target == f"published_report:{published.pk}"


def _parents(codes: list[str]) -> tuple[int, ...]:
    return tuple(-1 if i == 0 else 0 for i in range(len(codes)))


def test_a_principal_reports_on_their_school_only(district: dict[str, Any]) -> None:
    bob_user = get_user_model().objects.get(username="bob")
    school = School.objects.get(pk=bob_user.access_grants.get().scope_value)
    in_scope = set(
        Enrollment.objects.filter(school=school, school_year=YEAR).values_list(
            "student_id", flat=True
        )
    )
    bob = report_run(
        actor=actor("bob", mfa=False),
        name="enrollment",
        school_year=YEAR,
        subgroups=["race_ethnicity"],
    )
    truth = recount_enrollment("federal_race_ethnicity", students=in_scope)
    cells = rows_of(bob, "race_ethnicity")
    assert cells[(TOTAL, TOTAL, TOTAL)][0] == str(truth[(TOTAL, TOTAL, TOTAL)])
    assert cells[(school.state_code, TOTAL, TOTAL)][0] == str(
        truth[(school.state_code, TOTAL, TOTAL)]
    )
    everyone = recount_enrollment("federal_race_ethnicity")
    assert truth[(TOTAL, TOTAL, TOTAL)] < everyone[(TOTAL, TOTAL, TOTAL)]
    others = {k[0] for k in cells} - {TOTAL, school.state_code}
    for other in others:  # students who moved in after the count date: counted where they were
        assert truth[(other, TOTAL, TOTAL)] == everyone[(other, TOTAL, TOTAL)] or (
            cells[(other, TOTAL, TOTAL)][0] == SUPPRESSED
        )
    assert last_run("bob").outcome == "success"
    with pytest.raises(ReportDenied, match="district"):
        report_publish(actor=actor("bob", mfa=False), result=bob)
    assert not PublishedReport.objects.exists()


def test_a_teacher_cannot_run_a_report_and_the_refusal_is_audited(
    district: dict[str, Any],
) -> None:
    with pytest.raises(ReportDenied) as denied:
        report_run(actor=actor("carol", mfa=False), name="enrollment", school_year=YEAR)
    assert denied.value.reason == "action_not_granted"
    entry = last_run("carol")
    assert entry.outcome == "failure" and entry.student_list == []
    assert json.loads(entry.details)["reason"] == "action_not_granted"
    with pytest.raises(ReportDenied):  # the district steward without a second factor
        report_run(actor=actor("alice", mfa=False), name="enrollment", school_year=YEAR)
    assert json.loads(last_run("alice").details)["reason"] == "mfa_required"
    with pytest.raises(ReportDenied):  # a system actor acts for nobody
        report_run(actor=Actor.system("tests"), name="enrollment", school_year=YEAR)


def test_a_failed_disclosure_audit_is_refused_and_audited(
    district: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = report_module.protect_linked

    def failing(*args: Any, **kwargs: Any) -> Any:
        results = real(*args, **kwargs)
        failed = [
            dataclasses.replace(r, audit=dataclasses.replace(r.audit, passed=False))
            for r in results
        ]
        assert all(isinstance(r.audit, AuditReport) for r in failed)
        return failed

    monkeypatch.setattr(report_module, "protect_linked", failing)
    with pytest.raises(DisclosureNotPublishable, match="failed the disclosure audit"):
        report_run(actor=actor("alice"), name="enrollment", school_year=YEAR, subgroups=["gender"])
    entry = last_run("alice")
    assert entry.outcome == "failure"
    assert json.loads(entry.details)["audit_passed"] is False
    assert not PublishedReport.objects.exists()


def test_csv_cells_cannot_run_as_formulas(district: dict[str, Any]) -> None:
    bob = get_user_model().objects.get(username="bob")
    school = School.objects.get(pk=bob.access_grants.get().scope_value)  # the largest school
    school.name = '=HYPERLINK("http://example.invalid","x")'
    school.save()
    result = report_run(actor=actor("alice"), name="program_participation", school_year=YEAR)
    text = document_csv(result.document(internal=True, generated_at="t", generated_by="user:1"))
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert any(cell.startswith("'=HYPERLINK") for cell in cells)
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)
    assert any(cell in ("primary", "complementary") for cell in cells)  # staff: reason codes


def test_performance_levels_and_percent_met_are_protected_together(
    district: dict[str, Any],
) -> None:
    result = report_run(
        actor=actor("alice"), name="assessment_performance", school_year=ASSESSMENT_YEAR
    )
    assert result.audit_passed
    levels: Counter[tuple[str, ...]] = Counter()
    for r in (
        AssessmentResult.objects.filter(school_year=ASSESSMENT_YEAR, assessment__kind="state")
        .exclude(performance_level="")
        .select_related("school", "assessment")
    ):
        for s in (r.school.state_code, TOTAL):
            for g in (r.grade_level, TOTAL):
                band = "meets" if r.performance_level in ("4", "5") else "below"
                for level in (r.performance_level, band, TOTAL):
                    levels[(r.assessment.subject, s, g, level)] += 1
    rates = rows_of(result, "percent-met")
    for subject in ("ELA", "MATH"):
        cells = rows_of(result, f"{subject}-grade")
        for (school, grade, level), (display, _) in cells.items():
            value = levels.get((subject, school, grade, level), 0)
            if 0 < value < 4:
                assert display == SUPPRESSED
            elif display != SUPPRESSED:
                assert display == str(value)
        for (school, grade, subj), (display, _) in rates.items():
            if subj != subject or display in (SUPPRESSED, "n/a"):
                continue
            # A shown rate has its met and tested counts shown in the distribution.
            assert cells[(school, grade, "meets")][0] != SUPPRESSED
            assert cells[(school, grade, TOTAL)][0] != SUPPRESSED
            if display.endswith("%") and display[0].isdigit():
                met = int(cells[(school, grade, "meets")][0])
                tested = int(cells[(school, grade, TOTAL)][0])
                assert display == f"{100.0 * met / tested:.0f}%"
    assert {"assessments", "demographics"} <= set(last_run("alice").category_list)


def test_median_growth_is_withheld_below_the_minimum(district: dict[str, Any]) -> None:
    assert median({10: 1, 20: 1}) == 15.0 and median({5: 2, 90: 1}) == 5.0
    result = report_run(actor=actor("alice"), name="median_growth", school_year=ASSESSMENT_YEAR)
    groups: dict[tuple[str, ...], list[int]] = {}
    for r in AssessmentResult.objects.filter(
        school_year=ASSESSMENT_YEAR, assessment__kind="state", growth_percentile__isnull=False
    ).select_related("school", "assessment"):
        for s in (r.school.state_code, TOTAL):
            for g in (r.grade_level, TOTAL):
                for j in (r.assessment.subject, TOTAL):
                    groups.setdefault((s, g, j), []).append(int(r.growth_percentile))
    cells = rows_of(result, "median-growth")
    assert any(d == SUPPRESSED for d, _ in cells.values())
    assert any(d not in (SUPPRESSED, "n/a") for d, _ in cells.values())
    for key, (display, reason) in cells.items():
        values = groups.get(key, [])
        if not values:
            assert display == "n/a"
        elif len(values) < 16:
            assert display == SUPPRESSED and reason == "below_minimum"
        else:
            assert float(display) == float(np.median(values))


def _totp(username: str) -> Callable[[], str]:
    """Activate a TOTP authenticator for ``username``; return a maker of current codes.

    allauth accepts each code once (a cache entry marks it used); the test stands in for a
    later time window by forgetting those marks before it makes the next code.
    """
    user = get_user_model().objects.get(username=username)
    Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).delete()
    secret = generate_totp_secret()
    TOTP.activate(user, secret)

    def code() -> str:
        cache.clear()
        return totp_code(secret)

    return code


def test_command_runs_and_publishes_for_a_named_account(
    district: dict[str, Any], tmp_path: Path
) -> None:
    code = _totp("alice")
    out = tmp_path / "enrollment.json"
    call_command(
        "report", "enrollment", "--year", str(YEAR), "--as", "alice", "--otp", code(),
        "--subgroups", "gender", "--format", "json", "--out", str(out),
    )  # fmt: skip
    document = json.loads(out.read_text())
    assert document["tables"][0]["columns"][-1] == "reason"  # internal: not published
    assert json.loads(last_run("alice").details)["channel"] == "console"
    html = tmp_path / "enrollment.html"
    call_command(
        "report", "enrollment", "--year", str(YEAR), "--as", "alice", "--otp", code(),
        "--rules", "nces", "--format", "html", "--out", str(html), "--publish",
    )  # fmt: skip
    page = html.read_text()
    assert "<svg" in page and "<script" not in page and "primary" not in page
    published = PublishedReport.objects.get()
    assert published.rule_set == "nces"
    with pytest.raises(CommandError, match="refused for carol"):
        call_command("report", "enrollment", "--year", str(YEAR), "--as", "carol")
    with pytest.raises(CommandError, match="no active account"):
        call_command("report", "enrollment", "--year", str(YEAR), "--as", "nobody")
    with pytest.raises(CommandError, match="unknown rule set"):
        call_command(
            "report", "enrollment", "--year", str(YEAR), "--as", "alice", "--otp", code(),
            "--rules", "x",
        )  # fmt: skip


def test_command_needs_the_accounts_second_factor(district: dict[str, Any]) -> None:
    """The operator's shell is not a second factor: without a valid code nothing runs."""
    code = _totp("alice")
    runs_before = AuditEntry.objects.filter(action="reporting:report:run").count()
    with pytest.raises(CommandError, match="needs a current TOTP code"):
        call_command("report", "enrollment", "--year", str(YEAR), "--as", "alice")
    with pytest.raises(CommandError, match="needs a current TOTP code"):
        call_command(
            "report", "enrollment", "--year", str(YEAR), "--as", "alice", "--otp", "000000"
        )
    failures = AuditEntry.objects.filter(action="access:cli:signin", outcome="failure")
    assert [json.loads(e.details)["reason"] for e in failures.order_by("seq")] == [
        "mfa_required",
        "mfa_invalid",
    ]
    assert AuditEntry.objects.filter(action="reporting:report:run").count() == runs_before
    valid = code()
    call_command("report", "enrollment", "--year", str(YEAR), "--as", "alice", "--otp", valid)
    signin = AuditEntry.objects.get(action="access:cli:signin", outcome="success")
    assert json.loads(signin.details) == {"channel": "report"}
    with pytest.raises(CommandError, match="needs a current TOTP code"):  # each code once
        call_command("report", "enrollment", "--year", str(YEAR), "--as", "alice", "--otp", valid)


def test_public_pages_show_published_reports_only(district: dict[str, Any]) -> None:
    alice = actor("alice")
    result = report_run(actor=alice, name="program_participation", school_year=YEAR)
    published = report_publish(actor=alice, result=result)
    report_run(actor=alice, name="median_growth", school_year=ASSESSMENT_YEAR)  # not published
    public = Client(HTTP_HOST="localhost", secure=True)
    listing = public.get("/reports/").content.decode()
    assert f"/reports/{published.pk}/" in listing and "Median growth" not in listing
    page = public.get(f"/reports/{published.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and "primary" not in html and "complementary" not in html
    assert "<script>" not in html and ' style="' not in html
    csv_response = public.get(f"/reports/{published.pk}.csv")
    assert csv_response.status_code == 200 and "reason" not in csv_response.content.decode()
    data = json.loads(public.get(f"/reports/{published.pk}.json").content)
    assert data == published.publication
    assert public.get(f"/reports/{published.pk + 1}/").status_code == 404
    PublishedReport.objects.filter(pk=published.pk).update(publication={"tampered": True})
    assert public.get(f"/reports/{published.pk}/").status_code == 404


def test_staff_run_page_runs_for_the_signed_in_account(district: dict[str, Any]) -> None:
    client = Client(HTTP_HOST="localhost", secure=True)
    sign_in(client, get_user_model().objects.get(username="alice"))
    assert client.get("/reporting/run/").status_code == 200
    response = client.post(
        "/reporting/run/",
        {"report": "enrollment", "school_year": YEAR, "rule_set": "colorado",
         "subgroups": ["gender"], "do": "publish"},
    )  # fmt: skip
    assert response.status_code == 200
    html = response.content.decode()
    assert "primary" in html  # staff view shows reason codes
    assert PublishedReport.objects.count() == 1
    teacher = Client(HTTP_HOST="localhost", secure=True)
    sign_in(teacher, get_user_model().objects.get(username="carol"), mfa=False)
    refused = teacher.post(
        "/reporting/run/",
        {"report": "enrollment", "school_year": YEAR, "rule_set": "colorado", "do": "run"},
    )
    assert refused.status_code == 403
    assert last_run("carol").outcome == "failure"
    assert render({"tables": []}, "json", internal=False).strip() == '{\n  "tables": []\n}'
