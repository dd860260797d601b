"""Suite-wide pytest plugin (loaded with `-p tests.plugins` from pyproject.toml)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections


@pytest.fixture(scope="session", autouse=True)
def database_pool_on_test_database(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """Create the test database first, then drop any connection pool opened before the switch.

    Django's psycopg pool keeps the connection parameters it was created with: a pool opened
    against the development database before pytest-django renamed the database would keep handing
    out connections to it, so committed tests (live servers, threads, workers) would write there.
    """
    with django_db_blocker.unblock():
        for connection in connections.all():
            connection.close()
            connection.close_pool()
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_database()")
                actual = cursor.fetchone()[0]
            expected = connection.settings_dict["NAME"]
            if actual != expected:
                pytest.exit(f"connected to database {actual!r}, expected the test database {expected!r}", 2)
            connection.close()
    yield
