"""Why an order request was refused. Every error is an OrderRejected with a stable `code` and an
`http_status` hint the API maps to (403 for business denials like buying power, 422 for invalid
input, 404 for unknown orders); the message is for humans."""

from __future__ import annotations


class OrderRejected(Exception):
    code = "order_rejected"
    http_status = 422

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = str(self.args[0])


class InsufficientBuyingPower(OrderRejected):
    """insufficient buying power"""

    code = "insufficient_buying_power"
    http_status = 403


class InsufficientShares(OrderRejected):
    """insufficient qty available for order"""

    code = "insufficient_shares"
    http_status = 403


class InstrumentNotTradable(OrderRejected):
    """asset is not tradable"""

    code = "instrument_not_tradable"
    http_status = 422


class AccountNotActive(OrderRejected):
    """account is not allowed to trade"""

    code = "account_not_active"
    http_status = 403


class InvalidQuantity(OrderRejected):
    """invalid quantity"""

    code = "invalid_quantity"
    http_status = 422


class InvalidOrder(OrderRejected):
    """invalid order parameters"""

    code = "invalid_order"
    http_status = 422


class PriceOffTick(OrderRejected):
    """price is not a multiple of the tick size"""

    code = "price_off_tick"
    http_status = 422


class PriceCollar(OrderRejected):
    """price outside the allowed collar around the last quote"""

    code = "price_collar"
    http_status = 403


class NoReferencePrice(OrderRejected):
    """no quote to price this order against"""

    code = "no_reference_price"
    http_status = 403


class MaxNotionalExceeded(OrderRejected):
    """order notional exceeds the account limit"""

    code = "max_notional_exceeded"
    http_status = 403


class DuplicateClientOrderId(OrderRejected):
    """client_order_id must be unique"""

    code = "duplicate_client_order_id"
    http_status = 422


class IllegalTransition(OrderRejected):
    """the order's status does not allow this"""

    code = "illegal_transition"
    http_status = 422


class OrderNotFound(OrderRejected):
    """order not found"""

    code = "order_not_found"
    http_status = 404
