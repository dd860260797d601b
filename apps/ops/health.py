"""Component checks behind /healthz. Each returns a dict with at least {"ok": bool}."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils.module_loading import import_string

Check = Callable[[], dict[str, Any]]


def _timed(check: Check) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        result = check()
    except Exception as exc:
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


def check_database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    settings_dict = connection.settings_dict
    return {"ok": True, "address": f"{settings_dict['HOST']}:{settings_dict['PORT']}"}


def check_redis() -> dict[str, Any]:
    from apps.ops.clients import redis_client

    return {"ok": bool(redis_client().ping())}


def check_kafka() -> dict[str, Any]:
    from confluent_kafka.admin import AdminClient

    metadata = AdminClient({"bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS}).list_topics(timeout=3)
    missing = sorted(set(settings.KAFKA_TOPICS) - set(metadata.topics))
    return {"ok": not missing, "brokers": len(metadata.brokers), "missing_topics": missing}


def check_workers() -> dict[str, Any]:
    from workers.heartbeat import HEARTBEAT_TTL_SECONDS, heartbeat_read

    workers: dict[str, Any] = {}
    for name in settings.HEALTH_REQUIRED_WORKERS:
        beat = heartbeat_read(name=name)
        alive = beat is not None and time.time() - float(beat["at"]) < HEARTBEAT_TTL_SECONDS
        workers[name] = {"ok": alive, **(beat or {})}
    return {"ok": all(w["ok"] for w in workers.values()), "workers": workers}


def check_celery() -> dict[str, Any]:
    """Celery workers answer a broadcast ping (only required where HEALTH_REQUIRE_CELERY is set)."""
    if not settings.HEALTH_REQUIRE_CELERY:
        return {"ok": True, "required": False}
    from brokerage.celery import app

    replies = app.control.ping(timeout=1.0) or []
    return {"ok": bool(replies), "workers": sorted(name for reply in replies for name in reply)}


CORE_CHECKS: dict[str, Check] = {
    "database": check_database,
    "redis": check_redis,
    "kafka": check_kafka,
    "workers": check_workers,
    "celery": check_celery,
}


def health_report() -> tuple[bool, dict[str, Any]]:
    """Run every check (core plus HEALTH_EXTRA_CHECKS dotted paths); healthy only if all are ok."""
    checks = dict(CORE_CHECKS)
    for name, path in getattr(settings, "HEALTH_EXTRA_CHECKS", {}).items():
        checks[name] = import_string(path)
    components = {name: _timed(check) for name, check in checks.items()}
    return all(c["ok"] for c in components.values()), components
