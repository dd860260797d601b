"""Celery tasks of the orders app (scheduled by CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from .services import orders_expire_due


@shared_task(name="orders.expire_day_orders")
def expire_day_orders() -> int:
    """Send every open day order past its session close to the venue to be expired."""
    return orders_expire_due()
