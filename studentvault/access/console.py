"""Who runs a command that reads or writes student data: a named account, with its second factor.

Used by every operator command that acts for a staff account (``import``, ``export``,
``report``): the operator names the account with ``--as USERNAME`` and the command acts with
that account's grants, exactly as the web would.

Invariants:
- the account exists and is active; the actor is that account's staff actor, never a system
  actor (``policy.may`` refuses system actors);
- when the account needs MFA (``policy.mfa_required_for_user``), a current TOTP code must be
  given (``--otp``, the STUDENTVAULT_OTP variable, or typed at a terminal) and is checked with
  allauth's TOTP (each code is accepted once); only then is the actor marked MFA-verified.
  The server shell is not a second factor (docs/adr/0053);
- every attempt is audited as ``access:cli:signin`` (success or failure, with the command's
  channel); a refusal names the account and what is missing, never the code.
"""

from __future__ import annotations

import getpass
import os
import sys

from django.contrib.auth import get_user_model

from studentvault import audit
from studentvault.core.actors import Actor

from .actors import actor_for_user
from .policy import mfa_required_for_user

SIGNIN_ACTION = "access:cli:signin"


class SignInRefused(PermissionError):
    """The named account cannot act from the command line (the message says why, no secrets)."""


def totp_valid(user: object, code: str) -> bool:
    """Whether ``code`` is a current, unused TOTP code of ``user``'s authenticator."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP

    authenticator = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    return authenticator is not None and TOTP(authenticator).validate_code(code.strip())


def command_actor(username: str, *, otp: str | None = None, channel: str = "cli") -> Actor:
    """The actor for ``username`` at the command line, after the MFA check; audited.

    ``channel`` names the command ("import", "export", "report") in the audit entry and in the
    actor's ``extra``, so entries written while the command runs show where they came from.
    Raises ``SignInRefused`` when the account is unknown, inactive, or lacks a valid code.
    """
    user = get_user_model().objects.filter(username=username).first()
    if user is None or not user.is_active:
        audit.record(
            actor=Actor.system(channel),
            action=SIGNIN_ACTION,
            outcome="failure",
            target=f"username:{username[:60]}",
            details={"reason": "unknown_or_inactive", "channel": channel},
        )
        raise SignInRefused(f"no active account {username!r}")
    staff = actor_for_user(user)
    extra = {**staff.extra, "channel": channel}
    if mfa_required_for_user(user):
        code = otp or os.environ.get("STUDENTVAULT_OTP", "")
        if not code and sys.stdin.isatty():
            code = getpass.getpass(f"TOTP code for {username}: ")
        if not code or not totp_valid(user, code):
            audit.record(
                actor=staff,
                action=SIGNIN_ACTION,
                outcome="failure",
                details={
                    "reason": "mfa_required" if not code else "mfa_invalid",
                    "channel": channel,
                },
            )
            raise SignInRefused(
                f"account {username!r} needs a current TOTP code (--otp or STUDENTVAULT_OTP)"
            )
        extra["mfa"] = "verified"
    actor = Actor(
        kind=staff.kind,
        id=staff.id,
        username=staff.username,
        role=staff.role,
        user_agent=f"studentvault {channel} (console)",
        extra=extra,
    )
    audit.record(actor=actor, action=SIGNIN_ACTION, details={"channel": channel})
    return actor
