"""Writes for search: keeping the configured engine's index in step with the instruments."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import connection, transaction

from apps.instruments.models import Instrument

logger = logging.getLogger(__name__)

# The word dictionary is rebuilt from the same expression the insert/update triggers use
# (apps/search/migrations/0002_instrument_words.py).
_REFILL_WORDS = (
    "INSERT INTO search_instrument_word (word) "
    "SELECT DISTINCT lexeme FROM instruments_instrument, "
    "unnest(to_tsvector('simple'::regconfig, name)) AS t(lexeme) "
    "WHERE lexeme ~ '^[a-z0-9]+$' ON CONFLICT (word) DO NOTHING"
)


def search_index_sync(*, instrument_ids: Iterable[str]) -> int:
    """Bring the external index up to date for these instruments (upsert, or delete when gone).

    The PostgreSQL engine reads the instruments table through its own indexes and triggers, so
    there is nothing to do for it; returns the number of documents written or removed.
    """
    ids = sorted({str(pk) for pk in instrument_ids})
    if not settings.ELASTICSEARCH_URL or not ids:
        return 0
    from .documents import InstrumentDocument

    document = InstrumentDocument()
    present = list(Instrument.objects.filter(pk__in=ids))
    if present:
        document.update(present)
    gone = set(ids) - {str(instrument.pk) for instrument in present}
    for pk in gone:
        # A missing document is already the state we want.
        document._get_connection().options(ignore_status=404).delete(index=document._index._name, id=pk)
    return len(present) + len(gone)


def search_index_rebuild() -> str:
    """Rebuild the configured engine's index from the instruments table; returns a summary line."""
    if settings.ELASTICSEARCH_URL:
        from .documents import InstrumentDocument

        index = InstrumentDocument._index
        index.delete(ignore_unavailable=True)
        index.create()
        document = InstrumentDocument()
        document.update(document.get_indexing_queryset(), refresh=True)
        return f"elasticsearch index {index._name}: {Instrument.objects.count()} instruments indexed"
    with transaction.atomic(), connection.cursor() as cursor:
        # Dropping and refilling in one transaction: readers see the old dictionary until commit.
        cursor.execute("DELETE FROM search_instrument_word")
        cursor.execute(_REFILL_WORDS)
        words = cursor.rowcount
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE instruments_instrument")
        cursor.execute("ANALYZE search_instrument_word")
    return f"postgresql: word dictionary rebuilt ({words} words), statistics refreshed"
