"""The arithmetic of USDT-margined perpetual futures, ORM-free and all ``Decimal``.

Formulas follow Binance USDT-M futures (Binance Academy and the Binance Futures
FAQ: "How to Calculate Liquidation Price", "Leverage and Margin", "Introduction to
Funding Rates"). Positions use ISOLATED margin: ``margin`` is the USDT locked for one
position and is all it can lose.

Every function refuses floats with ``TypeError``: a float price has already lost
the digits the ledger needs, so guessing at them would hide a bug upstream.
``int`` is accepted (``leverage=10``) because it converts to ``Decimal`` exactly.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from ledger.values import MONEY_QUANTUM  # USDT amounts: the journal's precision, 1e-8

LONG = "LONG"
SHORT = "SHORT"
SIDES = (LONG, SHORT)

# Trigger kinds, spelled like trading.models.CloseReason so a Trigger's kind can be
# stored as the close reason unchanged.
STOP_LOSS = "stop_loss"
TAKE_PROFIT = "take_profit"
LIQUIDATION = "liquidation"
TRIGGER_KINDS = (STOP_LOSS, TAKE_PROFIT, LIQUIDATION)

# The precision of the columns these values end up in (trading.models PRICE and
# QUANTITY: 12 places; the ledger: 8). Rounding here, in a known direction, keeps the
# database from rounding later in an unknown one.
PRICE_QUANTUM = Decimal("1e-12")
QUANTITY_QUANTUM = Decimal("1e-12")

BPS = Decimal("10000")
FUNDING_INTERVAL = timedelta(hours=8)


def as_decimal(name: str, value: object) -> Decimal:
    """``value`` as a finite ``Decimal``; floats (and bools) raise ``TypeError``."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__} ({value!r})")
    result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"{name} must be a finite number, not {result}")
    return result


def _positive(name: str, value: object) -> Decimal:
    result = as_decimal(name, value)
    if result <= 0:
        raise ValueError(f"{name} must be positive, not {result}")
    return result


def _side(side: str) -> str:
    if side not in SIDES:
        raise ValueError(f"side must be LONG or SHORT, not {side!r}")
    return str(side)


