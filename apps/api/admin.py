"""Staff create and revoke customers' API keys. The secret is shown once, in the success message."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import ApiKey, AuthToken, TotpDevice, Watchlist
from .services import api_key_create, api_key_revoke


class ApiKeyCreateForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ("user", "label", "rate_limit_per_minute")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("key_id", "user", "label", "rate_limit_per_minute", "created_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("key_id", "user__username", "label")
    actions = ("revoke",)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = ApiKeyCreateForm
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        # The hash and key id never change; revocation goes through the action.
        return ("id", "user", "key_id", "secret_salt", "secret_hash", "created_at", "revoked_at")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("user", "label", "rate_limit_per_minute")
        return ("id", "user", "key_id", "label", "rate_limit_per_minute", "created_at", "revoked_at")

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            obj.save(update_fields=["label", "rate_limit_per_minute"])
            return
        created, secret = api_key_create(user=obj.user, label=obj.label)
        if obj.rate_limit_per_minute != created.rate_limit_per_minute:
            created.rate_limit_per_minute = obj.rate_limit_per_minute
            created.save(update_fields=["rate_limit_per_minute"])
        obj.pk = created.pk
        obj.key_id = created.key_id
        obj._state.adding = False
        self.message_user(
            request,
            f"API key {created.key_id} created. Secret (shown once, not stored): {secret}",
            messages.WARNING,
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead, so the key id stays traceable

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset:
            api_key_revoke(api_key=api_key, actor=request.user)  # type: ignore[arg-type]
        self.message_user(request, f"{queryset.count()} key(s) revoked", messages.SUCCESS)


@admin.register(AuthToken)
class AuthTokenAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "created_at", "expires_at", "revoked_at")
    readonly_fields = ("id", "user", "token_hash", "created_at", "expires_at", "revoked_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(TotpDevice)
class TotpDeviceAdmin(admin.ModelAdmin):
    list_display = ("user", "confirmed_at", "created_at")
    fields = ("user", "confirmed_at", "created_at")
    readonly_fields = ("user", "confirmed_at", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Watchlist)
class WatchlistAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "created_at", "updated_at")
    search_fields = ("name", "account__account_number")
