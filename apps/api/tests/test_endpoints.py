"""The non-trading /v2 endpoints over HTTP (Django test client, real PostgreSQL and Redis)."""

from __future__ import annotations

import datetime as dt
import time

import pyotp
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.api.models import ApiKey, Watchlist
from apps.instruments.models import Instrument
from tests.factories import InstrumentFactory

from .conftest import Customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def listed() -> list[Instrument]:
    return [InstrumentFactory(symbol=s) for s in ("AAPL", "MSFT", "SPY")]  # type: ignore[misc]


def test_unauthenticated_and_bad_key_get_alpaca_401() -> None:
    response = APIClient().get("/v2/clock")
    assert response.status_code == 401
    assert response.json()["code"] == 40110000
    bad = APIClient()
    bad.credentials(HTTP_APCA_API_KEY_ID="PKNOPE", HTTP_APCA_API_SECRET_KEY="x" * 40)
    assert bad.get("/v2/clock").status_code == 401


def test_clock_and_calendar(alice: Customer) -> None:
    clock = alice.client.get("/v2/clock").json()
    assert set(clock) == {"timestamp", "is_open", "next_open", "next_close"}
    assert dt.datetime.fromisoformat(clock["next_close"]) > dt.datetime.fromisoformat(clock["timestamp"])
    days = alice.client.get("/v2/calendar", {"start": "2024-12-23", "end": "2024-12-27"}).json()
    # Christmas is closed; the 24th closes early.
    assert [d["date"] for d in days] == ["2024-12-23", "2024-12-24", "2024-12-26", "2024-12-27"]
    assert days[1]["close"] == "13:00" and days[0]["open"] == "09:30"
    bad = alice.client.get("/v2/calendar", {"start": "not-a-date"})
    assert bad.status_code == 422 and bad.json()["code"] == 42210000


def test_assets(alice: Customer, listed: list[Instrument]) -> None:
    assets = alice.client.get("/v2/assets").json()
    # Other modules' committed instruments may be listed too; ours come back sorted and complete.
    assert [a["symbol"] for a in assets if a["symbol"] in {"AAPL", "MSFT", "SPY"}] == ["AAPL", "MSFT", "SPY"]
    assert alice.client.get("/v2/assets", {"status": "inactive"}).json() == []
    by_symbol = alice.client.get("/v2/assets/aapl").json()
    assert alice.client.get(f"/v2/assets/{by_symbol['id']}").json()["symbol"] == "AAPL"
    missing = alice.client.get("/v2/assets/NOPE")
    assert missing.status_code == 404 and missing.json()["code"] == 40410000


def test_no_trailing_slash_redirects(alice: Customer) -> None:
    assert alice.client.get("/v2/clock/").status_code == 404


def test_watchlist_crud_and_isolation(alice: Customer, bob: Customer, listed: list[Instrument]) -> None:
    created = alice.client.post("/v2/watchlists", {"name": "tech", "symbols": ["AAPL", "msft"]}, format="json")
    assert created.status_code == 200, created.content
    body = created.json()
    assert [a["symbol"] for a in body["assets"]] == ["AAPL", "MSFT"]
    assert body["account_id"] == str(alice.account.id)
    url = f"/v2/watchlists/{body['id']}"
    duplicate = alice.client.post("/v2/watchlists", {"name": "tech"}, format="json")
    assert duplicate.status_code == 422
    unknown = alice.client.post("/v2/watchlists", {"name": "x", "symbols": ["ZZZZ"]}, format="json")
    assert unknown.status_code == 404 and Watchlist.objects.filter(name="x").count() == 0

    assert alice.client.post(url, {"symbol": "SPY"}, format="json").json()["assets"][-1]["symbol"] == "SPY"
    assert [a["symbol"] for a in alice.client.delete(f"{url}/AAPL").json()["assets"]] == ["MSFT", "SPY"]
    renamed = alice.client.put(url, {"name": "core", "symbols": ["SPY"]}, format="json").json()
    assert renamed["name"] == "core" and [a["symbol"] for a in renamed["assets"]] == ["SPY"]
    assert alice.client.get("/v2/watchlists:by_name", {"name": "core"}).json()["id"] == body["id"]

    # Bob sees nothing of Alice's and can change nothing.
    assert bob.client.get("/v2/watchlists").json() == []
    for method, args in (("get", ()), ("put", ({"name": "mine"},)), ("post", ({"symbol": "AAPL"},)), ("delete", ())):
        response = getattr(bob.client, method)(url, *args, format="json")
        assert response.status_code == 404, (method, response.content)
    assert bob.client.delete(f"{url}/SPY").status_code == 404
    assert bob.client.get("/v2/watchlists:by_name", {"name": "core"}).status_code == 404
    assert Watchlist.objects.get(id=body["id"]).name == "core"

    assert alice.client.delete(url).status_code == 204
    assert alice.client.get(url).status_code == 404