def round_to(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    """``value`` rounded to a whole number of ``step`` in the given ``decimal`` rounding mode."""
    step = _positive("step", step)
    return (as_decimal("value", value) / step).to_integral_value(rounding=rounding) * step


def round_money(value: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """``value`` at the ledger's 8 places (half-even by default, as ``ledger.services.money``)."""
    return as_decimal("value", value).quantize(MONEY_QUANTUM, rounding=rounding)


# --- size and cost -------------------------------------------------------------------


def notional(price: Decimal, quantity: Decimal) -> Decimal:
    """Position value in USDT: ``price × quantity``."""
    return as_decimal("price", price) * as_decimal("quantity", quantity)


def quantity_for(
    margin: Decimal, leverage: Decimal | int, price: Decimal, step_size: Decimal | None = None
) -> Decimal:
    """Contracts bought with ``margin`` at ``leverage``: ``margin × leverage / price``.

    Rounded DOWN to ``step_size`` (the symbol's LOT_SIZE filter) when given, else to
    the quantity column's 12 places: never up, so ``quantity × price / leverage`` never
    exceeds the margin that pays for it.
    """
    raw = _positive("margin", margin) * _positive("leverage", leverage) / _positive("price", price)
    return round_to(raw, step_size if step_size is not None else QUANTITY_QUANTUM, ROUND_DOWN)


def fee(notional: Decimal, rate: Decimal) -> Decimal:
    """Taker fee of one fill: ``notional × rate``, unrounded.

    Binance USDT-M charges the regular-tier taker 0.05% (``rate=Decimal("0.0005")``) on the
    filled notional, at the open and again at the close.
    """
    rate = as_decimal("rate", rate)
    if rate < 0:
        raise ValueError(f"fee rate must not be negative, not {rate}")
    return as_decimal("notional", notional) * rate


def is_buy(side: str, opening: bool) -> bool:
    """Opening a LONG or closing a SHORT buys; opening a SHORT or closing a LONG sells."""
    return (_side(side) == LONG) == opening


def fill_price(
    price: Decimal,
    side: str,
    opening: bool,
    slippage_bps: Decimal,
    tick_size: Decimal | None = None,
) -> Decimal:
    """The price a market order fills at: ``price × (1 ± slippage_bps / 10000)``.

    Slippage is always against the trader: a buy pays more, a sell gets less. The
    result is rounded to ``tick_size`` (PRICE_FILTER), again against the trader (a buy
    up, a sell down), or to the price column's 12 places when no tick is known.
    """
    price = _positive("price", price)
    bps = as_decimal("slippage_bps", slippage_bps)
    if bps < 0:
        raise ValueError(f"slippage must not be negative, not {bps}")
    tick = tick_size if tick_size is not None else PRICE_QUANTUM
    if is_buy(side, opening):
        return round_to(price * (1 + bps / BPS), tick, ROUND_CEILING)
    filled = round_to(price * (1 - bps / BPS), tick, ROUND_FLOOR)
    if filled <= 0:
        raise ValueError(f"a sell at {price} with {bps} bps slippage rounds to {filled} at tick {tick}")
    return filled


# --- profit and loss -----------------------------------------------------------------


def unrealized_pnl(side: str, entry_price: Decimal, mark_price: Decimal, quantity: Decimal) -> Decimal:
    """Binance: LONG ``quantity × (mark − entry)``; SHORT ``quantity × (entry − mark)``."""
    move = as_decimal("mark_price", mark_price) - as_decimal("entry_price", entry_price)
    direction = 1 if _side(side) == LONG else -1
    return direction * as_decimal("quantity", quantity) * move


def pnl_pct_of_margin(pnl: Decimal, margin: Decimal) -> Decimal:
    """Return on margin in percent (Binance's "ROE"): ``pnl / margin × 100``."""
    return as_decimal("pnl", pnl) / _positive("margin", margin) * 100


def maintenance_margin(notional: Decimal, mmr: Decimal, maintenance_amount: Decimal) -> Decimal:
    """Binance: ``notional × maintenance margin rate − maintenance amount (cum)``."""
    return as_decimal("notional", notional) * as_decimal("mmr", mmr) - as_decimal(
        "maintenance_amount", maintenance_amount
    )


def liquidation_price(
    side: str,
    entry_price: Decimal,
    quantity: Decimal,
    margin: Decimal,
    mmr: Decimal,
    maintenance_amount: Decimal,
) -> Decimal:
    """The mark price at which an ISOLATED position is liquidated (Binance USDT-M).

    Liquidation happens when margin + unrealized PnL falls to the maintenance margin
    ``quantity × P × mmr − cum``. Solving for P (Binance's formula with one isolated
    position: LP = (WB + cum − side × Q × EP) / (Q × MMR − side × Q)):

    - LONG:  margin + Q(P − E) = Q·P·mmr − cum  →  P = (Q·E − margin − cum) / (Q(1 − mmr))
    - SHORT: margin + Q(E − P) = Q·P·mmr − cum  →  P = (Q·E + margin + cum) / (Q(1 + mmr))

    ``mmr`` and ``cum`` are the symbol's bracket for the position's notional
    (``trading.tiers.maintenance``). A LONG whose margin covers every price down to
    zero gets 0, never a negative price. Unrounded: round toward the entry (earlier)
    if a tick is wanted.
    """
    entry = _positive("entry_price", entry_price)
    qty = _positive("quantity", quantity)
    margin = _positive("margin", margin)
    mmr = as_decimal("mmr", mmr)
    cum = as_decimal("maintenance_amount", maintenance_amount)
    if not 0 <= mmr < 1:
        raise ValueError(f"maintenance margin rate must be in [0, 1), not {mmr}")
    if _side(side) == LONG:
        return max(Decimal(0), (qty * entry - margin - cum) / (qty * (1 - mmr)))
    return (qty * entry + margin + cum) / (qty * (1 + mmr))


# --- triggers ------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """The prices seen over one interval: a candle, or a move between two refreshes."""

    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal

    def __post_init__(self) -> None:
        for name in ("open", "high", "low", "close"):
            _positive(name, getattr(self, name))
        if not self.low <= min(self.open, self.close) <= max(self.open, self.close) <= self.high:
            raise ValueError(f"inconsistent bar: {self}")

    @classmethod
    def move(cls, previous: Decimal, current: Decimal) -> Bar:
        """A refresh-to-refresh move: the path is assumed to go straight from one to the other."""
        return cls(previous, max(previous, current), min(previous, current), current)


@dataclass(frozen=True)
class Trigger:
    """What closes a position inside a bar, and the price it fills at."""

    kind: str  # STOP_LOSS, TAKE_PROFIT or LIQUIDATION (CloseReason values)
    price: Decimal
    gapped: bool = False  # the bar opened beyond the level: filled at the open


def crossed(side: str, kind: str, trigger_price: Decimal, low: Decimal, high: Decimal) -> bool:
    """Whether a bar with this ``low``/``high`` reached the trigger.

    Stop-loss and liquidation sit on the losing side (LONG: low ≤ level; SHORT:
    high ≥ level), take-profit on the winning side (LONG: high ≥ level; SHORT: low ≤ level).
    """
    if kind not in TRIGGER_KINDS:
        raise ValueError(f"trigger kind must be one of {TRIGGER_KINDS}, not {kind!r}")
    level = as_decimal("trigger_price", trigger_price)
    low, high = as_decimal("low", low), as_decimal("high", high)
    falls = (_side(side) == LONG) == (kind != TAKE_PROFIT)  # is the trigger below the price?
    return low <= level if falls else high >= level


def _beyond(side: str, kind: str, level: Decimal, price: Decimal) -> bool:
    """Whether a single price is at or past a trigger level."""
    return crossed(side, kind, level, price, price)


def first_trigger(
    side: str,
    bar: Bar,
    *,
    stop_loss: Decimal | None = None,
    take_profit: Decimal | None = None,
    liquidation_price: Decimal | None = None,
) -> Trigger | None:
    """Which of stop-loss, take-profit and liquidation closes the position in ``bar``, and where.

    A bar tells the range, not the path, so the choices are conservative and fixed:

    1. Gaps. A bar that OPENS at or beyond a level fills at the open: the first price
       anyone could trade at. For a stop or a liquidation that is worse than the level
       (a stop-market order slips through a gap); for a take-profit it is better, and
       the trader keeps the better open. An open beyond the liquidation price
       liquidates even when a stop sits nearer: the stop would fill at the same price
       and the margin no longer covers the maintenance margin there.
    2. Adverse first. When a stop or liquidation and a take-profit are both inside one
       bar, the adverse one is assumed to have happened first.
    3. On the adverse path the nearer level fires first: for a LONG, liquidation when
       liq ≥ stop-loss (ties go to liquidation), else the stop. Levels fill exactly at
       the level (a paper engine has no order book to slip through).

    Returns ``None`` when nothing fired. The liquidation fill may lie beyond the
    bankruptcy price after a gap; capping the loss at the margin is the caller's job.
    """
    _side(side)
    adverse = [
        (kind, as_decimal(kind, level))
        for kind, level in ((LIQUIDATION, liquidation_price), (STOP_LOSS, stop_loss))
        if level is not None and level > 0  # a clamped LONG liquidation price of 0 never fires
    ]
    # Nearest to the price first: the highest level for a LONG, the lowest for a SHORT.
    # sorted() is stable, so liquidation (listed first) wins a tie.
    adverse.sort(key=lambda item: item[1], reverse=side == LONG)
    tp = as_decimal(TAKE_PROFIT, take_profit) if take_profit is not None else None

    for kind, level in sorted(adverse, key=lambda item: item[0] != LIQUIDATION):
        if _beyond(side, kind, level, bar.open):
            return Trigger(kind, bar.open, gapped=True)
    if tp is not None and _beyond(side, TAKE_PROFIT, tp, bar.open):
        return Trigger(TAKE_PROFIT, bar.open, gapped=True)
    for kind, level in adverse:
        if crossed(side, kind, level, bar.low, bar.high):
            return Trigger(kind, level)
    if tp is not None and crossed(side, TAKE_PROFIT, tp, bar.low, bar.high):
        return Trigger(TAKE_PROFIT, tp)
    return None


# --- funding -------------------------------------------------------------------------


def funding_payment(side: str, mark_price: Decimal, quantity: Decimal, rate: Decimal) -> Decimal:
    """This position's funding, signed for its balance: ``∓ mark × quantity × rate``.

    Binance: funding = position notional (at the mark price) × funding rate; a
    positive rate means longs pay shorts. So a LONG gets ``−notional × rate`` and a
    SHORT ``+notional × rate``; a negative rate reverses both. Unrounded.
    """
    amount = notional(mark_price, quantity) * as_decimal("rate", rate)
    return -amount if _side(side) == LONG else amount


def _utc(name: str, at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, not naive ({at!r})")
    return at.astimezone(UTC)


def last_funding_time(at: datetime) -> datetime:
    """The latest funding time at or before ``at``: Binance settles at 00:00, 08:00 and 16:00 UTC."""
    at = _utc("at", at)
    return at.replace(hour=at.hour - at.hour % 8, minute=0, second=0, microsecond=0)


def funding_times_between(start: datetime, end: datetime) -> Iterator[datetime]:
    """Every funding time ``t`` (UTC) with ``start < t ≤ end``, oldest first.

    Half-open so consecutive windows ``(a, b]``, ``(b, c]`` charge each funding once.
    """
    # Validate now, not at the first next(): a naive datetime is a caller's bug.
    return _funding_times(last_funding_time(start) + FUNDING_INTERVAL, _utc("end", end))


def _funding_times(first: datetime, end: datetime) -> Iterator[datetime]:
    t = first
    while t <= end:
        yield t
        t += FUNDING_INTERVAL
