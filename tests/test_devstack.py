"""The embedded stack starts from nothing in an empty directory and each service answers."""

from __future__ import annotations

import os
import socket

import psycopg
import pytest
import redis
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from brokerage import devstack


@pytest.fixture
def bare_environment(monkeypatch):
    for name in ("DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(name, raising=False)


def test_embedded_stack_starts_from_nothing_and_is_reused(tmp_path, bare_environment):
    var = tmp_path / "var"
    environment, started = devstack.up(var)
    try:
        assert {s.name for s in started} == {"postgres", "redis", "kafka"}

        with psycopg.connect(environment["DATABASE_URL"].replace("postgres://", "postgresql://"),
                             connect_timeout=5) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("brokerage",)
            version = conn.execute("SHOW server_version_num").fetchone()
            assert version is not None and int(version[0]) >= 180000

        client = redis.Redis.from_url(environment["REDIS_URL"])
        client.set("devstack-probe", "1")
        assert client.get("devstack-probe") == b"1"

        bootstrap = environment["KAFKA_BOOTSTRAP_SERVERS"]
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for future in admin.create_topics([NewTopic("devstack-probe", 1, 1)]).values():
            future.result()
        delivered: list = []
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
        producer.produce("devstack-probe", key=b"k", value=b"hello",
                         on_delivery=lambda error, message: delivered.append(error))
        assert producer.flush(15) == 0
        assert delivered == [None]
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "probe",
                             "auto.offset.reset": "earliest", "session.timeout.ms": 6000})
        from confluent_kafka import TopicPartition

        consumer.assign([TopicPartition("devstack-probe", 0, 0)])
        message = None
        for _ in range(30):
            message = consumer.poll(1)
            if message is not None and not message.error():
                break
        consumer.close()
        assert message is not None and message.value() == b"hello"

        # A second `up` reuses every running instance and starts nothing.
        again, started_again = devstack.up(var)
        assert started_again == []
        assert again == environment
    finally:
        devstack.down(var)
    for url in (environment["REDIS_URL"],):
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, "redis still listening after down"


def test_configured_url_is_used_and_nothing_started(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", os.environ["DATABASE_URL"])
    monkeypatch.setenv("REDIS_URL", os.environ["REDIS_URL"])
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", os.environ["KAFKA_BOOTSTRAP_SERVERS"])
    environment, started = devstack.up(tmp_path / "var")
    assert started == [] and environment == {}
    assert not (tmp_path / "var").exists()
