"""The REST endpoints of the fake exchange (tests/fakes/exchange.py): each one parses its
query parameters as the venue does (-1102 for a missing or malformed one), calls the book
(exchange_state) and shapes its JSON answer per /work/briefs/exchange_wire.md.

``ROUTES`` maps (method, path) to (endpoint, signed?); an endpoint takes the exchange and
the parameters, returns the JSON body, or raises ``ExchangeError``.
"""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from tests.fakes.exchange_state import ExchangeError, SymbolSpec, fmt, liquidation_price, mandatory, places

if TYPE_CHECKING:
    from tests.fakes.exchange import FakeExchange

CONDITIONAL = ("STOP_MARKET", "TAKE_PROFIT_MARKET")
ALGO_PATHS = ("/fapi/v1/algoOrder", "/fapi/v1/openAlgoOrders")


def _decimal(params: dict[str, str], name: str) -> Decimal:
    try:
        value = Decimal(params[name])
    except (KeyError, InvalidOperation):
        raise mandatory(name) from None
    if not value.is_finite():
        raise mandatory(name)
    return value


def int_param(params: dict[str, str], name: str, default: int | None = None) -> int | None:
    if not params.get(name):
        return default
    try:
        return int(params[name])
    except ValueError:
        raise mandatory(name) from None


def _choice(params: dict[str, str], name: str, choices: tuple[str, ...]) -> str:
    if params.get(name) not in choices:
        raise mandatory(name)
    return params[name]


def _flag(params: dict[str, str], name: str) -> bool:
    value = params.get(name, "false").lower()
    if value not in ("true", "false"):
        raise mandatory(name)
    return value == "true"





def _symbol_info(ex: FakeExchange, spec: SymbolSpec) -> dict:
    tick, step = str(spec.tick), str(spec.step)
    return {"symbol": spec.symbol, "pair": spec.symbol, "contractType": "PERPETUAL", "status": "TRADING",
            "baseAsset": spec.symbol.removesuffix("USDT"), "quoteAsset": "USDT", "marginAsset": "USDT",
            "pricePrecision": places(spec.tick), "quantityPrecision": places(spec.step),
            "filters": [
                {"filterType": "PRICE_FILTER", "tickSize": tick, "minPrice": tick, "maxPrice": "1000000"},
                {"filterType": "LOT_SIZE", "stepSize": step, "minQty": str(spec.min_qty),
                 "maxQty": str(spec.max_qty)},
                {"filterType": "MARKET_LOT_SIZE", "stepSize": step, "minQty": str(spec.min_qty),
                 "maxQty": str(spec.market_max_qty)},
                {"filterType": "MIN_NOTIONAL", "notional": str(spec.min_notional)}]}

def exchange_info(ex: FakeExchange, params: dict[str, str]) -> dict:
    return {"timezone": "UTC", "serverTime": ex.now_ms(),
            "symbols": [_symbol_info(ex, spec) for spec in ex.specs.values()]}

