"""Writes of the public API layer: credentials (API keys, login tokens, TOTP) and watchlists.

Nothing here moves money or changes an order; those live in apps.orders / apps.ledger services.
"""

from __future__ import annotations

import logging
import secrets
import string
from datetime import timedelta

import pyotp
from django.contrib.auth import authenticate
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import Account, User
from apps.instruments.models import Instrument

from .authentication import secret_digest, token_digest
from .models import ApiKey, AuthToken, TotpDevice, Watchlist, WatchlistItem

logger = logging.getLogger(__name__)

KEY_ID_ALPHABET = string.ascii_uppercase + string.digits
SECRET_ALPHABET = string.ascii_letters + string.digits
TOKEN_LIFETIME = timedelta(hours=12)
TOTP_ISSUER = "Brokerage"


class LoginFailed(Exception):
    """Wrong username/password, or a missing/wrong second factor. `code` tells which."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class TotpError(Exception):
    """Enrollment step out of order or a wrong code."""


class WatchlistError(Exception):
    """Duplicate name or unknown symbol; `status` is the HTTP status the API answers with."""

    def __init__(self, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


# --- API keys ---------------------------------------------------------------------------------


def api_key_create(*, user: User, label: str = "") -> tuple[ApiKey, str]:
    """Create a key for `user`; returns the row and the plain secret, which is never stored."""
    secret = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(40))
    salt = secrets.token_hex(16)
    for _ in range(5):
        key_id = "PK" + "".join(secrets.choice(KEY_ID_ALPHABET) for _ in range(18))
        try:
            with transaction.atomic():
                api_key = ApiKey.objects.create(
                    user=user,
                    key_id=key_id,
                    secret_salt=salt,
                    secret_hash=secret_digest(salt=salt, secret=secret),
                    label=label[:100],
                )
        except IntegrityError:
            continue
        logger.info("api key %s created for %s", key_id, user.username)
        return api_key, secret
    raise RuntimeError("could not allocate a unique api key id after 5 attempts")


def api_key_revoke(*, api_key: ApiKey, actor: User | None = None) -> ApiKey:
    """Revoke a key (idempotent). A revoked key authenticates nothing from the next request on."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        logger.info("api key %s revoked by %s", api_key.key_id, getattr(actor, "username", "system"))
    return api_key


# --- Login tokens and TOTP ----------------------------------------------------------------------


def auth_token_issue(*, user: User, lifetime: timedelta = TOKEN_LIFETIME) -> tuple[AuthToken, str]:
    token = secrets.token_urlsafe(32)
    auth_token = AuthToken.objects.create(
        user=user, token_hash=token_digest(token), expires_at=timezone.now() + lifetime
    )
    return auth_token, token


def auth_token_revoke(*, auth_token: AuthToken) -> None:
    if auth_token.revoked_at is None:
        auth_token.revoked_at = timezone.now()
        auth_token.save(update_fields=["revoked_at"])


def totp_verify(*, device: TotpDevice, code: str) -> bool:
    """Accept `code` for the current or adjacent 30 s step, each step at most once (no replay)."""
    code = (code or "").strip()
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return False
    totp = pyotp.TOTP(device.secret)
    now = timezone.now()
    current_step = totp.timecode(now)
    for drift in (0, -1, 1):
        step = current_step + drift
        if secrets.compare_digest(totp.generate_otp(step), code):
            with transaction.atomic():
                # Conditional update: two concurrent logins with the same code cannot both win.
                accepted = TotpDevice.objects.filter(pk=device.pk, last_used_step__lt=step).update(
                    last_used_step=step
                )
            if accepted:
                device.last_used_step = step
            return bool(accepted)
    return False


def login(*, username: str, password: str, totp_code: str = "") -> tuple[AuthToken, str]:
    """Password plus, when the user has a confirmed TOTP device, a current TOTP code."""
    user = authenticate(username=username, password=password)
    if user is None or not isinstance(user, User):
        raise LoginFailed("invalid username or password", code="invalid_credentials")
    device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first()
    if device is not None:
        if not totp_code:
            raise LoginFailed("a TOTP code is required for this account", code="totp_required")
        if not totp_verify(device=device, code=totp_code):
            raise LoginFailed("invalid TOTP code", code="totp_invalid")
    return auth_token_issue(user=user)


