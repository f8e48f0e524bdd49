"""OAuth2 for vendor API clients: tokens only for a client bound to an active contract.

Invariants: a client without a ``VendorClient`` binding, or whose contract is not active
(unsigned, unattested, not started or ended), is refused at the token endpoint as an invalid
client; tokens last OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"] (1 hour) and no refresh
token is issued for client credentials. Every refusal is audited.
"""

from __future__ import annotations

from typing import Any

from oauth2_provider.oauth2_validators import OAuth2Validator

from studentvault.core.actors import Actor, ActorKind

from .auditing import record
from .models import VendorClient


class ContractBoundValidator(OAuth2Validator):  # type: ignore[misc]
    """Authenticates the client as usual, then requires its contract to be active."""

    def authenticate_client(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        if not super().authenticate_client(request, *args, **kwargs):
            return False
        client_id = str(request.client.client_id)
        binding = (
            VendorClient.objects.filter(application__client_id=client_id)
            .select_related("contract__vendor")
            .first()
        )
        reason = "no contract" if binding is None else binding.contract.inactive_reason()
        if reason is None:
            return True
        record(
            actor=Actor(kind=ActorKind.VENDOR, id=f"client:{client_id}", role="vendor"),
            action="people:vendor_client:token",
            outcome="failure",
            details={"reason": reason},
        )
        return False
