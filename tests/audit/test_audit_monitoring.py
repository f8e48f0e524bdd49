"""Monitoring rules, alerts and their email; sites, devices; security events; the pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from audit_helpers import staff
from django.conf import LazySettings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory

from studentvault import audit
from studentvault.audit import views
from studentvault.audit.checkpoints import write_checkpoint
from studentvault.audit.disclosures import disclosures_for_student, record_disclosure
from studentvault.audit.models import Alert, AuditEntry, Disclosure, NetworkSite
from studentvault.audit.testing import assert_audited
from studentvault.audit.writer import AuditError
from studentvault.core.actors import Actor
from studentvault.core.events import emit

pytestmark = pytest.mark.django_db

# A Wednesday, 10:00 in America/Denver.
WORKDAY = datetime(2025, 9, 3, 16, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def contact(settings: LazySettings) -> None:
    settings.SECURITY_CONTACT_EMAIL = "security@district.example"
    settings.TIME_ZONE = "America/Denver"


def _run(django_capture_on_commit_callbacks: Any, **kwargs: Any) -> AuditEntry:
    with django_capture_on_commit_callbacks(execute=True):
        return audit.record(**kwargs)


def test_sites_most_specific_range_wins() -> None:
    NetworkSite.objects.create(name="District WAN", cidr="10.0.0.0/8")
    NetworkSite.objects.create(name="Lincoln Elementary", cidr="10.20.0.0/16")
    inside = audit.record(actor=staff(client_ip="10.20.1.5"), action="auth:login:success")
    wan = audit.record(actor=staff(client_ip="10.99.1.5"), action="auth:login:success")
    away = audit.record(actor=staff(client_ip="203.0.113.9"), action="auth:login:success")
    assert (inside.site, wan.site, away.site) == (
        "Lincoln Elementary",
        "District WAN",
        "outside district",
    )


def test_bulk_reads_raise_one_alert_and_email_it(
    settings: LazySettings, django_capture_on_commit_callbacks: Any
) -> None:
    settings.AUDIT_BULK_READ_STUDENTS = 5
    for n in range(4):
        _run(
            django_capture_on_commit_callbacks,
            actor=staff(),
            action="records:student:list",
            students=[n * 2 + 1, n * 2 + 2],
            occurred_at=WORKDAY + timedelta(minutes=n),
        )
    alerts = list(Alert.objects.filter(rule=Alert.Rule.BULK_READ))
    assert len(alerts) == 1  # 6 students after the third read; the fourth is the same window
    assert "6 students read within 10 minutes" in alerts[0].summary
    assert alerts[0].emailed
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["security@district.example"]


def test_outside_hours_and_weekends(django_capture_on_commit_callbacks: Any) -> None:
    _run(
        django_capture_on_commit_callbacks,
        actor=staff(),
        action="records:student:read",
        students=[1],
        occurred_at=WORKDAY,
    )
    assert not Alert.objects.exists()
    _run(
        django_capture_on_commit_callbacks,
        actor=staff(),
        action="records:student:read",
        students=[1],
        occurred_at=WORKDAY + timedelta(hours=12),
    )  # 22:00 local
    saturday = datetime(2025, 9, 6, 16, 0, tzinfo=UTC)
    _run(
        django_capture_on_commit_callbacks,
        actor=staff(),
        action="records:student:read",
        students=[1],
        occurred_at=saturday,
    )
    assert Alert.objects.filter(rule=Alert.Rule.OUTSIDE_HOURS).count() == 2
    _run(
        django_capture_on_commit_callbacks,
        actor=Actor.system("nightly"),
        action="retention:sweep:run",
        occurred_at=saturday,
    )
    assert Alert.objects.filter(rule=Alert.Rule.OUTSIDE_HOURS).count() == 2  # jobs are exempt


def test_new_device_and_new_site_after_the_first_sign_in(
    django_capture_on_commit_callbacks: Any,
) -> None:
    NetworkSite.objects.create(name="Central Office", cidr="10.1.0.0/16")
    first = staff(client_ip="10.1.0.4", device_id="laptop")
    _run(
        django_capture_on_commit_callbacks,
        actor=first,
        action="auth:login:success",
        occurred_at=WORKDAY,
    )
    _run(
        django_capture_on_commit_callbacks,
        actor=first,
        action="auth:login:success",
        occurred_at=WORKDAY,
    )
    assert not Alert.objects.exists()
    moved = staff(client_ip="203.0.113.9", device_id="phone")
    _run(
        django_capture_on_commit_callbacks,
        actor=moved,
        action="auth:login:success",
        occurred_at=WORKDAY,
    )
    assert set(Alert.objects.values_list("rule", flat=True)) == {"new_device", "new_site"}


def test_repeated_failures_lockout_and_break_glass(
    settings: LazySettings, django_capture_on_commit_callbacks: Any
) -> None:
    settings.AUDIT_FAILED_SIGNINS = 3
    for _ in range(3):
        _run(
            django_capture_on_commit_callbacks,
            actor=staff(),
            action="auth:login:failure",
            outcome="failure",
            occurred_at=WORKDAY,
        )
    assert Alert.objects.filter(rule=Alert.Rule.FAILED_SIGNINS).count() == 1
    _run(
        django_capture_on_commit_callbacks,
        actor=staff(),
        action="auth:login:lockout",
        outcome="failure",
        occurred_at=WORKDAY,
    )
    assert Alert.objects.filter(rule=Alert.Rule.FAILED_SIGNINS).count() == 2
    _run(
        django_capture_on_commit_callbacks,
        actor=staff(),
        action="access:breakglass:open",
        occurred_at=WORKDAY,
    )
    assert Alert.objects.filter(rule=Alert.Rule.BREAK_GLASS).count() == 1


def test_security_events_from_lower_layers_are_recorded() -> None:
    emit(
        actor=Actor.system("rotate"),
        action="crypto:key:rotate",
        keyset="demographics",
        retired_key_ids=[1, 2],
    )
    emit(
        actor=staff(),
        action="access:grant:create",
        students=[9],
        categories=["discipline"],
        target="grant:4",
    )
    entry = assert_audited(action="crypto:key:rotate", actor_id="system:rotate")
    assert entry.details == '{"keyset":"demographics","retired_key_ids":"1,2"}'
    grant = assert_audited(action="access:grant:create", student=9, category="discipline")
    assert grant.target == "grant:4"
    with pytest.raises(AssertionError, match="no audit entry"):
        assert_audited(action="records:student:read")


def test_disclosures_are_recorded_per_student_with_their_audit_entry() -> None:
    rows = record_disclosure(
        actor=staff(),
        students=[3, 4],
        recipient="Acme Reading Co.",
        recipient_kind="vendor",
        basis="school official: reading intervention (contract C-12)",
        contract_ref="C-12",
        elements=["student.sasid", "assessments.scale_score"],
        channel="sftp",
    )
    assert {d.student_id for d in rows} == {3, 4}
    record = list(disclosures_for_student(3))
    assert [d.recipient for d in record] == ["Acme Reading Co."]
    assert record[0].elements == ["assessments.scale_score", "student.sasid"]
    entry = assert_audited(action="exchange:disclosure:create", student=4)
    assert record[0].audit_entry_id == entry.seq
    with pytest.raises(AuditError, match="legitimate interest or legal basis"):
        record_disclosure(
            actor=staff(),
            students=[3],
            recipient="X",
            recipient_kind="vendor",
            basis=" ",
            elements=["a"],
            channel="api",
        )
    assert Disclosure.objects.count() == 2


def test_pages_need_the_audit_permission_and_escape_what_they_show(
    django_capture_on_commit_callbacks: Any,
) -> None:
    # The view functions themselves (the site-wide route guard is tested by the access module).
    user = get_user_model().objects.create_user("auditor", password="x" * 20)
    factory = RequestFactory()

    def get(view: Any, path: str, **kwargs: Any) -> Any:
        request = factory.get(path, secure=True)
        request.user = get_user_model().objects.get(pk=user.pk)  # fresh permission cache
        return view(request, **kwargs)

    with pytest.raises(PermissionDenied):
        get(views.checkpoint_view, "/audit/checkpoint/")
    user.user_permissions.add(
        Permission.objects.get(codename="view_auditentry"),
        Permission.objects.get(codename="view_disclosure"),
    )
    _run(
        django_capture_on_commit_callbacks,
        actor=staff(username="<b>x</b>\x1b[2J"),
        action="access:breakglass:open",
        occurred_at=WORKDAY,
    )
    write_checkpoint()
    page = get(views.checkpoint_view, "/audit/checkpoint/")
    assert page.status_code == 200 and b"Entries covered" in page.content
    alerts = get(views.alert_list_view, "/audit/alerts/").content.decode()
    assert "&lt;b&gt;x&lt;/b&gt;\\x1b[2J" in alerts and "<b>x" not in alerts
    response = get(views.student_disclosures_view, "/audit/students/5/disclosures/", student_id=5)
    assert response.status_code == 200
    assert_audited(action="audit:disclosures:read", actor_id=f"user:{user.pk}", student=5)
