from io import StringIO

import pytest
from django.core.management import call_command

from apps.instruments.models import Exchange, Instrument
from apps.instruments.services import us_listings


@pytest.mark.django_db
def test_loads_real_us_listings_once():
    out = StringIO()
    call_command("load_instruments", stdout=out)
    # Count only the listings themselves: other suites may have committed instruments of their own.
    loaded = Instrument.objects.filter(symbol__in=[listing.symbol for listing in us_listings()])
    count = loaded.count()
    assert count > 900, out.getvalue()  # S&P 500 + NASDAQ 100 + S&P 600 + Dow, deduplicated
    apple = Instrument.objects.get(symbol="AAPL")
    assert apple.exchange == Exchange.NASDAQ
    assert apple.isin == "US0378331005"
    assert "NASDAQ 100" in apple.indices and "S&P 500" in apple.indices
    assert Instrument.objects.get(symbol="BRK.B").exchange == Exchange.NYSE
    assert set(loaded.values_list("exchange", flat=True)) <= set(Exchange.values)

    snapshot = list(loaded.order_by("symbol").values())
    second = StringIO()
    call_command("load_instruments", stdout=second)
    assert "0 created, 0 updated" in second.getvalue()
    assert list(loaded.order_by("symbol").values()) == snapshot
