"""Per-key request rate limits, counted atomically in Redis.

A fixed one-minute window per credential (`ratelimit:<key>:<window>`), incremented by one Lua
script, so concurrent requests on any number of web processes see one consistent count; there is
no read-then-write race. The throttle stores the figures on the request so the
middleware `rate_limit_headers` can add `X-Ratelimit-Limit/Remaining/Reset` to every response (Alpaca's header set;
Reset is the Unix time in seconds when the window ends).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from apps.ops.clients import redis_client

from .authentication import Credential

WINDOW_SECONDS = 60
# Login attempts without a credential share a budget per client IP (settings.API_LOGIN_RATE_LIMIT_PER_MINUTE).
ANONYMOUS_LIMIT_PER_MINUTE = 60

_INCREMENT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    remaining: int
    reset: int
    allowed: bool


def rate_limit_hit(*, key: str, limit: int, now: float | None = None) -> RateLimitState:
    """Count one request against `key`; allowed while the window's count is within `limit`."""
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    reset = (window + 1) * WINDOW_SECONDS
    script = _script()
    count = int(script(keys=[f"ratelimit:{key}:{window}"], args=[WINDOW_SECONDS * 2]))
    return RateLimitState(limit=limit, remaining=max(limit - count, 0), reset=reset, allowed=count <= limit)


_cached_script: Any = None


def _script() -> Any:
    global _cached_script
    if _cached_script is None:
        _cached_script = redis_client().register_script(_INCREMENT)
    return _cached_script


def _client_ip(request: Request) -> str:
    return str(request.META.get("REMOTE_ADDR") or "unknown")


class RedisRateLimit(BaseThrottle):
    """DRF throttle backed by `rate_limit_hit` (not DRF's cache-based history throttle)."""

    def __init__(self) -> None:
        self.state: RateLimitState | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        credential = request.auth
        if not isinstance(credential, Credential):
            return True  # anonymous endpoints opt in to `AnonymousRateLimit` themselves
        return self._hit(request, key=credential.rate_key, limit=credential.rate_limit_per_minute)

    def _hit(self, request: Request, *, key: str, limit: int) -> bool:
        self.state = rate_limit_hit(key=key, limit=limit)
        request._request.ratelimit_state = self.state  # type: ignore[attr-defined]
        return self.state.allowed

    def wait(self) -> float | None:
        if self.state is None:
            return None
        return max(self.state.reset - time.time(), 0.0)


class AnonymousRateLimit(RedisRateLimit):
    """Per client IP, for endpoints reachable without a credential (login): slows password guessing."""

    def allow_request(self, request: Request, view: Any) -> bool:
        if isinstance(request.auth, Credential):
            return True
        limit = getattr(settings, "API_LOGIN_RATE_LIMIT_PER_MINUTE", ANONYMOUS_LIMIT_PER_MINUTE)
        return self._hit(request, key=f"ip:{_client_ip(request)}", limit=limit)


def _add_headers(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    state: RateLimitState | None = getattr(request, "ratelimit_state", None)
    if state is not None:
        response["X-Ratelimit-Limit"] = str(state.limit)
        response["X-Ratelimit-Remaining"] = str(state.remaining)
        response["X-Ratelimit-Reset"] = str(state.reset)
    return response


@sync_and_async_middleware
def rate_limit_headers(get_response: Callable[[HttpRequest], Any]) -> Callable[[HttpRequest], Any]:
    """Django middleware: copy the throttle's figures into X-Ratelimit-* response headers.

    Sync and async capable, so under the ASGI server it adds no thread hop of its own.
    """
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            return _add_headers(request, await get_response(request))

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        return _add_headers(request, get_response(request))

    return middleware
