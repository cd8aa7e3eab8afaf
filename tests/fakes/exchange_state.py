"""The in-memory book of the fake futures exchange (tests/fakes/exchange.py): balances,
isolated positions, market fills, conditional orders, liquidation, funding and transfers,
with the money arithmetic of /work/briefs/exchange_wire.md in Decimal.

Kept apart from the HTTP shell so the arithmetic reads on its own. Orders, algo orders,
trades and income are stored as the JSON rows the wire serves (strings for numbers), so
what a test reads is exactly what a client receives. Every public method takes ``lock``:
requests arrive on many server threads at once.
"""
from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

EIGHT = Decimal("0.00000001")
MMR = Decimal("0.004")  # maintenance margin rate of the liquidation formula
ALGO_ID_START = 100000  # far from orderIds (from 1000), so a test mixing them up fails

DEFAULT_SYMBOLS: dict[str, dict[str, Any]] = {
    "BTCUSDT": {"tick": "0.10", "step": "0.001", "min_notional": "100", "price": "60000"},
    "ETHUSDT": {"tick": "0.01", "step": "0.001", "min_notional": "20", "price": "3000"},
    "SOLUSDT": {"tick": "0.010", "step": "1", "min_notional": "5", "price": "150"},
}


class ExchangeError(Exception):
    """A refusal as the venue answers it: HTTP ``status`` with ``{"code", "msg"}``."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(f"{code} {msg}")
        self.code, self.msg, self.status = code, msg, status


def mandatory(name: str) -> ExchangeError:
    return ExchangeError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


@dataclass
class SymbolSpec:
    symbol: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    min_notional: Decimal
    price: Decimal  # mark = last: the fake has one price per symbol
    max_qty: Decimal = Decimal("1000")
    market_max_qty: Decimal = Decimal("120")
    leverage: int = 20
    margin_type: str = "CROSSED"  # the venue's default until the client asks for ISOLATED
    funding_rate: Decimal = Decimal("0.0001")

    @classmethod
    def from_config(cls, symbol: str, cfg: dict[str, Any]) -> SymbolSpec:
        step = Decimal(str(cfg["step"]))
        extra = {k: Decimal(str(cfg[k])) for k in ("max_qty", "market_max_qty") if k in cfg}
        return cls(symbol, Decimal(str(cfg["tick"])), step, Decimal(str(cfg.get("min_qty", step))),
                   Decimal(str(cfg["min_notional"])), Decimal(str(cfg["price"])),
                   leverage=int(cfg.get("leverage", 20)), **extra)


@dataclass
class FakePosition:
    amount: Decimal  # signed: + long, − short
    entry_price: Decimal
    margin: Decimal  # isolated margin, part of the wallet balance, not of the available one
    leverage: int
    opened_at: int  # ms


@dataclass(frozen=True)
class FillMath:
    position: FakePosition | None  # after the fill (None when flat)
    pnl: Decimal  # realized on the reduced part, unrounded
    released: Decimal  # margin freed by the reduced part
    added: Decimal  # margin locked by the opened/added part
    reduced: bool


def places(value: Decimal) -> int:
    return max(0, -int(value.as_tuple().exponent))


def fmt(value: Decimal, decimals: int) -> str:
    """``value`` with at least ``decimals`` places and never rounded (more when it has them)."""
    value = Decimal(value)
    if places(value) <= decimals:
        value = value.quantize(Decimal(1).scaleb(-decimals))
    return format(value, "f")


def q8(value: Decimal) -> Decimal:
    """Commission and realized PnL as Binance's strings carry them: 8 places, half up."""
    return value.quantize(EIGHT, ROUND_HALF_UP)


def to_tick(value: Decimal, tick: Decimal) -> Decimal:
    return (value / tick).quantize(Decimal(1), ROUND_HALF_UP) * tick


def liquidation_price(position: FakePosition, tick: Decimal) -> Decimal:
    """Isolated, one-way: long entry × (1 − 1/lev + mmr), short entry × (1 + 1/lev − mmr)."""
    inverse = Decimal(1) / Decimal(position.leverage)
    factor = 1 - inverse + MMR if position.amount > 0 else 1 + inverse - MMR
    return to_tick(position.entry_price * factor, tick)