def test_malformed_json_is_400_and_wrong_types_422(alice: Customer) -> None:
    response = alice.client.generic("POST", "/v2/watchlists", "{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == 40010000
    wrong = alice.client.post("/v2/watchlists", {"name": ["a"], "symbols": "AAPL"}, format="json")
    assert wrong.status_code == 422 and "message" in wrong.json()
    assert not Watchlist.objects.exists()


def test_rate_limit_headers_and_429(alice: Customer) -> None:
    ApiKey.objects.filter(pk=alice.api_key.pk).update(rate_limit_per_minute=3)
    window_end = (int(time.time()) // 60 + 1) * 60
    if window_end - time.time() < 2:
        time.sleep(window_end - time.time() + 0.1)  # do not straddle a window boundary
    first = alice.client.get("/v2/clock")
    assert first["X-Ratelimit-Limit"] == "3" and first["X-Ratelimit-Remaining"] == "2"
    assert int(first["X-Ratelimit-Reset"]) % 60 == 0
    alice.client.get("/v2/clock")
    alice.client.get("/v2/clock")
    limited = alice.client.get("/v2/clock")
    assert limited.status_code == 429
    assert limited.json()["code"] == 42910000 and limited["X-Ratelimit-Remaining"] == "0"


def test_login_with_totp_then_bearer_token(alice: Customer) -> None:
    client = APIClient()
    token = client.post("/v2/auth/login", {"username": "alice", "password": "correct-horse-battery"},
                        format="json").json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    enrollment = client.post("/v2/auth/totp").json()
    totp = pyotp.TOTP(enrollment["secret"])
    earlier = totp.at(timezone.now() - dt.timedelta(seconds=30))
    assert client.post("/v2/auth/totp/confirm", {"code": earlier}, format="json").json() == {"enabled": True}

    anonymous = APIClient()
    need = anonymous.post("/v2/auth/login", {"username": "alice", "password": "correct-horse-battery"}, format="json")
    assert need.status_code == 401 and need.json()["code"] == 40110001
    wrong = anonymous.post("/v2/auth/login", {"username": "alice", "password": "bad", "totp_code": totp.now()},
                           format="json")
    assert wrong.status_code == 401 and wrong.json()["code"] == 40110000
    ok = anonymous.post("/v2/auth/login", {"username": "alice", "password": "correct-horse-battery",
                                           "totp_code": totp.now()}, format="json")
    assert ok.status_code == 200 and ok.json()["token_type"] == "Bearer"

    assert client.post("/v2/auth/logout").status_code == 204
    assert client.get("/v2/clock").status_code == 401


def test_api_keys_created_shown_once_and_revoked(alice: Customer, bob: Customer) -> None:
    created = alice.client.post("/v2/api_keys", {"label": "bot"}, format="json")
    assert created.status_code == 201
    body = created.json()
    listed = alice.client.get("/v2/api_keys").json()
    assert all("secret_key" not in k for k in listed) and body["key_id"] in {k["key_id"] for k in listed}
    new_client = APIClient()
    new_client.credentials(HTTP_APCA_API_KEY_ID=body["key_id"], HTTP_APCA_API_SECRET_KEY=body["secret_key"])
    assert new_client.get("/v2/clock").status_code == 200
    assert bob.client.delete(f"/v2/api_keys/{body['id']}").status_code == 404
    assert new_client.get("/v2/clock").status_code == 200
    assert alice.client.delete(f"/v2/api_keys/{body['id']}").json()["revoked_at"] is not None
    assert new_client.get("/v2/clock").status_code == 401


def test_openapi_schema_and_docs_served() -> None:
    schema = APIClient().get("/api/schema", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/v2/watchlists/{watchlist_id}" in paths and "/v2/auth/login" in paths
    assert APIClient().get("/api/docs").status_code == 200