def premium_index(ex: FakeExchange, params: dict[str, str]) -> Any:
    now = ex.now_ms()
    period = 8 * 3600 * 1000

    def row(spec: SymbolSpec) -> dict:
        mark = fmt(spec.price, places(spec.tick))
        return {"symbol": spec.symbol, "markPrice": mark, "indexPrice": mark,
                "lastFundingRate": str(spec.funding_rate), "nextFundingTime": (now // period + 1) * period,
                "interestRate": "0.00010000", "time": now}

    if "symbol" in params:
        return row(ex.spec(params["symbol"]))
    return [row(spec) for spec in ex.specs.values()]

def leverage(ex: FakeExchange, params: dict[str, str]) -> dict:
    spec, leverage = ex.spec(params.get("symbol")), int_param(params, "leverage")
    if leverage is None:
        raise mandatory("leverage")
    if not 1 <= leverage <= 125:
        raise ExchangeError(-4028, f"Leverage {leverage} is not valid")
    spec.leverage = leverage
    return {"leverage": leverage, "maxNotionalValue": "1000000", "symbol": spec.symbol}

def margin_type(ex: FakeExchange, params: dict[str, str]) -> dict:
    spec = ex.spec(params.get("symbol"))
    wanted = _choice(params, "marginType", ("ISOLATED", "CROSSED"))
    if wanted == spec.margin_type:
        raise ExchangeError(-4046, "No need to change margin type.")
    if spec.symbol in ex.positions:
        raise ExchangeError(-4048, "Margin type cannot be changed if there exists position.")
    spec.margin_type = wanted
    return {"code": 200, "msg": "success"}

def _balance_row(ex: FakeExchange) -> dict:
    balance, available = fmt(ex.balance, 8), fmt(ex.available_balance, 8)
    return {"accountAlias": "SgsR", "asset": "USDT", "balance": balance, "crossWalletBalance": available,
            "crossUnPnl": "0.00000000", "availableBalance": available, "maxWithdrawAmount": available,
            "marginAvailable": True, "updateTime": ex.now_ms()}

def _position_row(ex: FakeExchange, spec: SymbolSpec) -> dict:
    """isolatedWallet is the margin; isolatedMargin adds the unrealized PnL (Binance's
    meaning); the numbers are the ones the fills produced."""
    position = ex.positions.get(spec.symbol)
    amount = position.amount if position else Decimal(0)
    entry = position.entry_price if position else Decimal(0)
    margin = position.margin if position else Decimal(0)
    unrealized = (spec.price - entry) * amount
    side = 1 if amount > 0 else -1
    tick = places(spec.tick)
    return {
        "symbol": spec.symbol, "positionAmt": fmt(amount, places(spec.step)), "entryPrice": fmt(entry, 1),
        "breakEvenPrice": fmt(entry * (1 + side * ex.taker_fee) if position else Decimal(0), 1),
        "markPrice": fmt(spec.price, tick), "unRealizedProfit": fmt(unrealized, 8),
        "liquidationPrice": fmt(liquidation_price(position, spec.tick) if position else Decimal(0), tick),
        "leverage": str(spec.leverage), "maxNotionalValue": "1000000",
        "marginType": "isolated" if spec.margin_type == "ISOLATED" else "cross",
        "isolatedMargin": fmt(margin + unrealized, 8), "isAutoAddMargin": "false", "positionSide": "BOTH",
        "notional": fmt(amount * spec.price, 8), "isolatedWallet": fmt(margin, 8),
        "updateTime": position.opened_at if position else 0}

def position_risk(ex: FakeExchange, params: dict[str, str]) -> list[dict]:
    specs = [ex.spec(params["symbol"])] if "symbol" in params else list(ex.specs.values())
    return [_position_row(ex, spec) for spec in specs]

def restrictions(ex: FakeExchange, params: dict[str, str]) -> dict:
    if not ex.has_restrictions:
        raise NotFound
    return {"ipRestrict": False, "createTime": ex.now_ms(), "enableWithdrawals": ex.enable_withdrawals,
            "enableInternalTransfer": False, "permitsUniversalTransfer": False,
            "enableVanillaOptions": False, "enableReading": True, "enableFutures": True,
            "enableMargin": False, "enableSpotAndMarginTrading": False}

def _check_side(ex: FakeExchange, params: dict[str, str]) -> None:
    """One-way mode is what the fake models: hedge mode wants positionSide, one-way BOTH."""
    given = params.get("positionSide")
    if (ex.dual_side and not given) or (not ex.dual_side and given not in (None, "", "BOTH")):
        raise ExchangeError(-4061, "Order's position side does not match user's setting.")

def post_order(ex: FakeExchange, params: dict[str, str]) -> dict:
    ex.spec(params.get("symbol"))
    side = _choice(params, "side", ("BUY", "SELL"))
    _check_side(ex, params)
    order_type = params.get("type")
    if order_type == "MARKET":
        return ex.market(symbol=params["symbol"], side=side, quantity=_decimal(params, "quantity"),
                           client_id=params.get("newClientOrderId"),
                           reduce_only=_flag(params, "reduceOnly"))
    if order_type not in CONDITIONAL:
        raise ExchangeError(-1116, "Invalid orderType.")
    if ex.conditional_api == "algo":
        raise ExchangeError(-4120, "Order type not supported for this endpoint. "
                                   "Please use the Algo Order API endpoints instead.")
    if not _flag(params, "closePosition"):
        raise mandatory("closePosition")
    return ex.conditional(symbol=params["symbol"], side=side, order_type=order_type,
                          stop_price=_decimal(params, "stopPrice"), client_id=params.get("newClientOrderId"),
                            working_type=params.get("workingType", "CONTRACT_PRICE"))

def post_algo(ex: FakeExchange, params: dict[str, str]) -> dict:
    _choice(params, "algoType", ("CONDITIONAL",))
    ex.spec(params.get("symbol"))
    side = _choice(params, "side", ("BUY", "SELL"))
    _check_side(ex, params)
    order_type = _choice(params, "type", CONDITIONAL)
    if not _flag(params, "closePosition"):
        raise mandatory("closePosition")
    return ex.algo(symbol=params["symbol"], side=side, order_type=order_type,
                     trigger_price=_decimal(params, "triggerPrice"), client_id=params.get("clientAlgoId"),
                     working_type=params.get("workingType", "CONTRACT_PRICE"))

def _order_ref(params: dict[str, str]) -> tuple[int | None, str | None]:
    order_id, client_id = int_param(params, "orderId"), params.get("origClientOrderId") or None
    if order_id is None and client_id is None:
        raise ExchangeError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were "
                                   "empty/null!")
    return order_id, client_id

