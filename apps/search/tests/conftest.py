"""Search tests read the real US listings, loaded once per module and removed afterwards so no
other app's tests see them."""

from __future__ import annotations

import pytest

from apps.instruments.models import Instrument
from apps.instruments.services import instruments_load, us_listings


@pytest.fixture(scope="module")
def listings_db(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        listings = us_listings()
        instruments_load(listings=listings)
    yield listings
    with django_db_blocker.unblock():
        Instrument.objects.filter(symbol__in=[listing.symbol for listing in listings]).delete()