def fill_math(position: FakePosition | None, signed_qty: Decimal, price: Decimal, leverage: int,
              now: int) -> FillMath:
    """What a fill of ``signed_qty`` at ``price`` does to ``position`` (one-way mode: a fill
    past the position closes it and opens the rest the other way)."""
    if position is None or (position.amount > 0) == (signed_qty > 0):
        if position is None:
            new = FakePosition(signed_qty, price, Decimal(0), leverage, now)
        else:
            size = abs(position.amount) + abs(signed_qty)
            entry = (position.entry_price * abs(position.amount) + price * abs(signed_qty)) / size
            new = FakePosition(position.amount + signed_qty, entry, position.margin, leverage,
                               position.opened_at)
        added = price * abs(signed_qty) / leverage
        new.margin += added
        return FillMath(new, Decimal(0), Decimal(0), added, False)
    closed = min(abs(signed_qty), abs(position.amount))
    direction = 1 if position.amount > 0 else -1
    pnl = (price - position.entry_price) * closed * direction
    released = position.margin * closed / abs(position.amount)
    rest = position.amount + signed_qty
    if rest == 0:
        return FillMath(None, pnl, released, Decimal(0), True)
    if (rest > 0) == (position.amount > 0):
        left = FakePosition(rest, position.entry_price, position.margin - released, position.leverage,
                            position.opened_at)
        return FillMath(left, pnl, released, Decimal(0), True)
    added = price * abs(rest) / leverage
    return FillMath(FakePosition(rest, price, added, leverage, now), pnl, released, added, True)


def triggers(order_type: str, side: str, trigger: Decimal, mark: Decimal) -> bool:
    """STOP_MARKET: a sell stop at mark <= trigger, a buy stop at mark >= trigger;
    TAKE_PROFIT_MARKET the other way round."""
    falling = (order_type == "STOP_MARKET") == (side == "SELL")
    return mark <= trigger if falling else mark >= trigger


def _lookup(rows: Iterable[dict], id_key: str, wanted_id: int | None, client_key: str,
            wanted_client: str | None, code: int) -> dict:
    """The row with that id (or, without one, that client id); else -2013 (a query) or
    -2011 (a cancel, which also refuses a final order)."""
    for row in rows:
        if row[id_key] == wanted_id or (wanted_id is None and row[client_key] == wanted_client):
            return row
    raise ExchangeError(code, "Order does not exist." if code == -2013 else "Unknown order sent.")


