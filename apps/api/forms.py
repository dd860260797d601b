"""A Django login form that enforces the TOTP second factor, for the web UI's /login.

Wire it with `LoginView.as_view(authentication_form=TotpAuthenticationForm)` and render the
`totp_code` field; the API's POST /v2/auth/login applies the same rule (apps.api.services.login).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from .models import TotpDevice
from .services import totp_verify


class TotpAuthenticationForm(AuthenticationForm):
    totp_code = forms.RegexField(regex=r"^[0-9]{6}$", required=False, label="Authenticator code")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        user = self.get_user()
        device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first() if user else None
        if device is not None:
            code = cleaned.get("totp_code") or ""
            if not code:
                raise forms.ValidationError("Enter the 6-digit code from your authenticator app.", code="totp_required")
            if not totp_verify(device=device, code=code):
                raise forms.ValidationError("That authenticator code is not valid.", code="totp_invalid")
        return cleaned
