"""Celery tasks of the search app."""

from __future__ import annotations

from celery import shared_task

from .services import search_index_sync


@shared_task(name="search.index_sync", autoretry_for=(ConnectionError, OSError), retry_backoff=True, max_retries=8)
def search_index_sync_task(instrument_ids: list[str]) -> int:
    return search_index_sync(instrument_ids=instrument_ids)
