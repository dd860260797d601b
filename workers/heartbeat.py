"""Worker liveness: each long-running worker writes a heartbeat to Redis that /healthz reads."""

from __future__ import annotations

import json
import time
from typing import Any

from apps.ops.clients import redis_client

HEARTBEAT_TTL_SECONDS = 15


def heartbeat_key(name: str) -> str:
    return f"health:worker:{name}"


def heartbeat_beat(*, name: str, details: dict[str, Any] | None = None) -> None:
    """Record that worker `name` is alive, with whatever it wants /healthz to show."""
    payload = {"at": time.time(), **(details or {})}
    redis_client().set(heartbeat_key(name), json.dumps(payload, default=str), ex=HEARTBEAT_TTL_SECONDS)


def heartbeat_read(*, name: str) -> dict[str, Any] | None:
    raw = redis_client().get(heartbeat_key(name))
    return json.loads(raw) if raw else None
