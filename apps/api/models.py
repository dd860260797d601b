"""Credentials of the public API (API keys, login tokens, TOTP second factor) and watchlists."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class ApiKey(models.Model):
    """A key id + secret pair for bots and scripts (`APCA-API-KEY-ID` / `APCA-API-SECRET-KEY`).

    The secret is shown once at creation; only a salted HMAC-SHA256 of it is stored (see
    apps.api.authentication for why a fast keyed hash, not a password hasher, is the right tool).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    key_id = models.CharField(max_length=32, unique=True)
    secret_salt = models.CharField(max_length=32)
    secret_hash = models.CharField(max_length=64)
    label = models.CharField(max_length=100, blank=True, default="")
    # Requests per minute; Alpaca's default is 200.
    rate_limit_per_minute = models.PositiveIntegerField(default=200)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "api_apikey"
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return self.key_id

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AuthToken(models.Model):
    """An expiring bearer token issued by the login endpoint (mobile app). Stored as SHA-256."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="auth_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "api_authtoken"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"token {self.id} of {self.user_id}"


class TotpDevice(models.Model):
    """The customer's TOTP (RFC 6238) second factor. Active once confirmed with a first code."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device")
    secret = models.CharField(max_length=64)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The last accepted time step: a code is accepted at most once (no replay within its window).
    last_used_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "api_totpdevice"

    def __str__(self) -> str:
        return f"TOTP of {self.user_id}"

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None


class Watchlist(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="watchlists")
    name = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "api_watchlist"
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="api_watchlist_unique_name")]

    def __str__(self) -> str:
        return self.name


class WatchlistItem(models.Model):
    watchlist = models.ForeignKey(Watchlist, on_delete=models.CASCADE, related_name="items")
    instrument = models.ForeignKey("instruments.Instrument", on_delete=models.PROTECT, related_name="+")
    position = models.PositiveIntegerField()

    class Meta:
        db_table = "api_watchlistitem"
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["watchlist", "instrument"], name="api_watchlistitem_unique_asset")
        ]

    def __str__(self) -> str:
        return f"{self.watchlist_id}:{self.instrument_id}"
