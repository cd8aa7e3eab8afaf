"""What the exchange answers, parsed into frozen values the broker can trust.

Numbers arrive as decimal strings and become ``Decimal`` (never through float); ids arrive as
JSON integers and become strings, so a venue with string ids fits the same type; times are
milliseconds since the epoch and become aware UTC datetimes. A missing mandatory field raises
``KeyError``: an answer we do not understand must not become a made-up zero.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

CONDITIONAL_TYPES = ("STOP_MARKET", "TAKE_PROFIT_MARKET")


def number(value: Any) -> Decimal:
    """A venue number (a decimal string, or an int) as a ``Decimal``."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"expected a number as a string, got {value!r}")
    result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def optional_number(value: Any) -> Decimal | None:
    """None when absent, empty or zero: the venue's way of saying "no price"."""
    if value in (None, ""):
        return None
    result = number(value)
    return None if result == 0 else result


def ms_time(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def flag(value: Any) -> bool:
    """JSON booleans, and the strings "true"/"false" some fields use."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def optional_id(value: Any) -> str | None:
    return None if value in (None, "", 0, "0") else str(value)


@dataclass(frozen=True)
class SymbolRules:
    symbol: str
    status: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal | None
    min_notional: Decimal

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SymbolRules:
        """One entry of ``exchangeInfo.symbols``. Market orders obey MARKET_LOT_SIZE when the
        venue sends one (its maxQty is lower than LOT_SIZE's), otherwise LOT_SIZE."""
        filters = {f.get("filterType"): f for f in data.get("filters", [])}
        lot = filters.get("LOT_SIZE", {})
        market = filters.get("MARKET_LOT_SIZE") or {}
        if not market or number(market.get("stepSize", "0")) == 0:
            market = lot
        notional = filters.get("MIN_NOTIONAL", {})
        return cls(
            symbol=data["symbol"],
            status=data["status"],
            tick_size=number(filters.get("PRICE_FILTER", {}).get("tickSize", "0")),
            step_size=number(market.get("stepSize", "0")),
            min_qty=number(market.get("minQty", "0")),
            max_qty=optional_number(market.get("maxQty")),
            min_notional=number(notional.get("notional", notional.get("minNotional", "0"))),
        )


@dataclass(frozen=True)
class ExchangeOrder:
    order_id: str
    client_order_id: str
    symbol: str
    side: str
    type: str
    status: str
    orig_qty: Decimal
    executed_qty: Decimal
    avg_price: Decimal | None
    reduce_only: bool
    close_position: bool
    stop_price: Decimal | None
    update_time: datetime

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExchangeOrder:
        return cls(
            order_id=str(data["orderId"]),
            client_order_id=data["clientOrderId"],
            symbol=data["symbol"],
            side=data["side"],
            type=data["type"],
            status=data["status"],
            orig_qty=number(data["origQty"]),
            executed_qty=number(data["executedQty"]),
            avg_price=optional_number(data.get("avgPrice")),
            reduce_only=flag(data.get("reduceOnly", False)),
            close_position=flag(data.get("closePosition", False)),
            stop_price=optional_number(data.get("stopPrice")),
            update_time=ms_time(data.get("updateTime", data.get("time"))),
        )


@dataclass(frozen=True)
class ConditionalOrder:
    """A stop-loss or take-profit that closes the position: a classic order or an algo order."""

    order_id: str
    client_id: str
    symbol: str
    side: str
    type: str
    status: str
    trigger_price: Decimal
    algo: bool
    actual_order_id: str | None

    @property
    def open(self) -> bool:
        return self.status == "NEW"

    @classmethod
    def from_order_json(cls, data: dict[str, Any]) -> ConditionalOrder:
        """A classic STOP_MARKET/TAKE_PROFIT_MARKET order object."""
        return cls(
            order_id=str(data["orderId"]), client_id=data["clientOrderId"], symbol=data["symbol"],
            side=data["side"], type=data.get("origType") or data["type"], status=data["status"],
            trigger_price=number(data["stopPrice"]), algo=False, actual_order_id=None,
        )

    @classmethod
    def from_algo_json(cls, data: dict[str, Any]) -> ConditionalOrder:
        """An algo object (``/fapi/v1/algoOrder``); ``actualOrderId`` once it has triggered."""
        return cls(
            order_id=str(data["algoId"]), client_id=data["clientAlgoId"], symbol=data["symbol"],
            side=data["side"], type=data["orderType"], status=data["algoStatus"],
            trigger_price=number(data["triggerPrice"]), algo=True,
            actual_order_id=optional_id(data.get("actualOrderId")),
        )


@dataclass(frozen=True)
class ExchangePosition:
    symbol: str
    amount: Decimal
    entry_price: Decimal
    mark_price: Decimal
    unrealized_pnl: Decimal
    liquidation_price: Decimal | None
    leverage: int
    margin_type: str
    isolated_margin: Decimal  # Binance's: the margin plus the unrealized PnL
    position_side: str
    update_time: datetime
    isolated_wallet: Decimal = Decimal(0)  # the margin the exchange holds for the position

    @property
    def side(self) -> str | None:
        """LONG or SHORT from the signed amount; None when flat."""
        if self.amount > 0:
            return "LONG"
        return "SHORT" if self.amount < 0 else None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExchangePosition:
        return cls(
            symbol=data["symbol"],
            amount=number(data["positionAmt"]),
            entry_price=number(data["entryPrice"]),
            mark_price=number(data["markPrice"]),
            unrealized_pnl=number(data["unRealizedProfit"]),
            liquidation_price=optional_number(data.get("liquidationPrice")),
            leverage=int(data["leverage"]),
            margin_type=data.get("marginType", ""),
            isolated_margin=number(data.get("isolatedMargin", "0")),
            position_side=data.get("positionSide", "BOTH"),
            update_time=ms_time(data.get("updateTime", 0)),
            isolated_wallet=number(data.get("isolatedWallet", "0")),
        )


@dataclass(frozen=True)
class Balance:
    asset: str
    balance: Decimal
    available_balance: Decimal
    cross_unrealized_pnl: Decimal
    update_time: datetime | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Balance:
        return cls(
            asset=data["asset"],
            balance=number(data["balance"]),
            available_balance=number(data["availableBalance"]),
            cross_unrealized_pnl=number(data.get("crossUnPnl", "0")),
            update_time=ms_time(data["updateTime"]) if data.get("updateTime") else None,
        )

    @classmethod
    def empty(cls, asset: str) -> Balance:
        """An asset the venue does not list for the account: nothing deposited yet."""
        return cls(asset=asset, balance=Decimal(0), available_balance=Decimal(0),
                   cross_unrealized_pnl=Decimal(0), update_time=None)


@dataclass(frozen=True)
class UserTrade:
    trade_id: str
    order_id: str
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    realized_pnl: Decimal
    commission: Decimal
    commission_asset: str
    time: datetime

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UserTrade:
        return cls(
            trade_id=str(data["id"]), order_id=str(data["orderId"]), symbol=data["symbol"],
            side=data["side"], price=number(data["price"]), qty=number(data["qty"]),
            quote_qty=number(data["quoteQty"]), realized_pnl=number(data["realizedPnl"]),
            commission=number(data["commission"]), commission_asset=data["commissionAsset"],
            time=ms_time(data["time"]),
        )


@dataclass(frozen=True)
class Income:
    tran_id: str
    symbol: str
    income_type: str
    amount: Decimal
    asset: str
    time: datetime
    trade_id: str
    info: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Income:
        trade_id = data.get("tradeId")
        return cls(
            tran_id=str(data["tranId"]), symbol=data.get("symbol") or "", income_type=data["incomeType"],
            amount=number(data["income"]), asset=data["asset"], time=ms_time(data["time"]),
            trade_id="" if trade_id in (None, "", 0) else str(trade_id), info=data.get("info") or "",
        )


@dataclass(frozen=True)
class ApiRestrictions:
    enable_withdrawals: bool
    enable_futures: bool
    enable_reading: bool
    ip_restrict: bool

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ApiRestrictions:
        return cls(
            enable_withdrawals=flag(data.get("enableWithdrawals", False)),
            enable_futures=flag(data.get("enableFutures", False)),
            enable_reading=flag(data.get("enableReading", False)),
            ip_restrict=flag(data.get("ipRestrict", False)),
        )
