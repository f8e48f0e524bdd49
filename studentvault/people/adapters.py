"""allauth adapter: no self sign-up (accounts are created by district administrators)."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]
    """Invite-only accounts; the same message for an unknown user and a wrong password."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    error_messages: dict[str, Any] = {
        **DefaultAccountAdapter.error_messages,
        "username_password_mismatch": "The username and/or password you specified are not correct.",
    }
