"""Admin: the FIX trail of an order (every 35=D/F/G/H sent and 35=8/9 received for it), read
from the gateway's QuickFIX message log. Read-only: the trail is evidence, never edited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from apps.fix.models import OrderFixTrail
from apps.fix.selectors import fix_trail_for_order


@admin.register(OrderFixTrail)
class OrderFixTrailAdmin(admin.ModelAdmin):
    list_display = ("id", "symbol", "side", "type", "status", "created_at")
    search_fields = ("id", "client_order_id", "exchange_order_id", "symbol")
    list_filter = ("status",)
    fields = ("id", "account", "symbol", "side", "type", "status", "exchange_order_id", "fix_trail")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="FIX messages")
    def fix_trail(self, obj: OrderFixTrail) -> str:
        entries = fix_trail_for_order(order_id=obj.id)
        if not entries:
            return "no FIX message logged for this order on this gateway"
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            ((e.logged_at, e.sender, e.target, e.msg_type, e.msg_seq_num + (" (PossDup)" if e.poss_dup else ""),
              ", ".join(f"{k}={v}" for k, v in e.fields.items()), e.raw) for e in entries),
        )
        return format_html(
            "<table><tr><th>logged (UTC)</th><th>from → to</th><th>type</th><th>seq</th><th>fields</th>"
            "<th>raw</th></tr>{}</table>", rows)