class ExchangeState:
    """The book. ``clock`` returns seconds since the epoch; the server clock is it plus
    ``server_time_offset_ms``."""

    def __init__(self, *, balance: Decimal, taker_fee: Decimal, symbols: dict[str, dict] | None,
                 clock: Callable[[], float] = time.time) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.server_time_offset_ms = 0
        self.balance = Decimal(balance)
        self.taker_fee = Decimal(taker_fee)
        self.specs = {s: SymbolSpec.from_config(s, c) for s, c in (symbols or DEFAULT_SYMBOLS).items()}
        self.positions: dict[str, FakePosition] = {}
        self.orders: dict[int, dict] = {}
        self.algo_orders: dict[int, dict] = {}
        self.trades: list[dict] = []
        self.income: list[dict] = []
        self._order_ids, self._algo_ids = itertools.count(1000), itertools.count(ALGO_ID_START)
        self._trade_ids, self._tran_ids = itertools.count(1), itertools.count(1)
        self._web, self._autoclose, self._auto_ids = (itertools.count(1) for _ in range(3))

    def now_ms(self) -> int:
        return int(self.clock() * 1000) + self.server_time_offset_ms

    @property
    def available_balance(self) -> Decimal:
        return self.balance - sum((p.margin for p in self.positions.values()), Decimal(0))

    def spec(self, symbol: str | None) -> SymbolSpec:
        if not symbol:
            raise mandatory("symbol")
        if symbol not in self.specs:
            raise ExchangeError(-1121, "Invalid symbol.")
        return self.specs[symbol]

    # --- orders -------------------------------------------------------------------------

    def market(self, *, symbol: str, side: str, quantity: Decimal, client_id: str | None,
               reduce_only: bool = False) -> dict:
        """A MARKET order, validated as the venue does, filled whole at the current price."""
        with self.lock:
            spec = self.spec(symbol)
            client_id = self._new_client_id(client_id, self._order_clients())
            if quantity % spec.step != 0:
                raise ExchangeError(-1111, "Precision is over the maximum defined for this asset.")
            if quantity <= 0:
                raise ExchangeError(-4003, "Quantity less than or equal to zero.")
            if quantity < spec.min_qty:
                raise ExchangeError(-4004, "Quantity less than min quantity.")
            if quantity > spec.market_max_qty:
                raise ExchangeError(-4005, "Quantity greater than max quantity.")
            signed = quantity if side == "BUY" else -quantity
            position = self.positions.get(symbol)
            if reduce_only and (position is None or (position.amount > 0) == (signed > 0)
                                or quantity > abs(position.amount)):
                raise ExchangeError(-2022, "ReduceOnly Order is rejected.")
            if not reduce_only and spec.price * quantity < spec.min_notional:
                raise ExchangeError(-4164, f"Order's notional must be no smaller than {spec.min_notional}"
                                           " (unless you choose reduce only).")
            math = fill_math(position, signed, spec.price, spec.leverage, self.now_ms())
            fee = q8(spec.price * quantity * self.taker_fee)
            if math.added and self.available_balance + math.released + q8(math.pnl) < math.added + fee:
                raise ExchangeError(-2019, "Margin is insufficient.")
            order = self._new_order(spec, side, "MARKET", client_id, reduce_only=reduce_only)
            self._fill(spec, order, quantity, spec.price)
            return order

    def conditional(self, *, symbol: str, side: str, order_type: str, stop_price: Decimal,
                    client_id: str | None, working_type: str) -> dict:
        """A classic closePosition STOP_MARKET / TAKE_PROFIT_MARKET order, status NEW."""
        with self.lock:
            spec = self.spec(symbol)
            client_id = self._new_client_id(client_id, self._order_clients())
            self._check_trigger(spec, order_type, side, stop_price)
            order = self._new_order(spec, side, order_type, client_id, reduce_only=True, close=True)
            order.update(status="NEW", stopPrice=fmt(stop_price, places(spec.tick)), workingType=working_type)
            return order

    def algo(self, *, symbol: str, side: str, order_type: str, trigger_price: Decimal,
             client_id: str | None, working_type: str) -> dict:
        """An algo CONDITIONAL closePosition order, algoStatus NEW."""
        with self.lock:
            spec = self.spec(symbol)
            taken = {a["clientAlgoId"] for a in self.algo_orders.values()}
            client_id = self._new_client_id(client_id, taken)
            self._check_trigger(spec, order_type, side, trigger_price)
            now, algo_id = self.now_ms(), next(self._algo_ids)
            self.algo_orders[algo_id] = {
                "algoId": algo_id, "clientAlgoId": client_id, "algoType": "CONDITIONAL",
                "orderType": order_type, "symbol": symbol, "side": side, "positionSide": "BOTH",
                "timeInForce": "GTC", "quantity": "0", "algoStatus": "NEW",
                "triggerPrice": fmt(trigger_price, places(spec.tick)), "price": "0",
                "workingType": working_type, "priceProtect": False, "reduceOnly": True,
                "closePosition": True, "createTime": now, "updateTime": now}
            return self.algo_orders[algo_id]

    def find_order(self, symbol: str, order_id: int | None, client_id: str | None) -> dict:
        with self.lock:
            self.spec(symbol)
            rows = (o for o in self.orders.values() if o["symbol"] == symbol)
            return _lookup(rows, "orderId", order_id, "clientOrderId", client_id, -2013)

    def cancel_order(self, symbol: str, order_id: int | None, client_id: str | None) -> dict:
        with self.lock:
            self.spec(symbol)
            rows = (o for o in self.orders.values() if o["symbol"] == symbol and o["status"] == "NEW")
            order = _lookup(rows, "orderId", order_id, "clientOrderId", client_id, -2011)
            order.update(status="CANCELED", updateTime=self.now_ms())
            return order

    def find_algo(self, algo_id: int | None, client_id: str | None) -> dict:
        with self.lock:
            return _lookup(self.algo_orders.values(), "algoId", algo_id, "clientAlgoId", client_id, -2013)

    def cancel_algo(self, algo_id: int | None, client_id: str | None) -> dict:
        with self.lock:
            rows = (a for a in self.algo_orders.values() if a["algoStatus"] == "NEW")
            algo = _lookup(rows, "algoId", algo_id, "clientAlgoId", client_id, -2011)
            algo.update(algoStatus="CANCELED", updateTime=self.now_ms())
            return {"algoId": algo["algoId"], "clientAlgoId": algo["clientAlgoId"], "code": "200",
                    "msg": "success"}

    # --- the market moves -----------------------------------------------------------------

    def set_price(self, symbol: str, price: Decimal | str | int) -> None:
        """Move the mark (= last) price, then fire what the move crossed, nearest to the old
        price first (a stop above the liquidation price fires before it). A closePosition
        order crossed with nothing on its side to close EXPIRES; orphans not crossed stay NEW."""
        with self.lock:
            spec, price = self.spec(symbol), Decimal(str(price))
            old, spec.price = spec.price, price
            events: list[tuple[Decimal, int, str, dict | None, Decimal]] = []
            for order in self.orders.values():
                stop = Decimal(order["stopPrice"])
                if order["symbol"] == symbol and order["status"] == "NEW" and triggers(
                        order["type"], order["side"], stop, price):
                    events.append((abs(stop - old), len(events), "order", order, stop))
            for algo in self.algo_orders.values():
                stop = Decimal(algo["triggerPrice"])
                if algo["symbol"] == symbol and algo["algoStatus"] == "NEW" and triggers(
                        algo["orderType"], algo["side"], stop, price):
                    events.append((abs(stop - old), len(events), "algo", algo, stop))
            position = self.positions.get(symbol)
            if position is not None:
                liq = liquidation_price(position, spec.tick)
                if (price <= liq) if position.amount > 0 else (price >= liq):
                    events.append((abs(liq - old), len(events), "liquidation", None, liq))
            for _, _, kind, row, level in sorted(events, key=lambda e: (e[0], e[1])):
                self._fire(spec, kind, row, level)

    # --- internals ------------------------------------------------------------------------

    def _order_clients(self) -> set[str]:
        return {o["clientOrderId"] for o in self.orders.values()}

    def _new_client_id(self, client_id: str | None, taken: set[str]) -> str:
        if client_id in taken:
            raise ExchangeError(-4116, "ClientOrderId is duplicated.")
        return client_id or f"auto_{next(self._auto_ids)}"

    def _check_trigger(self, spec: SymbolSpec, order_type: str, side: str, trigger: Decimal) -> None:
        if trigger <= 0 or trigger % spec.tick != 0:
            raise ExchangeError(-1111, "Precision is over the maximum defined for this asset.")
        if triggers(order_type, side, trigger, spec.price):
            raise ExchangeError(-2021, "Order would immediately trigger.")

    def _new_order(self, spec: SymbolSpec, side: str, order_type: str, client_id: str, *,
                   reduce_only: bool = False, close: bool = False) -> dict:
        order_id, now = next(self._order_ids), self.now_ms()
        zero_qty = fmt(Decimal(0), places(spec.step))
        self.orders[order_id] = {
            "orderId": order_id, "symbol": spec.symbol, "status": "NEW", "clientOrderId": client_id,
            "price": "0", "avgPrice": "0", "origQty": zero_qty, "executedQty": zero_qty, "cumQuote": "0",
            "timeInForce": "GTC", "type": order_type, "reduceOnly": reduce_only, "closePosition": close,
            "side": side, "positionSide": "BOTH", "stopPrice": "0", "workingType": "CONTRACT_PRICE",
            "priceProtect": False, "origType": order_type, "time": now, "updateTime": now}
        return self.orders[order_id]

    def _fire(self, spec: SymbolSpec, kind: str, row: dict | None, level: Decimal) -> None:
        position = self.positions.get(spec.symbol)
        if kind == "liquidation":
            if position is not None:
                self._liquidate(spec, position, level)
            return
        assert row is not None
        closes = position is not None and (position.amount > 0) == (row["side"] == "SELL")
        now = self.now_ms()
        if kind == "order":
            if not closes:
                row.update(status="EXPIRED", updateTime=now)
                return
            self._fill(spec, row, abs(position.amount), level)
            return
        if not closes:
            row.update(algoStatus="EXPIRED", updateTime=now)
            return
        child = self._new_order(spec, row["side"], "MARKET", row["clientAlgoId"], reduce_only=True)
        child["origType"] = row["orderType"]
        self._fill(spec, child, abs(position.amount), level)
        row.update(algoStatus="FINISHED", actualOrderId=child["orderId"], actualPrice=child["avgPrice"],
                   triggerTime=now, updateTime=now)

    def _liquidate(self, spec: SymbolSpec, position: FakePosition, price: Decimal) -> None:
        """Closed at the liquidation price, no commission, the whole margin lost:
        REALIZED_PNL (the PnL there) + INSURANCE_CLEAR (the rest) = −margin."""
        side = "SELL" if position.amount > 0 else "BUY"
        order = self._new_order(spec, side, "MARKET", f"autoclose-{next(self._autoclose)}", reduce_only=True)
        margin = position.margin
        pnl, trade_id = self._fill(spec, order, abs(position.amount), price, commission=False)
        self._book_income(spec.symbol, "INSURANCE_CLEAR", -(margin + pnl), str(trade_id))

    def _fill(self, spec: SymbolSpec, order: dict, quantity: Decimal, price: Decimal, *,
              commission: bool = True) -> tuple[Decimal, int]:
        """Fill ``order`` whole: position, balance, one userTrades row, its income rows."""
        signed = quantity if order["side"] == "BUY" else -quantity
        math = fill_math(self.positions.get(spec.symbol), signed, price, spec.leverage, self.now_ms())
        if math.position is None:
            self.positions.pop(spec.symbol, None)
        else:
            self.positions[spec.symbol] = math.position
        pnl = q8(math.pnl)
        fee = q8(price * quantity * self.taker_fee) if commission else Decimal(0)
        trade_id, now = next(self._trade_ids), self.now_ms()
        price_text, qty_text = fmt(price, places(spec.tick)), fmt(quantity, places(spec.step))
        self.trades.append({
            "id": trade_id, "orderId": order["orderId"], "symbol": spec.symbol, "side": order["side"],
            "price": price_text, "qty": qty_text, "quoteQty": format(price * quantity, "f"),
            "realizedPnl": fmt(pnl, 8), "commission": fmt(fee, 8), "commissionAsset": "USDT", "time": now,
            "buyer": order["side"] == "BUY", "maker": False, "positionSide": "BOTH"})
        if math.reduced:
            self._book_income(spec.symbol, "REALIZED_PNL", pnl, str(trade_id))
        if fee:
            self._book_income(spec.symbol, "COMMISSION", -fee, str(trade_id))
        order.update(status="FILLED", avgPrice=price_text, origQty=qty_text, executedQty=qty_text,
                     cumQuote=format(price * quantity, "f"), updateTime=now)
        return pnl, trade_id

    def _book_income(self, symbol: str, income_type: str, amount: Decimal, trade_id: str) -> None:
        self.balance += amount
        self.income.append({"symbol": symbol, "incomeType": income_type, "income": fmt(amount, 8),
                            "asset": "USDT", "info": "", "time": self.now_ms(),
                            "tranId": next(self._tran_ids), "tradeId": trade_id})