def _algo_ref(params: dict[str, str]) -> tuple[int | None, str | None]:
    algo_id, client_id = int_param(params, "algoId"), params.get("clientAlgoId") or None
    if algo_id is None and client_id is None:
        raise mandatory("algoId")
    return algo_id, client_id

def open_orders(ex: FakeExchange, params: dict[str, str]) -> list[dict]:
    symbol = ex.spec(params["symbol"]).symbol if "symbol" in params else None
    return [o for o in ex.orders.values() if o["status"] == "NEW" and symbol in (None, o["symbol"])]

def open_algos(ex: FakeExchange, params: dict[str, str]) -> list[dict]:
    symbol = ex.spec(params["symbol"]).symbol if "symbol" in params else None
    return [a for a in ex.algo_orders.values()
            if a["algoStatus"] == "NEW" and symbol in (None, a["symbol"])]

def _window(rows: list[dict], params: dict[str, str], default_limit: int) -> list[dict]:
    """Rows within startTime..endTime, oldest first, the first ``limit`` of them."""
    start, end = int_param(params, "startTime"), int_param(params, "endTime")
    limit = int_param(params, "limit", default_limit)
    if not 1 <= limit <= 1000:
        raise mandatory("limit")
    rows = [r for r in rows if (start is None or r["time"] >= start) and (end is None or r["time"] <= end)]
    return rows[:limit]


def user_trades(ex: FakeExchange, params: dict[str, str]) -> list[dict]:
    symbol = ex.spec(params.get("symbol")).symbol
    order_id, from_id = int_param(params, "orderId"), int_param(params, "fromId")
    rows = [t for t in ex.trades if t["symbol"] == symbol and order_id in (None, t["orderId"])
            and (from_id is None or t["id"] >= from_id)]
    return _window(rows, params, 500)


def income(ex: FakeExchange, params: dict[str, str]) -> list[dict]:
    symbol, kind = params.get("symbol"), params.get("incomeType")
    rows = [r for r in ex.income if symbol in (None, r["symbol"]) and kind in (None, r["incomeType"])]
    return _window(rows, params, 100)


class NotFound(ExchangeError):
    """An endpoint this venue does not have: 404 with a plain body."""

    def __init__(self) -> None:
        super().__init__(0, "Not Found", 404)


Endpoint = Callable[["FakeExchange", dict[str, str]], Any]
ROUTES: dict[tuple[str, str], tuple[Endpoint, bool]] = {
    ("GET", "/fapi/v1/time"): (lambda ex, p: {"serverTime": ex.now_ms()}, False),
    ("GET", "/fapi/v1/exchangeInfo"): (exchange_info, False),
    ("GET", "/fapi/v1/premiumIndex"): (premium_index, False),
    ("GET", "/fapi/v1/positionSide/dual"): (lambda ex, p: {"dualSidePosition": ex.dual_side}, True),
    ("POST", "/fapi/v1/leverage"): (leverage, True),
    ("POST", "/fapi/v1/marginType"): (margin_type, True),
    ("GET", "/fapi/v2/balance"): (lambda ex, p: [_balance_row(ex)], True),
    ("GET", "/fapi/v2/positionRisk"): (position_risk, True),
    ("GET", "/sapi/v1/account/apiRestrictions"): (restrictions, True),
    ("POST", "/fapi/v1/order"): (post_order, True),
    ("GET", "/fapi/v1/order"): (lambda ex, p: ex.find_order(p.get("symbol"), *_order_ref(p)), True),
    ("DELETE", "/fapi/v1/order"): (lambda ex, p: ex.cancel_order(p.get("symbol"), *_order_ref(p)), True),
    ("GET", "/fapi/v1/openOrders"): (open_orders, True),
    ("POST", "/fapi/v1/algoOrder"): (post_algo, True),
    ("GET", "/fapi/v1/algoOrder"): (lambda ex, p: ex.find_algo(*_algo_ref(p)), True),
    ("DELETE", "/fapi/v1/algoOrder"): (lambda ex, p: ex.cancel_algo(*_algo_ref(p)), True),
    ("GET", "/fapi/v1/openAlgoOrders"): (open_algos, True),
    ("GET", "/fapi/v1/userTrades"): (user_trades, True),
    ("GET", "/fapi/v1/income"): (income, True),
}
