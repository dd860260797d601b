"""Instrument changes reach the external search index after commit, through Celery."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from apps.instruments.models import Instrument


def _enqueue_sync(instrument_id: str) -> None:
    if not settings.ELASTICSEARCH_URL:
        return  # PostgreSQL search reads the table itself
    from .tasks import search_index_sync_task

    transaction.on_commit(lambda: search_index_sync_task.delay([instrument_id]))


@receiver(post_save, sender=Instrument, dispatch_uid="search_instrument_saved")
def instrument_saved(sender: type[Instrument], instance: Instrument, **kwargs: Any) -> None:
    _enqueue_sync(str(instance.pk))


@receiver(post_delete, sender=Instrument, dispatch_uid="search_instrument_deleted")
def instrument_deleted(sender: type[Instrument], instance: Instrument, **kwargs: Any) -> None:
    _enqueue_sync(str(instance.pk))
