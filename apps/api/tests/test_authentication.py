"""API keys, login tokens and TOTP against the real database."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.accounts.models import User
from apps.api.authentication import user_for_api_key, user_for_token
from apps.api.models import ApiKey, TotpDevice
from apps.api.services import (
    LoginFailed,
    api_key_create,
    api_key_revoke,
    auth_token_issue,
    login,
    totp_enroll_begin,
    totp_enroll_confirm,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def make_user(**fields: object) -> User:
    return UserFactory(**fields)  # type: ignore[return-value]


def test_api_key_secret_is_stored_hashed_and_verifies() -> None:
    user = make_user()
    api_key, secret = api_key_create(user=user)
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert secret not in (stored.secret_hash, stored.secret_salt)
    assert user_for_api_key(key_id=api_key.key_id, secret=secret) == user
    assert user_for_api_key(key_id=api_key.key_id, secret=secret[:-1] + "x") is None
    assert user_for_api_key(key_id="PKUNKNOWN", secret=secret) is None
    api_key_revoke(api_key=api_key)
    assert user_for_api_key(key_id=api_key.key_id, secret=secret) is None


def test_inactive_user_key_rejected() -> None:
    user = make_user()
    api_key, secret = api_key_create(user=user)
    user.is_active = False
    user.save()
    assert user_for_api_key(key_id=api_key.key_id, secret=secret) is None


def test_token_expires() -> None:
    user = make_user()
    _, token = auth_token_issue(user=user)
    assert user_for_token(token=token) == user
    _, stale = auth_token_issue(user=user, lifetime=timedelta(seconds=-1))
    assert user_for_token(token=stale) is None
    assert user_for_token(token="nonsense") is None


def test_login_with_totp_and_no_replay() -> None:
    user = make_user(username="totp-user")
    device, uri = totp_enroll_begin(user=user)
    assert uri.startswith("otpauth://totp/")
    totp = pyotp.TOTP(device.secret)
    # The enrollment code burns the current step; login needs a later step's code.
    totp_enroll_confirm(user=user, code=totp.at(timezone.now() - timedelta(seconds=30)))
    with pytest.raises(LoginFailed) as missing:
        login(username="totp-user", password="correct-horse-battery")
    assert missing.value.code == "totp_required"
    with pytest.raises(LoginFailed) as wrong_password:
        login(username="totp-user", password="nope", totp_code=totp.now())
    assert wrong_password.value.code == "invalid_credentials"
    code = totp.now()
    _, token = login(username="totp-user", password="correct-horse-battery", totp_code=code)
    assert user_for_token(token=token) == user
    with pytest.raises(LoginFailed) as replay:
        login(username="totp-user", password="correct-horse-battery", totp_code=code)
    assert replay.value.code == "totp_invalid"
    assert TotpDevice.objects.get(user=user).last_used_step == totp.timecode(timezone.now())


def test_create_api_key_command_prints_working_credentials(capsys: pytest.CaptureFixture[str]) -> None:
    user = make_user(username="ops-user")
    call_command("create_api_key", "ops-user")
    out = dict(line.split("=", 1) for line in capsys.readouterr().out.strip().splitlines())
    assert user_for_api_key(key_id=out["APCA-API-KEY-ID"], secret=out["APCA-API-SECRET-KEY"]) == user


def test_web_login_form_requires_totp_once_enrolled() -> None:
    from apps.api.forms import TotpAuthenticationForm

    user = make_user(username="web-totp")
    data = {"username": "web-totp", "password": "correct-horse-battery"}
    assert TotpAuthenticationForm(data=data).is_valid()
    device, _ = totp_enroll_begin(user=user)
    totp = pyotp.TOTP(device.secret)
    totp_enroll_confirm(user=user, code=totp.at(timezone.now() - timedelta(seconds=30)))
    assert not TotpAuthenticationForm(data=data).is_valid()
    wrong = "000000" if totp.now() != "000000" else "111111"
    assert not TotpAuthenticationForm(data={**data, "totp_code": wrong}).is_valid()
    assert TotpAuthenticationForm(data={**data, "totp_code": totp.now()}).is_valid()
