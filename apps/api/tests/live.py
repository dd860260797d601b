"""Test support: the real ASGI app under uvicorn on an ephemeral port, and worker loops in threads."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

# The live server is the real-time suite's: one helper for every test that needs a running app.
from apps.realtime.tests.support import asgi_server, free_port  # noqa: F401


@contextlib.contextmanager
def worker_thread(run: Callable[..., None], *, wait_ready: bool = True, **kwargs: Any) -> Iterator[None]:
    """Run a worker loop (`run(stop=..., ready=..., group_id=...)`) in a thread with a fresh consumer
    group; wait until its partitions are assigned (the Tansu broker assigns slowly)."""
    stop, ready = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def target() -> None:
        try:
            run(stop=stop, ready=ready, group_id=f"api-test-{uuid.uuid4().hex[:8]}", **kwargs)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    if wait_ready and not ready.wait(timeout=60):
        stop.set()
        raise RuntimeError(f"worker {run.__name__} got no partitions within 60 s: {errors}")
    time.sleep(1.0)  # the first fetch positions itself at the end of the log after assignment
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=15)
        if errors:
            raise errors[0]


@contextlib.contextmanager
def outbox_relay_thread() -> Iterator[None]:
    from django.db import connections

    from workers.outbox_relay import OutboxRelay

    relay = OutboxRelay(name="api-test-outbox", idle_sleep=0.05)

    def target() -> None:
        try:
            relay.run()
        finally:
            connections.close_all()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        yield
    finally:
        relay.stop.set()
        thread.join(timeout=15)
