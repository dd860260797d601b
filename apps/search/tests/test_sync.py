"""Keeping search in step with instruments: the word dictionary trigger, the rebuild command,
and the Celery task enqueued on the real Redis broker after commit when Elasticsearch is on."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from apps.instruments.models import Instrument
from apps.ops.clients import redis_client
from apps.search.query import search_query_parse
from apps.search.selectors import instruments_search
from tests.factories import InstrumentFactory


def _words() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT word FROM search_instrument_word")
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.django_db
def test_new_and_renamed_instruments_are_typo_searchable():
    instrument = InstrumentFactory(symbol="ZQXW", name="Quixotelabs Holdings")
    assert "quixotelabs" in _words()
    assert instruments_search(query=search_query_parse(text="quixotelbs"))[0] == instrument
    Instrument.objects.filter(pk=instrument.pk).update(name="Zephyrwave Holdings")
    assert "zephyrwave" in _words()
    assert instruments_search(query=search_query_parse(text="zephirwave"))[0] == instrument


@pytest.mark.django_db
def test_rebuild_command_refills_the_dictionary():
    InstrumentFactory(symbol="ZQXV", name="Brightmoor Minerals")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM search_instrument_word")
    assert _words() == set()
    out = StringIO()
    call_command("search_rebuild", stdout=out)
    assert {"brightmoor", "minerals"} <= _words()
    assert "word dictionary rebuilt" in out.getvalue()


@pytest.mark.django_db
def test_no_task_without_elasticsearch(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        InstrumentFactory(symbol="ZQXU", name="Plainfield Foods")
    assert callbacks == []


@pytest.mark.django_db
def test_change_enqueues_index_sync_after_commit(django_capture_on_commit_callbacks):
    redis = redis_client()
    redis.delete("celery")
    with override_settings(ELASTICSEARCH_URL="http://127.0.0.1:9"):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            instrument = InstrumentFactory(symbol="ZQXT", name="Harborline Shipping")
        assert redis.llen("celery") == 0, "nothing may be enqueued before commit"
        assert len(callbacks) == 1
        callbacks[0]()
    messages = [json.loads(raw) for raw in redis.lrange("celery", 0, -1)]
    redis.delete("celery")
    assert [m["headers"]["task"] for m in messages] == ["search.index_sync"]
    assert str(instrument.pk) in messages[0]["headers"]["argsrepr"]
    assert Instrument.objects.filter(pk=instrument.pk).exists()
