"""Binance USDⓈ-M futures REST (one-way mode, USDT), also spoken by Aster DEX.

API: https://developers.binance.com/docs/derivatives/usds-margined-futures (the wire format the
arena relies on is summed up in each method's docstring). One small method per endpoint; the
shared ``_call`` signs, sends and turns every failure into an ``ExchangeError``.

What the transport does, and why:
- Signed timestamps are ``clock()`` plus the offset ``sync_time()`` measured; the first signed call
  syncs. A -1021 (timestamp outside the recvWindow) was not executed: sync and send the same
  request once more, re-signed.
- 429/418 block every call until the ``Retry-After`` has passed (sending more would turn a rate
  limit into an IP ban). Only a read whose wait is at most ``max_wait_seconds`` sleeps and retries
  once; writes are never retried here (besides -1021): idempotency is the broker's job, because
  only it knows whether an order it did not hear back about must be looked up first.
- Timeouts, dropped connections, empty bodies, 5xx and -1007 on a write are ``unknown``: the
  order may exist.
- The API key, the secret and signatures never appear in a message or repr; httpx exceptions,
  whose text may carry the signed URL, are not chained into ours.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from trading.exchanges.errors import (
    CANCEL_UNKNOWN_CODE,
    NO_NEED_TO_CHANGE_MARGIN_CODE,
    ORDER_UNKNOWN_CODES,
    TIMESTAMP_CODE,
    ExchangeError,
    error_from_response,
    transport_error,
)
from trading.exchanges.rules import decimal_text
from trading.exchanges.signing import Params, SignatureRedactor, query_string, signed_query
from trading.exchanges.types import (
    CONDITIONAL_TYPES,
    ApiRestrictions,
    Balance,
    ConditionalOrder,
    ExchangeOrder,
    ExchangePosition,
    Income,
    SymbolRules,
    UserTrade,
    number,
)

RESTRICTIONS_PATH = "/sapi/v1/account/apiRestrictions"
INCOME_PAGE = 1000  # the venue's largest income page
logging.getLogger("httpx").addFilter(SignatureRedactor())


def _ms(at: datetime | None) -> str | None:
    return None if at is None else str(int(at.timestamp() * 1000))


def _present(params: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    """The optional parameters that were given, in the order the venue documents them."""
    return [(key, str(value)) for key, value in params if value is not None]


def _id_param(order_id: str | None, client_id: str | None, id_name: str, client_name: str) -> tuple[str, str]:
    """Exactly one way to name an order; the venue's own id wins when both are known."""
    if order_id is not None:
        return (id_name, str(order_id))
    if client_id is not None:
        return (client_name, client_id)
    raise ValueError("name the order: order_id or its client id")


