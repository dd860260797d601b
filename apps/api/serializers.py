"""Request parsing and (for the OpenAPI schema) response shapes of the /v2 API.

Response bodies are built by presenters (plain dicts in Alpaca's shape); the serializers here
document them and validate input.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A JSON string only: DRF's CharField would turn 0 or true into "0" / "True"."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictRegexField(serializers.RegexField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean only (query strings use BooleanField, which also parses "true"/"false")."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class QueryBooleanField(serializers.BooleanField):
    """A query-string boolean: exactly "true" or "false" (not 1, 0, yes, on ...)."""

    def to_internal_value(self, data: Any) -> bool:
        if data not in ("true", "false", "True", "False", True, False):
            self.fail("invalid", input=data)
        return data in ("true", "True", True)


@extend_schema_field({"oneOf": [{"type": "number"}, {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"}]})
class NumberOrStringField(serializers.DecimalField):
    """A decimal sent as a JSON number (alpaca-py sends floats) or a string (Alpaca's own format).

    Booleans are refused: Decimal(str(True)) would fail anyway, but say so clearly."""

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool) or not isinstance(data, int | float | str):
            self.fail("invalid")
        return super().to_internal_value(data)


SIX_DIGITS = r"^[0-9]{6}$"  # ASCII only: \d would accept other scripts' digits
SYMBOL_PATTERN = r"^[A-Za-z0-9.\-]{1,16}$"


class ErrorSerializer(serializers.Serializer):
    code = serializers.IntegerField()
    message = serializers.CharField()


class AssetSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    # "class" is a Python keyword: declared below through the fields dict.
    exchange = serializers.CharField()
    symbol = serializers.CharField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=["active", "inactive"])
    tradable = serializers.BooleanField()
    marginable = serializers.BooleanField()
    shortable = serializers.BooleanField()
    easy_to_borrow = serializers.BooleanField()
    fractionable = serializers.BooleanField()
    maintenance_margin_requirement = serializers.IntegerField()
    attributes = serializers.ListField(child=serializers.CharField())

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["class"] = serializers.CharField()
        return fields


class AssetsQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["active", "inactive"], required=False)
    asset_class = serializers.ChoiceField(choices=["us_equity", "crypto", "us_option"], required=False)
    exchange = serializers.CharField(required=False, max_length=16)
    attributes = serializers.CharField(required=False, max_length=200)


class ClockSerializer(serializers.Serializer):
    timestamp = serializers.DateTimeField()
    is_open = serializers.BooleanField()
    next_open = serializers.DateTimeField()
    next_close = serializers.DateTimeField()


class CalendarQuerySerializer(serializers.Serializer):
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)
    date_type = serializers.ChoiceField(choices=["TRADING", "SETTLEMENT"], required=False)


class CalendarDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    open = serializers.CharField()
    close = serializers.CharField()
    session_open = serializers.CharField()
    session_close = serializers.CharField()
    settlement_date = serializers.DateField()


class WatchlistCreateSerializer(serializers.Serializer):
    name = StrictCharField(max_length=64, allow_blank=False, trim_whitespace=True)
    symbols = serializers.ListField(child=StrictRegexField(SYMBOL_PATTERN), required=False,
                                    max_length=1000, default=list)


class WatchlistUpdateSerializer(serializers.Serializer):
    name = StrictCharField(max_length=64, allow_blank=False, trim_whitespace=True, required=False)
    symbols = serializers.ListField(child=StrictRegexField(SYMBOL_PATTERN), required=False,
                                    max_length=1000)

    def validate(self, attrs: dict) -> dict:
        if "name" not in attrs and "symbols" not in attrs:
            raise serializers.ValidationError("one of name or symbols is required")
        return attrs


class WatchlistNameQuerySerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64)


class WatchlistAddAssetSerializer(serializers.Serializer):
    symbol = StrictRegexField(SYMBOL_PATTERN)


class WatchlistSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    account_id = serializers.UUIDField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    assets = AssetSerializer(many=True, required=False)


class LoginSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150)
    password = StrictCharField(max_length=256, trim_whitespace=False)
    totp_code = StrictRegexField(SIX_DIGITS, required=False, allow_blank=True)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    token_type = serializers.CharField()
    expires_at = serializers.DateTimeField()


class TotpCodeSerializer(serializers.Serializer):
    code = StrictRegexField(SIX_DIGITS)


class TotpEnrollmentSerializer(serializers.Serializer):
    secret = serializers.CharField()
    otpauth_uri = serializers.CharField()


class TotpStatusSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()


class ApiKeyCreateSerializer(serializers.Serializer):
    label = StrictCharField(max_length=100, allow_blank=True)  # type: ignore[assignment]


class ApiKeySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    key_id = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    created_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    rate_limit_per_minute = serializers.IntegerField()


class ApiKeyCreatedSerializer(ApiKeySerializer):
    secret_key = serializers.CharField(help_text="Shown once; only a hash is stored.")
