"""GET /v2/assets/search: as-you-type instrument search for the API and the web UI autocomplete."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from apps.api.errors import error_response
from apps.instruments.presenters import instrument_to_alpaca

from .query import MAX_LIMIT, MAX_QUERY_LENGTH, SearchQueryError, search_query_parse
from .selectors import instruments_search


class AssetSearchView(APIView):
    # API keys and tokens from the project defaults, plus the browser session for the autocomplete.
    authentication_classes: list[type[BaseAuthentication]] = [
        *api_settings.DEFAULT_AUTHENTICATION_CLASSES,  # type: ignore[list-item]  # classes once resolved
        SessionAuthentication,
    ]
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="search_assets",
        summary="Search instruments by symbol or company name, best match first",
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, description=f"symbol or name, at most {MAX_QUERY_LENGTH} chars"),
            OpenApiParameter("limit", OpenApiTypes.INT, description=f"1..{MAX_LIMIT}, default 10"),
            OpenApiParameter("exchange", OpenApiTypes.STR, description="NYSE, NASDAQ, ARCA, AMEX, BATS"),
            OpenApiParameter("asset_class", OpenApiTypes.STR, description="us_equity"),
            OpenApiParameter("tradable", OpenApiTypes.BOOL, description="only tradable, active instruments"),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        try:
            query = search_query_parse(
                text=params.get("q"),
                limit=params.get("limit"),
                exchange=params.get("exchange"),
                asset_class=params.get("asset_class"),
                tradable_only=params.get("tradable"),
            )
        except SearchQueryError as error:
            return error_response(status.HTTP_422_UNPROCESSABLE_ENTITY, error.message)
        return Response([instrument_to_alpaca(instrument) for instrument in instruments_search(query=query)])
