"""Local access management screens under /manage/: accounts, roles and grants, reviews.

Every screen needs a role permission (never is_superuser); every change goes through a service
that audits it. Student ids for caseloads are typed by the administrator; nothing here shows
student data.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from studentvault.core.categories import DataCategory
from studentvault.people import services as people_services
from studentvault.people.lockout import lockout_clear
from studentvault.people.roles import Permission, ScopeKind, all_roles, role_choices

from . import services
from .actors import request_actor
from .guards import rule, user_has_permission
from .models import AccessReview, Grant

SCOPES = [(k.value, k.value.replace("_", " ")) for k in ScopeKind if k != ScopeKind.CONTRACT]


class AccountForm(forms.Form):
    username = forms.CharField(max_length=150)
    email = forms.EmailField()
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=role_choices)


class GrantForm(forms.Form):
    role = forms.ChoiceField(choices=role_choices)
    scope_kind = forms.ChoiceField(choices=SCOPES)
    scope_value = forms.IntegerField(required=False, help_text="School id or section id")
    caseload = forms.CharField(required=False, help_text="Student ids, comma-separated")
    categories = forms.MultipleChoiceField(
        choices=[(c.value, c.label) for c in DataCategory],
        required=False,
        help_text="Empty = the role's default categories",
    )
    purpose = forms.CharField(max_length=300)
    valid_until = forms.DateField(required=False)


class ReviewForm(forms.Form):
    outcome = forms.ChoiceField(choices=AccessReview.Outcome.choices)
    notes = forms.CharField(required=False, widget=forms.Textarea)


def _user_or_404(user_id: int) -> Any:
    user = get_user_model().objects.filter(pk=user_id).select_related("staff_profile").first()
    if user is None:
        raise Http404("no such account")
    return user


@rule(permission=Permission.ACCOUNTS_MANAGE)
@require_http_methods(["GET"])
def accounts_view(request: HttpRequest) -> HttpResponse:
    """Every staff account with role, status and grants."""
    users = (
        get_user_model()
        .objects.select_related("staff_profile")
        .prefetch_related("access_grants")
        .order_by("username")
    )
    return render(request, "access/accounts.html", {"users": users, "roles": all_roles()})


@rule(permission=Permission.ACCOUNTS_MANAGE)
@require_http_methods(["GET", "POST"])
def account_new_view(request: HttpRequest) -> HttpResponse:
    """Create an account; the person sets a password through a single-use reset link."""
    form = AccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = people_services.staff_create(actor=request_actor(request), **form.cleaned_data)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                form.add_error(field if field in form.fields else None, messages)
        else:
            return HttpResponseRedirect(reverse("manage:account", args=[user.pk]))
    return render(request, "access/account_new.html", {"form": form})


@rule(permission=Permission.ACCOUNTS_MANAGE)
@require_http_methods(["GET", "POST"])
def account_view(request: HttpRequest, user_id: int) -> HttpResponse:
    """One account: status, grants, reviews; POST actions change them (each audited)."""
    user = _user_or_404(user_id)
    actor = request_actor(request)
    grant_form = GrantForm(prefix="grant")
    review_form = ReviewForm(prefix="review")
    error = ""
    if request.method == "POST":
        op = request.POST.get("op", "")
        try:
            if op == "deactivate":
                people_services.staff_deactivate(
                    actor=actor, user=user, reason=request.POST.get("reason", "")
                )
            elif op == "reactivate":
                people_services.staff_reactivate(actor=actor, user=user)
            elif op == "training":
                people_services.training_record(
                    actor=actor,
                    user=user,
                    completed_on=dt.date.fromisoformat(request.POST.get("completed_on", "")),
                    course=request.POST.get("course", ""),
                )
            elif op == "unlock":
                lockout_clear(actor=actor, username=user.get_username())
            elif op == "revoke":
                if not user_has_permission(request.user, Permission.GRANTS_MANAGE):
                    return HttpResponse("Forbidden (permission_denied)", status=403)
                grant = Grant.objects.get(pk=int(request.POST.get("grant", "0")), user=user)
                services.grant_revoke(actor=actor, grant=grant, reason="revoked on /manage/")
            elif op == "grant":
                if not user_has_permission(request.user, Permission.GRANTS_MANAGE):
                    return HttpResponse("Forbidden (permission_denied)", status=403)
                grant_form = GrantForm(request.POST, prefix="grant")
                if not grant_form.is_valid():
                    raise ValidationError("the grant form has errors")
                data = grant_form.cleaned_data
                until = data["valid_until"]
                services.grant_create(
                    actor=actor,
                    user=user,
                    role=data["role"],
                    scope_kind=data["scope_kind"],
                    scope_value=data["scope_value"],
                    caseload=[int(s) for s in data["caseload"].replace(" ", "").split(",") if s],
                    categories=data["categories"] or None,
                    purpose=data["purpose"],
                    valid_until=(
                        dt.datetime.combine(until, dt.time.max, tzinfo=dt.UTC) if until else None
                    ),
                    approved_by=request.user,
                    created_by=request.user,
                )
            elif op == "review":
                if not user_has_permission(request.user, Permission.REVIEWS_RECORD):
                    return HttpResponse("Forbidden (permission_denied)", status=403)
                review_form = ReviewForm(request.POST, prefix="review")
                if not review_form.is_valid():
                    raise ValidationError("the review form has errors")
                services.access_review_record(
                    actor=actor,
                    reviewer=request.user,
                    reviewed_user=user,
                    **review_form.cleaned_data,
                )
            else:
                raise ValidationError(f"unknown operation {op!r}")
        except (ValidationError, ValueError, Grant.DoesNotExist) as problem:
            error = "; ".join(getattr(problem, "messages", [str(problem)]))
        else:
            return HttpResponseRedirect(request.path)
    return render(
        request,
        "access/account.html",
        {
            "account": user,
            "grants": user.access_grants.order_by("-valid_from"),
            "reviews": user.access_reviews.order_by("-reviewed_at")[:20],
            "trainings": user.training_records.order_by("-completed_on")[:5],
            "grant_form": grant_form,
            "review_form": review_form,
            "error": error,
        },
        status=400 if error else 200,
    )
