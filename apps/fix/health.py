"""/healthz checks of the FIX sessions (registered in settings.HEALTH_EXTRA_CHECKS).

The gateway and the ingestor publish their session state with their worker heartbeat; these
checks read it. A session is required only where its worker is in HEALTH_REQUIRED_WORKERS (the
Procfile environment); elsewhere the check reports what it knows and does not fail /healthz.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings

GATEWAY_WORKER = "fix_gateway"
MD_INGESTOR_WORKER = "md_ingestor"
EXCHANGE_WORKER = "exchange_simulator"
# A session whose last inbound message (heartbeat or data) is older than this is unhealthy.
STALE_AFTER_HEARTBEATS = 3


def _session_check(worker: str) -> dict[str, Any]:
    from workers.heartbeat import HEARTBEAT_TTL_SECONDS, heartbeat_read

    required = worker in settings.HEALTH_REQUIRED_WORKERS
    beat = heartbeat_read(name=worker)
    if beat is None:
        return {"ok": not required, "required": required, "running": False}
    worker_alive = time.time() - float(beat["at"]) < HEARTBEAT_TTL_SECONDS
    last_inbound = float(beat.get("last_inbound_at") or 0)
    inbound_age = time.time() - last_inbound if last_inbound else None
    fresh = inbound_age is not None and inbound_age < STALE_AFTER_HEARTBEATS * settings.FIX_HEARTBEAT_SECONDS
    healthy = worker_alive and bool(beat.get("logged_on")) and fresh
    return {
        "ok": healthy or not required, "required": required, "running": worker_alive,
        "session": beat.get("session"), "logged_on": bool(beat.get("logged_on")),
        "last_heartbeat_age_s": round(inbound_age, 2) if inbound_age is not None else None,
        **{k: beat[k] for k in ("lag_messages", "report_backlog", "in_flight", "next_sender_seq",
                                "next_target_seq", "backlog") if k in beat},
    }


def check_order_session() -> dict[str, Any]:
    """Order session (gateway): logged on, last heartbeat, and the gateway lag on orders.commands."""
    return _session_check(GATEWAY_WORKER)


def check_md_session() -> dict[str, Any]:
    """Market-data session (ingestor): logged on and last heartbeat."""
    return _session_check(MD_INGESTOR_WORKER)
