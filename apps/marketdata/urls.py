"""Market-data routes, included at the root by apps/api/urls.py (Alpaca paths, no trailing slash)."""

from django.urls import path

from apps.marketdata import views

urlpatterns = [
    path("v2/stocks/quotes/latest", views.LatestQuotesView.as_view(), name="marketdata-quotes-latest"),
    path("v2/stocks/bars", views.BarsView.as_view(), name="marketdata-bars"),
]
