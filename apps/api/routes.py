"""The Alpaca-shaped /v2 trading routes and the API's own extensions. No trailing slashes."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .views import auth, market, trading, watchlists

urlpatterns = [
    # Account, orders, positions, activities, portfolio history
    path("v2/account", trading.AccountView.as_view(), name="api-account"),
    path("v2/account/activities", trading.ActivitiesView.as_view(), name="api-activities"),
    path("v2/account/activities/<str:activity_type>", trading.ActivitiesByTypeView.as_view(),
         name="api-activities-type"),
    path("v2/account/portfolio/history", trading.PortfolioHistoryView.as_view(), name="api-portfolio-history"),
    path("v2/orders", trading.OrdersView.as_view(), name="api-orders"),
    path("v2/orders:by_client_order_id", trading.OrderByClientOrderIdView.as_view(), name="api-order-by-client-id"),
    path("v2/orders/<str:order_id>", trading.OrderView.as_view(), name="api-order"),
    path("v2/positions", trading.PositionsView.as_view(), name="api-positions"),
    path("v2/positions/<str:symbol_or_asset_id>", trading.PositionView.as_view(), name="api-position"),
    # Assets, clock, calendar
    path("v2/assets", market.AssetsView.as_view(), name="api-assets"),
    path("v2/assets/<str:symbol_or_id>", market.AssetView.as_view(), name="api-asset"),
    path("v2/clock", market.ClockView.as_view(), name="api-clock"),
    path("v2/calendar", market.CalendarView.as_view(), name="api-calendar"),
    # Watchlists
    path("v2/watchlists", watchlists.WatchlistsView.as_view(), name="api-watchlists"),
    path("v2/watchlists:by_name", watchlists.WatchlistByNameView.as_view(), name="api-watchlist-by-name"),
    path("v2/watchlists/<uuid:watchlist_id>", watchlists.WatchlistView.as_view(), name="api-watchlist"),
    path("v2/watchlists/<uuid:watchlist_id>/<str:symbol>", watchlists.WatchlistAssetView.as_view(),
         name="api-watchlist-asset"),
    # Extensions: login with TOTP, API keys
    path("v2/auth/login", auth.LoginView.as_view(), name="api-login"),
    path("v2/auth/logout", auth.LogoutView.as_view(), name="api-logout"),
    path("v2/auth/totp", auth.TotpView.as_view(), name="api-totp"),
    path("v2/auth/totp/confirm", auth.TotpConfirmView.as_view(), name="api-totp-confirm"),
    path("v2/auth/totp/disable", auth.TotpDisableView.as_view(), name="api-totp-disable"),
    path("v2/api_keys", auth.ApiKeysView.as_view(), name="api-keys"),
    path("v2/api_keys/<str:key_uuid>", auth.ApiKeyView.as_view(), name="api-key"),
    # OpenAPI 3 schema and interactive docs
    path("api/schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
