"""Template context every page gets."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse


def site(request: HttpRequest) -> dict[str, object]:
    try:
        logout_url = reverse("account_logout")
    except NoReverseMatch:
        logout_url = reverse("logout")
    return {"district_name": settings.DISTRICT_NAME, "logout_url": logout_url}
