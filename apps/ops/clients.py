"""Shared Redis clients (one connection pool per process)."""

from __future__ import annotations

import functools

import redis
import redis.asyncio as aioredis
from django.conf import settings


@functools.cache
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, decode_responses=True)


def redis_async_client() -> aioredis.Redis:
    # One per event loop: asyncio connections cannot cross loops.
    return aioredis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, decode_responses=True)
