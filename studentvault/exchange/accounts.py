"""Who runs a command-line import or export: a named account, with its second factor.

Invariants:
- ``--as USERNAME`` names an existing, active account; the command acts with that account's
  grants, never as a system actor (``may`` refuses system actors);
- when the account needs MFA (``access.policy.mfa_required_for_user``), a current TOTP code must
  be given (``--otp``, the STUDENTVAULT_OTP variable, or typed at a terminal) and is checked
  with allauth's TOTP (each code once); only then is the actor marked MFA-verified;
- every sign-in attempt is audited as ``exchange:cli:signin`` (success or failure).
"""

from __future__ import annotations

import getpass
import os
import sys

from django.contrib.auth import get_user_model

from studentvault import audit
from studentvault.access.actors import actor_for_user
from studentvault.access.policy import mfa_required_for_user
from studentvault.core.actors import Actor


class SignInRefused(PermissionError):
    """The named account cannot act from the command line (message says why, no secrets)."""


def totp_valid(user: object, code: str) -> bool:
    """Whether ``code`` is a current, unused TOTP code of ``user``'s authenticator."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP

    authenticator = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    return authenticator is not None and TOTP(authenticator).validate_code(code.strip())


def command_actor(username: str, *, otp: str | None = None, channel: str = "cli") -> Actor:
    """The actor for ``username`` at the command line, after the MFA check; audited."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None or not user.is_active:
        audit.record(
            actor=Actor.system(channel),
            action="exchange:cli:signin",
            outcome="failure",
            target=f"username:{username[:60]}",
            details={"reason": "unknown_or_inactive"},
        )
        raise SignInRefused(f"no active account {username!r}")
    actor = actor_for_user(user)
    if mfa_required_for_user(user):
        code = otp or os.environ.get("STUDENTVAULT_OTP", "")
        if not code and sys.stdin.isatty():
            code = getpass.getpass(f"TOTP code for {username}: ")
        if not code or not totp_valid(user, code):
            audit.record(
                actor=actor,
                action="exchange:cli:signin",
                outcome="failure",
                details={"reason": "mfa_required" if not code else "mfa_invalid"},
            )
            raise SignInRefused(
                f"account {username!r} needs a current TOTP code (--otp or STUDENTVAULT_OTP)"
            )
        actor = Actor(
            kind=actor.kind,
            id=actor.id,
            username=actor.username,
            role=actor.role,
            extra={**actor.extra, "mfa": "verified"},
        )
    audit.record(actor=actor, action="exchange:cli:signin", details={"channel": channel})
    return actor
