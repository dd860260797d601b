from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin

from .models import Account, AccountStatus, User
from .services import account_set_status


@admin.register(User)
class BrokerageUserAdmin(UserAdmin):
    list_display = ("username", "email", "is_staff", "is_active", "date_joined")


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("account_number", "owner", "status", "currency", "created_at")
    list_filter = ("status",)
    search_fields = ("account_number", "owner__username", "owner__email")
    # Status changes go through the service (actions below), never through a free-form edit.
    readonly_fields = ("id", "account_number", "owner", "status", "currency", "created_at")
    actions = ("freeze", "unfreeze")

    def has_add_permission(self, request):
        return False  # accounts are opened by account_open, with a generated number

    def has_delete_permission(self, request, obj=None):
        return False  # an account with history is closed, never deleted

    def _set_status(self, request, queryset, status: str) -> None:
        for account in queryset:
            account_set_status(account=account, status=status, actor=request.user)
        self.message_user(request, f"{queryset.count()} account(s) set to {status}", messages.SUCCESS)

    @admin.action(description="Freeze selected accounts (no new orders or withdrawals)", permissions=["change"])
    def freeze(self, request, queryset):
        self._set_status(request, queryset, AccountStatus.FROZEN)

    @admin.action(description="Unfreeze selected accounts", permissions=["change"])
    def unfreeze(self, request, queryset):
        self._set_status(request, queryset, AccountStatus.ACTIVE)
