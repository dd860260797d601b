from django.urls import path

from .views import AssetSearchView

urlpatterns = [
    path("v2/assets/search", AssetSearchView.as_view(), name="asset-search"),
]
