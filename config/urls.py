"""URL routes of the whole site."""

from django.contrib import admin
from django.urls import include, path
from oauth2_provider import views as oauth2_views

from studentvault.access.urls import account_urlpatterns
from studentvault.people.admin_site import admin_login_redirect

admin.site.login = admin_login_redirect  # type: ignore[method-assign]  # MFA-gated sign-in only

urlpatterns: list[object] = [
    path("accounts/", include(account_urlpatterns)),
    path("accounts/", include("allauth.urls")),
    path("manage/", include("studentvault.access.urls")),
    path(
        "o/",
        include(
            (
                [
                    path("token/", oauth2_views.TokenView.as_view(), name="token"),
                    path(
                        "revoke_token/", oauth2_views.RevokeTokenView.as_view(), name="revoke-token"
                    ),
                    path(
                        "introspect/", oauth2_views.IntrospectTokenView.as_view(), name="introspect"
                    ),
                ],
                "oauth2_provider",
            )
        ),
    ),
    path("admin/", admin.site.urls),
    path("audit/", include("studentvault.audit.urls")),
    path("api/", include("studentvault.api.urls")),
    path("", include("studentvault.reporting.urls")),  # /reports/ (public), /reporting/run/
    path("", include("studentvault.web.urls")),
]
