"""Web trading UI."""

from django.contrib.auth import views as auth_views
from django.urls import path

from apps.api.forms import TotpAuthenticationForm

from . import views

urlpatterns = [
    path("", views.trade, name="web-trade"),
    path("settings/api-keys", views.api_keys, name="web-api-keys"),
    # Password, plus the authenticator code for customers who enrolled TOTP (same rule as the API login).
    path("login", auth_views.LoginView.as_view(authentication_form=TotpAuthenticationForm), name="login"),
    path("logout", auth_views.LogoutView.as_view(next_page="/login"), name="logout"),
]
