"""Property-based API testing with schemathesis against the schema the app serves.

Positive and negative examples for every operation, bounded so the module stays near a minute:
- not_a_server_error: no 5xx for any input;
- ignored_auth: an operation that declares authentication answers 401 without it and with
  invalid credentials (no auth bypass);
- negative_data_rejection: data that violates the schema is refused with a 4xx.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import schemathesis
from django.test import override_settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import ignored_auth, negative_data_rejection

from apps.api.models import ApiKey
from apps.ledger.services import deposit
from tests.factories import InstrumentFactory

from .conftest import Customer, committed_customer, run_committed
from .live import asgi_server
from .test_trading import publish_quote

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

MAX_EXAMPLES = 3


@pytest.fixture(scope="module")
def fuzz_target(django_db_setup: None, django_db_blocker: Any) -> Iterator[tuple[str, Customer]]:
    with django_db_blocker.unblock():
        run_committed(lambda: InstrumentFactory(symbol="FUZZ", tick_size=Decimal("0.01")))
        publish_quote("FUZZ", "9.99", "10.01", "10.00")
        customer = committed_customer("fuzz")
        run_committed(lambda: deposit(account=customer.account, amount=Decimal("50000"), reference="funding"))
        # The fuzzer is one client sending thousands of requests a minute: lift its key's limit
        # (rate limiting is tested on its own) so it reaches the handlers.
        run_committed(lambda: ApiKey.objects.filter(pk=customer.api_key.pk).update(rate_limit_per_minute=10**6))
        # Likewise the per-IP login limit, which every fuzzed login shares.
        with override_settings(API_LOGIN_RATE_LIMIT_PER_MINUTE=10**6), asgi_server() as address:
            yield address, customer


@pytest.fixture(scope="module")
def api_schema(fuzz_target: tuple[str, Customer]) -> Any:
    address, _ = fuzz_target
    loaded = schemathesis.openapi.from_url(f"http://{address}/api/schema?format=json")
    loaded.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                                    max_examples=MAX_EXAMPLES, allow_x00=True,
                                    with_security_parameters=False)
    return loaded


# The search and market-data endpoints in the same schema belong to other issues' apps.
schema = schemathesis.pytest.from_fixture("api_schema").exclude(path_regex=r"^/v2/(stocks/|assets/search)")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_fuzz(case: Any, fuzz_target: tuple[str, Customer]) -> None:
    address, customer = fuzz_target
    headers = {"APCA-API-KEY-ID": customer.api_key.key_id, "APCA-API-SECRET-KEY": customer.secret}
    if case.operation.path == "/v2/auth/login":
        headers = {}
    case.call_and_validate(base_url=f"http://{address}", headers=headers,
                           checks=[not_a_server_error, ignored_auth, negative_data_rejection])
