"""Public REST API under /v2 (Alpaca-shaped) and its extensions.

Order matters: the fixed paths (/v2/assets/search, /v2/stocks/...) come before the Alpaca
trading routes whose patterns would otherwise capture them (/v2/assets/<symbol_or_id>).
"""

from django.urls import include, path

urlpatterns = [
    path("", include("apps.search.urls")),
    path("", include("apps.marketdata.urls")),
    path("", include("apps.api.routes")),
]
