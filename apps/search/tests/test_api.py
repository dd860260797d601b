"""GET /v2/assets/search over HTTP (DRF test client): auth, shape, order, filters, hostile input."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.instruments.models import Instrument
from tests.factories import UserFactory

ALPACA_ASSET_KEYS = {
    "id", "class", "exchange", "symbol", "name", "status", "tradable", "marginable", "shortable",
    "easy_to_borrow", "fractionable", "maintenance_margin_requirement", "attributes",
}
URL = "/v2/assets/search"


@pytest.fixture
def client(db):
    client = APIClient()
    client.force_authenticate(user=UserFactory())
    return client


@pytest.mark.django_db
def test_requires_authentication(listings_db):
    response = APIClient().get(URL, {"q": "aapl"})
    assert response.status_code in {401, 403}
    assert set(response.json()) == {"code", "message"}


@pytest.mark.django_db
def test_web_session_works_for_the_autocomplete(listings_db):
    client = APIClient()
    client.force_login(UserFactory())
    response = client.get(URL, {"q": "apple"})
    assert response.status_code == 200
    assert response.json()[0]["symbol"] == "AAPL"


@pytest.mark.django_db
def test_alpaca_shaped_results_in_rank_order(client, listings_db):
    response = client.get(URL, {"q": "goo", "limit": "3"})
    assert response.status_code == 200
    body = response.json()
    assert [asset["symbol"] for asset in body][:2] == ["GOOG", "GOOGL"]
    assert len(body) <= 3
    for asset in body:
        assert set(asset) == ALPACA_ASSET_KEYS
        assert asset["class"] == "us_equity" and asset["status"] == "active"
        assert str(Instrument.objects.get(symbol=asset["symbol"]).id) == asset["id"]


@pytest.mark.django_db
def test_filters(client, listings_db):
    Instrument.objects.filter(symbol="GOOGL").update(tradable=False)
    try:
        symbols = [a["symbol"] for a in client.get(URL, {"q": "goog", "tradable": "true"}).json()]
        assert "GOOG" in symbols and "GOOGL" not in symbols
        nyse = client.get(URL, {"q": "b", "exchange": "NYSE", "asset_class": "us_equity", "limit": 50}).json()
        assert nyse and {a["exchange"] for a in nyse} == {"NYSE"}
    finally:
        Instrument.objects.filter(symbol="GOOGL").update(tradable=True)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "a", "limit": "0"}, "limit"),
        ({"q": "a", "limit": "51"}, "limit"),
        ({"q": "a", "limit": "abc"}, "limit"),
        ({"q": "x" * 65}, "q"),
        ({"q": "a", "exchange": "LSE"}, "exchange"),
        ({"q": "a", "tradable": "perhaps"}, "tradable"),
    ],
)
def test_bad_parameters_are_422_with_alpaca_error(client, params, field):
    response = client.get(URL, params)
    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"code", "message"} and body["code"] == 42210000
    assert field in body["message"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "text",
    ["", "   ", "%", "_", "\\", "%%%%", "'; DROP TABLE instruments_instrument; --", "a\x00b", "\u202e\u200b",
     "a:* | !b", "😀" * 16, "((((", "\x1b[31m"],
)
def test_hostile_queries_never_fail(client, listings_db, text):
    response = client.get(URL, {"q": text})
    assert response.status_code == 200, response.content
    assert isinstance(response.json(), list)
    assert Instrument.objects.count() >= len(listings_db)


@pytest.mark.django_db
def test_wildcards_do_not_match_everything(client, listings_db):
    assert client.get(URL, {"q": "%"}).json() == []
    assert client.get(URL, {"q": "_"}).json() == []
    # "%" is dropped, not a wildcard: "a%" is the prefix "a", not "anything containing a"
    symbols = [a["symbol"] for a in client.get(URL, {"q": "a%", "limit": 50}).json()]
    assert symbols[0] == "A"