def totp_enroll_begin(*, user: User) -> tuple[TotpDevice, str]:
    """Start (or restart) enrollment: a fresh secret and its otpauth:// URI for the authenticator app.

    A confirmed device is not replaced here; disable it first (with a valid code).
    """
    existing = TotpDevice.objects.filter(user=user).first()
    if existing is not None and existing.is_confirmed:
        raise TotpError("TOTP is already enabled; disable it first")
    secret = pyotp.random_base32()
    device, _ = TotpDevice.objects.update_or_create(
        user=user, defaults={"secret": secret, "confirmed_at": None, "last_used_step": 0}
    )
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=TOTP_ISSUER)
    return device, uri


def totp_enroll_confirm(*, user: User, code: str) -> TotpDevice:
    device = TotpDevice.objects.filter(user=user).first()
    if device is None:
        raise TotpError("no TOTP enrollment in progress")
    if device.is_confirmed:
        raise TotpError("TOTP is already enabled")
    if not totp_verify(device=device, code=code):
        raise TotpError("invalid TOTP code")
    device.confirmed_at = timezone.now()
    device.save(update_fields=["confirmed_at"])
    return device


def totp_disable(*, user: User, code: str) -> None:
    device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first()
    if device is None:
        raise TotpError("TOTP is not enabled")
    if not totp_verify(device=device, code=code):
        raise TotpError("invalid TOTP code")
    device.delete()


# --- Watchlists ---------------------------------------------------------------------------------


def _instruments_for(symbols: list[str]) -> list[Instrument]:
    wanted = [s.strip().upper() for s in symbols]
    found = {i.symbol: i for i in Instrument.objects.filter(symbol__in=wanted)}
    missing = [s for s in wanted if s not in found]
    if missing:
        raise WatchlistError(f"asset not found: {', '.join(missing)}", status=404)
    unique: list[Instrument] = []
    for symbol in wanted:
        if found[symbol] not in unique:
            unique.append(found[symbol])
    return unique


def watchlist_create(*, account: Account, name: str, symbols: list[str]) -> Watchlist:
    instruments = _instruments_for(symbols)
    try:
        with transaction.atomic():
            watchlist = Watchlist.objects.create(account=account, name=name)
            WatchlistItem.objects.bulk_create(
                WatchlistItem(watchlist=watchlist, instrument=inst, position=i) for i, inst in enumerate(instruments)
            )
    except IntegrityError as exc:
        raise WatchlistError(f"watchlist name {name!r} already exists") from exc
    return watchlist


def watchlist_update(*, watchlist: Watchlist, name: str | None, symbols: list[str] | None) -> Watchlist:
    """Rename and/or replace the assets (Alpaca's PUT semantics)."""
    instruments = _instruments_for(symbols) if symbols is not None else None
    try:
        with transaction.atomic():
            if name is not None:
                watchlist.name = name
            watchlist.save()
            if instruments is not None:
                watchlist.items.all().delete()
                WatchlistItem.objects.bulk_create(
                    WatchlistItem(watchlist=watchlist, instrument=inst, position=i)
                    for i, inst in enumerate(instruments)
                )
    except IntegrityError as exc:
        raise WatchlistError(f"watchlist name {name!r} already exists") from exc
    return watchlist


def watchlist_add_asset(*, watchlist: Watchlist, symbol: str) -> Watchlist:
    (instrument,) = _instruments_for([symbol])
    with transaction.atomic():
        locked = Watchlist.objects.select_for_update().get(pk=watchlist.pk)
        if locked.items.filter(instrument=instrument).exists():
            raise WatchlistError(f"{instrument.symbol} is already in the watchlist")
        last = locked.items.order_by("-position").values_list("position", flat=True).first()
        WatchlistItem.objects.create(watchlist=locked, instrument=instrument, position=(last or 0) + 1)
        locked.save(update_fields=["updated_at"])
    return locked


def watchlist_remove_asset(*, watchlist: Watchlist, symbol: str) -> Watchlist:
    deleted, _ = watchlist.items.filter(instrument__symbol=symbol.strip().upper()).delete()
    if not deleted:
        raise WatchlistError(f"{symbol} is not in the watchlist", status=404)
    watchlist.save(update_fields=["updated_at"])
    return watchlist


def watchlist_delete(*, watchlist: Watchlist) -> None:
    watchlist.delete()
