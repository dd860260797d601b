"""Extensions for the mobile app: password + TOTP login issuing an expiring token, TOTP enrollment,
and the customer's own API keys (the secret is in the creation response only)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from .. import services
from ..authentication import Credential, auth_token_for
from ..errors import ApiError
from ..models import ApiKey, TotpDevice
from ..presenters import api_key_to_json, rfc3339
from ..ratelimit import AnonymousRateLimit, RedisRateLimit
from ..serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    ErrorSerializer,
    LoginSerializer,
    TokenSerializer,
    TotpCodeSerializer,
    TotpEnrollmentSerializer,
    TotpStatusSerializer,
)
from .base import ApiView, parse, parse_uuid


class LoginView(ApiView):
    """POST /v2/auth/login {username, password, totp_code?} -> {token, token_type, expires_at}.

    Send the token as `Authorization: Bearer <token>` (alpaca-py: TradingClient(oauth_token=...)).
    A 401 with code 40110001 means a TOTP code is required.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AnonymousRateLimit]

    @extend_schema(operation_id="login", request=LoginSerializer, auth=[],
                   responses={200: TokenSerializer, 401: ErrorSerializer, 422: ErrorSerializer}, tags=["auth"])
    def post(self, request: Request) -> Response:
        data = parse(LoginSerializer, request.data)
        try:
            auth_token, token = services.login(
                username=data["username"], password=data["password"], totp_code=data.get("totp_code") or ""
            )
        except services.LoginFailed as exc:
            code = {"totp_required": 40110001, "totp_invalid": 40110002}.get(exc.code, 40110000)
            raise ApiError(str(exc), status_code=401, code=code) from exc
        return Response({"token": token, "token_type": "Bearer", "expires_at": rfc3339(auth_token.expires_at)})


class LogoutView(ApiView):
    @extend_schema(operation_id="logout", request=None, responses={204: None}, tags=["auth"])
    def post(self, request: Request) -> Response:
        credential = request.auth
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if isinstance(credential, Credential) and credential.kind == "token":
            auth_token = auth_token_for(token=header[7:].strip())
            if auth_token is not None:
                services.auth_token_revoke(auth_token=auth_token)
        return Response(status=204)


def _totp_error(exc: services.TotpError) -> ApiError:
    return ApiError(str(exc), status_code=422)


class TotpView(ApiView):
    @extend_schema(operation_id="totp_status", responses={200: TotpStatusSerializer}, tags=["auth"])
    def get(self, request: Request) -> Response:
        enabled = TotpDevice.objects.filter(user=self.user(request), confirmed_at__isnull=False).exists()
        return Response({"enabled": enabled})

    @extend_schema(operation_id="totp_enroll", request=None,
                   responses={200: TotpEnrollmentSerializer, 422: ErrorSerializer}, tags=["auth"])
    def post(self, request: Request) -> Response:
        try:
            device, uri = services.totp_enroll_begin(user=self.user(request))
        except services.TotpError as exc:
            raise _totp_error(exc) from exc
        return Response({"secret": device.secret, "otpauth_uri": uri})


class TotpConfirmView(ApiView):
    @extend_schema(operation_id="totp_confirm", request=TotpCodeSerializer,
                   responses={200: TotpStatusSerializer, 422: ErrorSerializer}, tags=["auth"])
    def post(self, request: Request) -> Response:
        data = parse(TotpCodeSerializer, request.data)
        try:
            services.totp_enroll_confirm(user=self.user(request), code=data["code"])
        except services.TotpError as exc:
            raise _totp_error(exc) from exc
        return Response({"enabled": True})


class TotpDisableView(ApiView):
    @extend_schema(operation_id="totp_disable", request=TotpCodeSerializer,
                   responses={200: TotpStatusSerializer, 422: ErrorSerializer}, tags=["auth"])
    def post(self, request: Request) -> Response:
        data = parse(TotpCodeSerializer, request.data)
        try:
            services.totp_disable(user=self.user(request), code=data["code"])
        except services.TotpError as exc:
            raise _totp_error(exc) from exc
        return Response({"enabled": False})


class ApiKeysView(ApiView):
    throttle_classes = [RedisRateLimit]

    @extend_schema(operation_id="list_api_keys", responses={200: ApiKeySerializer(many=True)}, tags=["api keys"])
    def get(self, request: Request) -> Response:
        keys = ApiKey.objects.filter(user=self.user(request)).order_by("-created_at")
        return Response([api_key_to_json(k) for k in keys])

    @extend_schema(operation_id="create_api_key", request=ApiKeyCreateSerializer,
                   responses={201: ApiKeyCreatedSerializer, 422: ErrorSerializer}, tags=["api keys"])
    def post(self, request: Request) -> Response:
        data = parse(ApiKeyCreateSerializer, request.data)
        api_key, secret = services.api_key_create(user=self.user(request), label=data["label"])
        return Response({**api_key_to_json(api_key), "secret_key": secret}, status=201)


class ApiKeyView(ApiView):
    @extend_schema(operation_id="revoke_api_key", responses={200: ApiKeySerializer, 404: ErrorSerializer},
                   tags=["api keys"])
    def delete(self, request: Request, key_uuid: str) -> Response:
        api_key = ApiKey.objects.filter(user=self.user(request), id=parse_uuid(key_uuid, what="api key")).first()
        if api_key is None:
            raise ApiError("api key not found", status_code=404)
        services.api_key_revoke(api_key=api_key, actor=self.user(request))
        return Response(api_key_to_json(api_key))
