"""Market data kept in PostgreSQL: daily bars for charts (minute bars live only in Redis, 7 days)."""

from __future__ import annotations

from django.db import models


class DailyBar(models.Model):
    """One trading day (America/New_York calendar date) of one symbol, rolled from trades.

    The quote store keeps the bar current in Redis and upserts it here; the row is the durable copy
    that survives the 7-day Redis window.
    """

    symbol = models.CharField(max_length=16)
    date = models.DateField()
    open = models.DecimalField(max_digits=18, decimal_places=4)
    high = models.DecimalField(max_digits=18, decimal_places=4)
    low = models.DecimalField(max_digits=18, decimal_places=4)
    close = models.DecimalField(max_digits=18, decimal_places=4)
    volume = models.DecimalField(max_digits=24, decimal_places=4)
    trade_count = models.PositiveIntegerField(default=0)
    vwap = models.DecimalField(max_digits=18, decimal_places=4)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "marketdata_daily_bar"
        ordering = ["symbol", "date"]
        constraints = [models.UniqueConstraint(fields=["symbol", "date"], name="marketdata_daily_bar_symbol_date")]

    def __str__(self) -> str:
        return f"{self.symbol} {self.date}"
