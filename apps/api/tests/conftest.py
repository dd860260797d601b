"""Fixtures: customers with an account and an API key, and clients authenticated as them."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from django.db import connections
from rest_framework.test import APIClient

from apps.accounts.models import Account, User
from apps.api.models import ApiKey
from apps.api.services import api_key_create
from apps.ops.clients import redis_client
from tests.factories import AccountFactory

T = TypeVar("T")


@dataclass
class Customer:
    user: User
    account: Account
    api_key: ApiKey
    secret: str
    client: APIClient


def make_customer(username: str, *, account_number: str | None = None) -> Customer:
    fields = {"account_number": account_number} if account_number else {}
    account: Account = AccountFactory(owner__username=username, **fields)  # type: ignore[assignment]
    api_key, secret = api_key_create(user=account.owner)
    client = APIClient()
    client.credentials(HTTP_APCA_API_KEY_ID=api_key.key_id, HTTP_APCA_API_SECRET_KEY=secret)
    return Customer(account.owner, account, api_key, secret, client)


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    # Rate-limit windows live in this suite's own Redis database (TEST_ISOLATION); start each test clean.
    client = redis_client()
    keys = list(client.scan_iter("ratelimit:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def alice(db: None) -> Customer:
    return make_customer("alice")


@pytest.fixture
def bob(db: None) -> Customer:
    return make_customer("bob")


def run_committed(fn: Callable[[], T]) -> T:
    """Run `fn` on a fresh thread, so on its own autocommit connection: what it writes is committed
    and visible to other connections (a live server, WebSocket consumers) even while the calling
    test runs inside pytest-django's transaction, and services using atomic(durable=True) work.

    Tests using this are marked plain `django_db`: `transaction=True` cannot be used in this project
    because its flush TRUNCATEs the append-only audit and journal tables, which their triggers refuse.
    Rows written here carry unique names instead of being flushed.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:
            box["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"]


def committed_customer(prefix: str) -> Customer:
    def make() -> Customer:
        unique = uuid.uuid4().int
        return make_customer(f"{prefix}-{unique % 16**8:08x}", account_number=f"BKL{unique % 10**9:09d}")

    return run_committed(make)
