"""The Django admin signs in only through the allauth flow (password, then MFA).

Django's own admin login form would skip the second factor; it is replaced by a redirect.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponseRedirect


def admin_login_redirect(request: HttpRequest, extra_context: Any = None) -> HttpResponseRedirect:
    """Send admin sign-in to the MFA-enforcing sign-in page."""
    target = request.GET.get("next", "/admin/")
    if not target.startswith("/") or target.startswith("//"):
        target = "/admin/"
    return HttpResponseRedirect(f"{settings.LOGIN_URL}?{urlencode({'next': target})}")
