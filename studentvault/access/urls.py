"""Routes of the access app: /manage/ screens and the self-service /accounts/ pages."""

from django.urls import path

from . import account_views, manage_views

app_name = "manage"
urlpatterns = [
    path("", manage_views.accounts_view, name="accounts"),
    path("accounts/new/", manage_views.account_new_view, name="account_new"),
    path("accounts/<int:user_id>/", manage_views.account_view, name="account"),
]

account_urlpatterns = (
    [
        path("sessions/", account_views.sessions_view, name="sessions"),
        path("policy/", account_views.policy_view, name="policy"),
    ],
    "people",
)
