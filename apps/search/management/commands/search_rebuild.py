"""Rebuild the search index of the configured engine from the instruments table."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from apps.search.services import search_index_rebuild


class Command(BaseCommand):
    help = "Rebuild the instrument search index (Elasticsearch when configured, else PostgreSQL's dictionary)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(search_index_rebuild())
