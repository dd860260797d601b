"""The Elasticsearch index of instruments (django-elasticsearch-dsl). Imported only when
ELASTICSEARCH_URL is set (apps/search/engines/__init__.py) and by its unit tests.

Edge n-grams index every prefix of each name word and of the punctuation-free symbol and name
keys, so as-you-type lookups are term matches; the plain analysed name serves fuzzy matching.
Django signals do not write here (ignore_signals): the search app's Celery task keeps it in sync
after commit, and `manage.py search_rebuild` rebuilds it.
"""

from __future__ import annotations

import re

from django.conf import settings
from django_elasticsearch_dsl import Document, fields
from django_elasticsearch_dsl.registries import registry
from elasticsearch.dsl import analyzer, token_filter, tokenizer

from apps.instruments.models import Instrument

edge_ngram = token_filter("instrument_edge_ngram", type="edge_ngram", min_gram=1, max_gram=20)
name_analyzer = analyzer("instrument_name", tokenizer="standard", filter=["lowercase", "asciifolding"])
name_prefix_analyzer = analyzer(
    "instrument_name_prefix", tokenizer="standard", filter=["lowercase", "asciifolding", edge_ngram]
)
key_prefix_analyzer = analyzer(
    "instrument_key_prefix", tokenizer=tokenizer("instrument_key", type="keyword"), filter=[edge_ngram]
)


def index_name() -> str:
    isolation = getattr(settings, "TEST_ISOLATION", "")
    return f"brokerage-instruments-{isolation}" if isolation else "brokerage-instruments"


def symbol_key(symbol: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", symbol.upper())


def name_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", re.sub(r"^the\s+", "", name.lower()))


@registry.register_document
class InstrumentDocument(Document):
    symbol = fields.KeywordField()
    # Keys are stored as-is for exact and prefix terms; queries pass already-normalised keys.
    symbol_key = fields.TextField(analyzer=key_prefix_analyzer, search_analyzer="keyword")
    name_key = fields.TextField(analyzer=key_prefix_analyzer, search_analyzer="keyword")
    name = fields.TextField(
        analyzer=name_analyzer,
        fields={"prefix": fields.TextField(analyzer=name_prefix_analyzer, search_analyzer=name_analyzer)},
    )
    exchange = fields.KeywordField()
    asset_class = fields.KeywordField()
    status = fields.KeywordField()
    tradable = fields.BooleanField()
    popularity = fields.LongField()

    class Index:
        name = index_name()
        settings = {"number_of_shards": 1, "number_of_replicas": 0}

    class Django:
        model = Instrument
        fields: list[str] = []
        ignore_signals = True

    def prepare_symbol_key(self, instance: Instrument) -> str:
        return symbol_key(instance.symbol)

    def prepare_name_key(self, instance: Instrument) -> str:
        return name_key(instance.name)
