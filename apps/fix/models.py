"""The FIX app stores nothing of its own in PostgreSQL: sessions persist in QuickFIX FileStores
and FileLogs under FIX_STORE_DIR. The proxy below gives the admin a per-order FIX trail page."""

from __future__ import annotations

from apps.orders.models import Order


class OrderFixTrail(Order):
    class Meta:
        proxy = True
        verbose_name = "order FIX trail"
        verbose_name_plural = "order FIX trails"
