"""Watchlists CRUD (Alpaca paths). Another account's watchlist is indistinguishable from a missing one."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from .. import selectors, services
from ..errors import ApiError
from ..models import Watchlist
from ..presenters import watchlist_to_alpaca
from ..serializers import (
    ErrorSerializer,
    WatchlistAddAssetSerializer,
    WatchlistCreateSerializer,
    WatchlistNameQuerySerializer,
    WatchlistSerializer,
    WatchlistUpdateSerializer,
)
from .base import SYMBOL_RE, ApiView, parse, require_match


def _service_call(fn, **kwargs):  # type: ignore[no-untyped-def]
    try:
        return fn(**kwargs)
    except services.WatchlistError as exc:
        raise ApiError(str(exc), status_code=exc.status) from exc


class WatchlistsView(ApiView):
    @extend_schema(operation_id="get_watchlists", responses={200: WatchlistSerializer(many=True)}, tags=["watchlists"])
    def get(self, request: Request) -> Response:
        watchlists = selectors.watchlists_for_account(account=self.account(request))
        return Response([watchlist_to_alpaca(w, with_assets=False) for w in watchlists])

    @extend_schema(operation_id="create_watchlist", request=WatchlistCreateSerializer,
                   responses={200: WatchlistSerializer, 404: ErrorSerializer, 422: ErrorSerializer},
                   tags=["watchlists"])
    def post(self, request: Request) -> Response:
        data = parse(WatchlistCreateSerializer, request.data)
        account = self.account(request)
        watchlist = _service_call(services.watchlist_create, account=account, name=data["name"],
                                  symbols=data["symbols"])
        return Response(self._present(account, watchlist))

    @staticmethod
    def _present(account, watchlist: Watchlist) -> dict:  # type: ignore[no-untyped-def]
        fresh = selectors.watchlist_get(account=account, watchlist_id=watchlist.id)
        assert fresh is not None  # noqa: S101 - just written by this request
        return watchlist_to_alpaca(fresh)


class WatchlistByNameView(ApiView):
    @extend_schema(operation_id="get_watchlist_by_name",
                   parameters=[OpenApiParameter("name", str, required=True)],
                   responses={200: WatchlistSerializer, 404: ErrorSerializer}, tags=["watchlists"])
    def get(self, request: Request) -> Response:
        name = parse(WatchlistNameQuerySerializer, request.query_params, body=False)["name"]
        watchlist = selectors.watchlist_by_name(account=self.account(request), name=name)
        if watchlist is None:
            raise ApiError("watchlist not found", status_code=404)
        return Response(watchlist_to_alpaca(watchlist))


class WatchlistView(ApiView):
    def _get(self, request: Request, watchlist_id) -> Watchlist:  # type: ignore[no-untyped-def]
        watchlist = selectors.watchlist_get(account=self.account(request), watchlist_id=watchlist_id)
        if watchlist is None:
            raise ApiError("watchlist not found", status_code=404)
        return watchlist

    @extend_schema(operation_id="get_watchlist", responses={200: WatchlistSerializer, 404: ErrorSerializer},
                   tags=["watchlists"])
    def get(self, request: Request, watchlist_id) -> Response:  # type: ignore[no-untyped-def]
        return Response(watchlist_to_alpaca(self._get(request, watchlist_id)))

    @extend_schema(operation_id="update_watchlist", request=WatchlistUpdateSerializer,
                   responses={200: WatchlistSerializer, 404: ErrorSerializer, 422: ErrorSerializer},
                   tags=["watchlists"])
    def put(self, request: Request, watchlist_id) -> Response:  # type: ignore[no-untyped-def]
        watchlist = self._get(request, watchlist_id)
        data = parse(WatchlistUpdateSerializer, request.data)
        _service_call(services.watchlist_update, watchlist=watchlist, name=data.get("name"),
                      symbols=data.get("symbols"))
        return Response(watchlist_to_alpaca(self._get(request, watchlist_id)))

    @extend_schema(operation_id="add_asset_to_watchlist", request=WatchlistAddAssetSerializer,
                   responses={200: WatchlistSerializer, 404: ErrorSerializer, 422: ErrorSerializer},
                   tags=["watchlists"])
    def post(self, request: Request, watchlist_id) -> Response:  # type: ignore[no-untyped-def]
        watchlist = self._get(request, watchlist_id)
        data = parse(WatchlistAddAssetSerializer, request.data)
        _service_call(services.watchlist_add_asset, watchlist=watchlist, symbol=data["symbol"])
        return Response(watchlist_to_alpaca(self._get(request, watchlist_id)))

    @extend_schema(operation_id="delete_watchlist", responses={204: None, 404: ErrorSerializer}, tags=["watchlists"])
    def delete(self, request: Request, watchlist_id) -> Response:  # type: ignore[no-untyped-def]
        services.watchlist_delete(watchlist=self._get(request, watchlist_id))
        return Response(status=204)


class WatchlistAssetView(WatchlistView):
    http_method_names = ["delete", "options"]

    @extend_schema(operation_id="remove_asset_from_watchlist",
                   responses={200: WatchlistSerializer, 404: ErrorSerializer}, tags=["watchlists"])
    def delete(self, request: Request, watchlist_id, symbol: str) -> Response:  # type: ignore[no-untyped-def,override]
        watchlist = self._get(request, watchlist_id)
        require_match(SYMBOL_RE, symbol, what=f"asset {symbol[:40]}")
        _service_call(services.watchlist_remove_asset, watchlist=watchlist, symbol=symbol)
        return Response(watchlist_to_alpaca(self._get(request, watchlist_id)))
