"""OpenAPI descriptions of the API's authentication (drf-spectacular extensions)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class VendorTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """Vendors: OAuth2 client credentials at /o/token/, scope vendor:read."""

    target_class = "studentvault.api.authentication.VendorTokenAuthentication"
    name = "vendorOAuth2"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "oauth2",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": "/o/token/",
                    "scopes": {
                        "vendor:read": "Read the data elements the vendor's active contract names"
                    },
                }
            },
        }


class StaffSessionScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """Staff: the signed-in session of the staff UI (cookie __Host-sessionid)."""

    target_class = "studentvault.api.authentication.StaffSessionAuthentication"
    name = "staffSession"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "apiKey", "in": "cookie", "name": "__Host-sessionid"}
