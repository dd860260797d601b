"""Search engines behind one interface (see base.SearchEngine); `engine()` picks the configured one."""

from __future__ import annotations

from django.conf import settings

from .base import SearchEngine, SearchHit


def engine() -> SearchEngine:
    """PostgreSQL unless ELASTICSEARCH_URL is set; the Elasticsearch module is imported only then."""
    if settings.ELASTICSEARCH_URL:
        from .elasticsearch import ElasticsearchEngine

        return ElasticsearchEngine()
    from .postgres import PostgresEngine

    return PostgresEngine()


__all__ = ["SearchEngine", "SearchHit", "engine"]