class ExchangeClient:
    """One account on one Binance-compatible futures venue."""

    def __init__(
        self, *, base_url: str, api_key: str, api_secret: str, name: str = "the exchange",
        conditional_api: str = "algo", restrictions_url: str | None = None,
        transport: httpx.BaseTransport | None = None, timeout: float = 10.0,
        recv_window_ms: int = 5000, clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep, max_wait_seconds: float = 5.0,
    ) -> None:
        if conditional_api not in ("algo", "classic"):
            raise ValueError(f"conditional_api must be 'algo' or 'classic', not {conditional_api!r}")
        self.base_url = base_url.rstrip("/")
        self.name = name
        self.conditional_api = conditional_api
        self.restrictions_url = restrictions_url or self.base_url + RESTRICTIONS_PATH
        self.recv_window_ms = recv_window_ms
        self.max_wait_seconds = max_wait_seconds
        self.time_offset_ms = 0
        self._api_key = api_key
        self._api_secret = api_secret
        self._clock = clock
        self._sleep = sleep
        self._synced = False
        self._blocked_until: float | None = None
        self._rules: dict[str, SymbolRules] | None = None
        self._http = httpx.Client(timeout=timeout, transport=transport,
                                  headers={"Accept": "application/json"})

    def __repr__(self) -> str:
        return f"ExchangeClient(name={self.name!r}, base_url={self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ExchangeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport ---

    def _call(self, method: str, path: str, params: Params = (), *, signed: bool = True,
              action: str = "the request", url: str | None = None) -> Any:
        """The decoded JSON answer; every failure as an ``ExchangeError``."""
        self._check_blocked(action)
        if signed and not self._synced:
            self.sync_time()
        resynced = waited = False
        while True:
            response = self._send(method, url or self.base_url + path, params, signed, action)
            body = self._body(response)
            if response.status_code < 400:
                if body is None:
                    raise transport_error(name=self.name, action=action, method=method,
                                          reason="an empty or unreadable answer", status=response.status_code)
                return body
            error = error_from_response(name=self.name, action=action, method=method,
                                        status=response.status_code, body=body,
                                        retry_after=response.headers.get("Retry-After"))
            if error.code == TIMESTAMP_CODE and signed and not resynced:
                resynced = True
                self.sync_time()
                continue
            if error.retry_after is not None:
                self._blocked_until = self._clock() + error.retry_after
                if method == "GET" and not waited and error.retry_after <= self.max_wait_seconds:
                    waited = True
                    self._sleep(error.retry_after)
                    self._blocked_until = None
                    continue
            raise error

    def _call_or_none(self, codes: set[int], method: str, path: str, params: Params, action: str) -> Any:
        """``_call``, but None when the venue answers one of ``codes`` (unknown order...)."""
        try:
            return self._call(method, path, params, action=action)
        except ExchangeError as error:
            if error.code in codes:
                return None
            raise

    def _send(self, method: str, url: str, params: Params, signed: bool, action: str) -> httpx.Response:
        if signed:
            query = signed_query(params, secret=self._api_secret, timestamp_ms=self._timestamp_ms(),
                                 recv_window_ms=self.recv_window_ms)
            headers = {"X-MBX-APIKEY": self._api_key}
        else:
            query, headers = query_string(params), {}
        try:
            return self._http.request(method, f"{url}?{query}" if query else url, headers=headers)
        except httpx.TimeoutException as exc:
            reason = f"timed out: {type(exc).__name__}"
        except httpx.TransportError as exc:
            reason = f"connection failed: {type(exc).__name__}"
        raise transport_error(name=self.name, action=action, method=method, reason=reason) from None

    @staticmethod
    def _body(response: httpx.Response) -> Any:
        try:
            return response.json() if response.content else None
        except ValueError:
            return None

    def _check_blocked(self, action: str) -> None:
        if self._blocked_until is None:
            return
        remaining = self._blocked_until - self._clock()
        if remaining <= 0:
            self._blocked_until = None
            return
        until = datetime.fromtimestamp(self._blocked_until, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        raise ExchangeError(f"{self.name} asked for a pause in requests until {until} (rate limit): "
                            f"{action} was not sent", retry_after=remaining)

    def _timestamp_ms(self) -> int:
        return int(self._clock() * 1000) + self.time_offset_ms

    # --- public ---

    def sync_time(self) -> int:
        """``GET /fapi/v1/time``: the offset server − local in ms, measured at the request's midpoint."""
        before = self._clock()
        body = self._call("GET", "/fapi/v1/time", signed=False, action="the time request")
        after = self._clock()
        self.time_offset_ms = int(body["serverTime"]) - int((before + after) / 2 * 1000)
        self._synced = True
        return self.time_offset_ms

    def exchange_info(self) -> dict[str, SymbolRules]:
        """``GET /fapi/v1/exchangeInfo``, by symbol; read once per client (rules rarely change)."""
        if self._rules is None:
            body = self._call("GET", "/fapi/v1/exchangeInfo", signed=False, action="the symbol list")
            self._rules = {s["symbol"]: SymbolRules.from_json(s) for s in body["symbols"]}
        return self._rules

    def symbol_rules(self, symbol: str) -> SymbolRules:
        rules = self.exchange_info().get(symbol)
        if rules is None:
            raise ExchangeError(f"{self.name} does not list {symbol}", permanent=True)
        return rules

    def mark_price(self, symbol: str) -> Decimal:
        """``GET /fapi/v1/premiumIndex?symbol=S``: the mark price stops and liquidations use."""
        body = self._call("GET", "/fapi/v1/premiumIndex", [("symbol", symbol)], signed=False,
                          action=f"the mark price of {symbol}")
        return number(body["markPrice"])

    # --- account and settings ---

    def hedge_mode(self) -> bool:
        """``GET /fapi/v1/positionSide/dual``: True when the account is in hedge mode."""
        return bool(self._call("GET", "/fapi/v1/positionSide/dual", action="the position mode")
                    ["dualSidePosition"])

    def set_leverage(self, symbol: str, leverage: int) -> int:
        """``POST /fapi/v1/leverage``: the leverage the venue set."""
        body = self._call("POST", "/fapi/v1/leverage", [("symbol", symbol), ("leverage", str(leverage))],
                          action=f"the leverage change of {symbol}")
        return int(body["leverage"])

    def set_isolated(self, symbol: str) -> None:
        """``POST /fapi/v1/marginType`` ISOLATED; -4046 ("no need to change") is a success."""
        try:
            self._call("POST", "/fapi/v1/marginType", [("symbol", symbol), ("marginType", "ISOLATED")],
                       action=f"the margin type change of {symbol}")
        except ExchangeError as error:
            if error.code != NO_NEED_TO_CHANGE_MARGIN_CODE:
                raise

    def positions(self, symbol: str | None = None) -> list[ExchangePosition]:
        """``GET /fapi/v2/positionRisk``: one entry per symbol, flat ones included."""
        params = [("symbol", symbol)] if symbol else []
        return [ExchangePosition.from_json(p)
                for p in self._call("GET", "/fapi/v2/positionRisk", params, action="the positions")]

    def balance(self, asset: str = "USDT") -> Balance:
        """``GET /fapi/v2/balance``: the asset's wallet balance (zero when the venue lists none)."""
        for entry in self._call("GET", "/fapi/v2/balance", action="the balance"):
            if entry.get("asset") == asset:
                return Balance.from_json(entry)
        return Balance.empty(asset)

    def api_restrictions(self) -> ApiRestrictions | None:
        """``GET /sapi/v1/account/apiRestrictions``; None on a venue without it (HTTP 404)."""
        try:
            body = self._call("GET", "", url=self.restrictions_url, action="the API key's permissions")
        except ExchangeError as error:
            if error.status == 404:
                return None
            raise
        return ApiRestrictions.from_json(body)

    # --- orders ---

    def market_order(self, *, symbol: str, side: str, quantity: Decimal, client_order_id: str,
                     reduce_only: bool = False) -> ExchangeOrder:
        """``POST /fapi/v1/order`` type MARKET, answered with the fill (newOrderRespType=RESULT)."""
        params = [("symbol", symbol), ("side", side), ("type", "MARKET"),
                  ("quantity", decimal_text(quantity)), ("newClientOrderId", client_order_id)]
        if reduce_only:
            params.append(("reduceOnly", "true"))
        params.append(("newOrderRespType", "RESULT"))
        return ExchangeOrder.from_json(self._call("POST", "/fapi/v1/order", params, action="the order"))

    def order(self, *, symbol: str, client_order_id: str | None = None,
              order_id: str | None = None) -> ExchangeOrder | None:
        """``GET /fapi/v1/order``; None when the venue does not know it (-2013)."""
        params = [("symbol", symbol), _id_param(order_id, client_order_id, "orderId", "origClientOrderId")]
        body = self._call_or_none(ORDER_UNKNOWN_CODES, "GET", "/fapi/v1/order", params, "the order lookup")
        return None if body is None else ExchangeOrder.from_json(body)

    def cancel_order(self, *, symbol: str, client_order_id: str | None = None,
                     order_id: str | None = None) -> ExchangeOrder | None:
        """``DELETE /fapi/v1/order``; None when unknown or already final (-2011)."""
        params = [("symbol", symbol), _id_param(order_id, client_order_id, "orderId", "origClientOrderId")]
        body = self._call_or_none({CANCEL_UNKNOWN_CODE}, "DELETE", "/fapi/v1/order", params,
                                  "the order cancellation")
        return None if body is None else ExchangeOrder.from_json(body)

    def open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]:
        """``GET /fapi/v1/openOrders``: every order still NEW."""
        params = [("symbol", symbol)] if symbol else []
        return [ExchangeOrder.from_json(o)
                for o in self._call("GET", "/fapi/v1/openOrders", params, action="the open orders")]

    # --- conditional orders (stop-loss, take-profit) ---

    def conditional_order(self, *, symbol: str, side: str, type: str, trigger_price: Decimal,
                          client_id: str) -> ConditionalOrder:
        """A mark-price trigger that closes the whole position: ``POST /fapi/v1/order`` (classic)
        or ``POST /fapi/v1/algoOrder`` (algo), per ``conditional_api``."""
        if type not in CONDITIONAL_TYPES:
            raise ValueError(f"a conditional order is STOP_MARKET or TAKE_PROFIT_MARKET, not {type!r}")
        action = "the conditional order"
        price = decimal_text(trigger_price)
        if self.conditional_api == "classic":
            params = [("symbol", symbol), ("side", side), ("type", type), ("stopPrice", price),
                      ("closePosition", "true"), ("workingType", "MARK_PRICE"),
                      ("newClientOrderId", client_id)]
            body = self._call("POST", "/fapi/v1/order", params, action=action)
            return ConditionalOrder.from_order_json(body)
        params = [("algoType", "CONDITIONAL"), ("symbol", symbol), ("side", side), ("type", type),
                  ("triggerPrice", price), ("closePosition", "true"), ("workingType", "MARK_PRICE"),
                  ("clientAlgoId", client_id)]
        return ConditionalOrder.from_algo_json(self._call("POST", "/fapi/v1/algoOrder", params,
                                                          action=action))

    def conditional(self, *, symbol: str, client_id: str) -> ConditionalOrder | None:
        """The conditional order by its client id; None when the venue does not know it (-2013)."""
        action = "the conditional order lookup"
        if self.conditional_api == "classic":
            body = self._call_or_none(ORDER_UNKNOWN_CODES, "GET", "/fapi/v1/order",
                                      [("symbol", symbol), ("origClientOrderId", client_id)], action)
            return None if body is None else ConditionalOrder.from_order_json(body)
        body = self._call_or_none(ORDER_UNKNOWN_CODES, "GET", "/fapi/v1/algoOrder",
                                  [("clientAlgoId", client_id)], action)
        return None if body is None else ConditionalOrder.from_algo_json(body)

    def cancel_conditional(self, *, symbol: str, order_id: str | None = None,
                           client_id: str | None = None) -> bool:
        """Cancel a conditional order; False when it is unknown or already final (-2011)."""
        if self.conditional_api == "classic":
            path = "/fapi/v1/order"
            params = [("symbol", symbol), _id_param(order_id, client_id, "orderId", "origClientOrderId")]
        else:
            path, params = "/fapi/v1/algoOrder", [_id_param(order_id, client_id, "algoId", "clientAlgoId")]
        return self._call_or_none({CANCEL_UNKNOWN_CODE}, "DELETE", path, params,
                                  "the conditional order cancellation") is not None

    def open_conditionals(self, symbol: str | None = None) -> list[ConditionalOrder]:
        """The conditional orders still waiting for their trigger (status NEW)."""
        params = [("symbol", symbol)] if symbol else []
        if self.conditional_api == "classic":
            orders = self._call("GET", "/fapi/v1/openOrders", params, action="the open conditional orders")
            return [ConditionalOrder.from_order_json(o) for o in orders if o.get("type") in CONDITIONAL_TYPES]
        return [ConditionalOrder.from_algo_json(o) for o in self._call(
            "GET", "/fapi/v1/openAlgoOrders", params, action="the open conditional orders")]

    # --- history ---

    def user_trades(self, *, symbol: str, order_id: str | None = None, start_time: datetime | None = None,
                    from_id: str | None = None, limit: int = 500) -> list[UserTrade]:
        """``GET /fapi/v1/userTrades``: the account's fills in ``symbol``, oldest first."""
        params = _present([("symbol", symbol), ("orderId", order_id), ("startTime", _ms(start_time)),
                           ("fromId", from_id), ("limit", str(limit))])
        return [UserTrade.from_json(t)
                for t in self._call("GET", "/fapi/v1/userTrades", params, action="the trade history")]

    def income(self, *, symbol: str | None = None, income_type: str | None = None,
               start_time: datetime | None = None, end_time: datetime | None = None,
               limit: int = 1000) -> list[Income]:
        """``GET /fapi/v1/income``: realized PnL, commissions, funding, transfers…, oldest first."""
        params = _present([("symbol", symbol), ("incomeType", income_type), ("startTime", _ms(start_time)),
                           ("endTime", _ms(end_time)), ("limit", str(limit))])
        return [Income.from_json(i)
                for i in self._call("GET", "/fapi/v1/income", params, action="the income history")]

    def income_since(self, start_time: datetime, *, end_time: datetime | None = None) -> list[Income]:
        """Every income record from ``start_time`` on, page after page until a short page.

        The next page starts at the last record's time (records written in the same millisecond,
        such as a fill's commission and realized PnL, may straddle pages), and records already
        seen are dropped by ``tranId``. Only a full page within one millisecond moves the start
        one millisecond past it, so the loop always advances.
        """
        seen: set[str] = set()
        records: list[Income] = []
        start = start_time
        while True:
            page = self.income(start_time=start, end_time=end_time, limit=INCOME_PAGE)
            for record in page:
                if record.tran_id not in seen:
                    seen.add(record.tran_id)
                    records.append(record)
            if len(page) < INCOME_PAGE:
                return records
            last = page[-1].time
            start = last if last > start else datetime.fromtimestamp(
                (int(last.timestamp() * 1000) + 1) / 1000, tz=UTC)
