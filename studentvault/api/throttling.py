"""Throttling per actor: each vendor client and each staff account has its own budget.

The budget is ``API_THROTTLE_RATE`` (DRF notation, e.g. "600/min"), counted in Django's cache
(configure a shared cache such as Redis when several processes serve the API; each process
otherwise counts on its own). Unauthenticated requests are refused before throttling.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from .permissions import api_actor


class ActorRateThrottle(SimpleRateThrottle):
    """Requests per period per actor id (``client:<id>`` or ``user:<pk>``)."""

    scope = "api"

    def get_rate(self) -> str | None:
        return str(settings.API_THROTTLE_RATE) or None

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        actor = api_actor(request)
        ident = actor.id if actor.id else f"ip:{self.get_ident(request)}"
        return f"studentvault:throttle:api:{ident}"
