"""Security headers on every response: Content-Security-Policy and Cache-Control.

Invariants:
- every response carries the CSP below: scripts and styles only from this origin (no inline
  script, no eval: htmx runs with ``allowEval: false`` and without its inline indicator
  styles), no framing, forms post only to this origin, no <base>, no plugins; images also
  from ``data:`` because the TOTP enrolment page shows its QR code as a data URI;
- every response to a signed-in user, every API response and every OAuth token response is
  ``Cache-Control: no-store`` (pages and answers with student data never reach a cache);
- HSTS, nosniff, Referrer-Policy and frame denial come from Django's SecurityMiddleware and
  XFrameOptionsMiddleware (settings); this middleware does not duplicate them.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)
NO_STORE_PREFIXES = ("/api/", "/o/")


class SecurityHeadersMiddleware:
    """Add the CSP to every response and no-store to every authenticated or API response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        if signed_in or request.path.startswith(NO_STORE_PREFIXES):
            response.headers["Cache-Control"] = "no-store"
        return response
