"""Risk rules for opening and closing paper positions, ORM-free.

``check_open`` turns a bot's request into either an ``OpenPlan`` (every number the
engine writes) or a rejection, and explains each adjustment and rejection in a
sentence the bot reads back in its next prompt. The first rejection ends the check;
adjustments made before it stay in the notes. ``check_close`` finds the position a
close means. Callers build the frozen views from the database; nothing here touches it.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any

from trading import perps, tiers
from trading.perps import LONG, MONEY_QUANTUM, PRICE_QUANTUM, SIDES, as_decimal

# The smallest margin a position may open with (the legacy's 50 USDT): the default of
# ArenaSettings.min_trade_usdt, and what the scripted strategies size to at least.
MIN_TRADE_USDT = Decimal("50")


@dataclass(frozen=True)
class RiskSettings:
    """The arena-wide limits; defaults are ``arena.models.ArenaSettings``'s."""

    min_trade_usdt: Decimal = MIN_TRADE_USDT
    taker_fee_rate: Decimal = Decimal("0.0005")
    slippage_bps: Decimal = Decimal("1")
    max_open_positions: int = 6
    cooldown_minutes: int = 30
    enforce_cooldown: bool = False
    fallback_mmr: Decimal | None = Decimal("0.005")  # for symbols without a tier table

    def __post_init__(self) -> None:
        for name in ("min_trade_usdt", "taker_fee_rate", "slippage_bps"):
            as_decimal(name, getattr(self, name))  # floats refused here, not deep in a formula
        if self.fallback_mmr is not None:
            as_decimal("fallback_mmr", self.fallback_mmr)

    @classmethod
    def from_arena_settings(cls, row: Any) -> RiskSettings:
        """From an ``ArenaSettings`` row (read by attribute, so this module imports no model)."""
        return cls(
            min_trade_usdt=row.min_trade_usdt,
            taker_fee_rate=row.taker_fee_rate,
            slippage_bps=row.slippage_bps,
            max_open_positions=row.max_open_positions_per_bot,
            cooldown_minutes=row.cooldown_minutes,
            enforce_cooldown=row.enforce_cooldown,
            fallback_mmr=row.maintenance_margin_rate,
        )

    def cooldown_until(self, closed_at: datetime) -> datetime:
        """When a symbol a bot just closed on may be opened again."""
        return closed_at + timedelta(minutes=self.cooldown_minutes)


@dataclass(frozen=True)
class MarketView:
    symbol: str
    price: Decimal  # the price a market order starts from (before slippage)
    tick_size: Decimal | None = None
    step_size: Decimal | None = None
    is_stale: bool = False
    listed: bool = True


@dataclass(frozen=True)
class OpenPositionView:
    id: Any
    symbol: str
    side: str
    margin: Decimal
    leverage: int
    quantity: Decimal
    entry_price: Decimal


@dataclass(frozen=True)
class PortfolioView:
    available_balance: Decimal  # cash not locked as margin
    open_positions: tuple[OpenPositionView, ...] = ()
    cooldowns: Mapping[str, datetime] = field(default_factory=dict)  # symbol → until


@dataclass(frozen=True)
class OpenRequest:
    symbol: str
    side: str
    margin: Decimal
    leverage: Decimal | int
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None


@dataclass(frozen=True)
class CloseRequest:
    """Names a position by id, or by symbol (and side when both sides are open)."""

    position_id: Any = None
    symbol: str | None = None
    side: str | None = None


@dataclass(frozen=True)
class OpenPlan:
    """Everything the engine writes for an approved open."""

    symbol: str
    side: str
    margin: Decimal  # USDT locked, 8 places
    leverage: int
    quantity: Decimal
    fill_price: Decimal  # the entry price, slippage included
    notional: Decimal  # quantity × fill_price
    fee: Decimal  # taker fee on the notional, 8 places
    mmr: Decimal
    maintenance_amount: Decimal
    liquidation_price: Decimal  # rounded toward the entry: fires no later than the exact price
    stop_loss: Decimal | None
    take_profit: Decimal | None


@dataclass(frozen=True)
class OpenCheck:
    approved: OpenPlan | None
    notes: list[str]


@dataclass(frozen=True)
class CloseCheck:
    position: OpenPositionView | None
    notes: list[str]


class _Rejected(Exception):
    """Ends a check; the message is the rejection note."""


def _usdt(value: Decimal) -> str:
    """``12,000`` or ``9,930.14``: two places at most, for people."""
    shown = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    return f"{shown:,f}".removesuffix(".00")


def _num(value: Decimal) -> str:
    """A price or quantity in full, without trailing zeros or exponent."""
    return f"{value.normalize():,f}"


# Bounds of what a request may ask for: the ledger's money columns hold 16 integer
# digits and 8 places, the price columns 18 and 12; nothing outside can be stored.
MAX_MARGIN = Decimal("1e15")
MAX_PRICE = Decimal("1e15")
MAX_LEVERAGE = 1_000  # far above any exchange's; more is a mistake, not a request


def _shown(value: Decimal) -> str:
    """A requested number as the bot can recognise it: ``1E+20`` and ``NaN`` as such."""
    if not value.is_finite():
        return str(value).replace("sNaN", "NaN")
    if value != 0 and not -8 <= value.adjusted() < 15:
        return str(value.normalize())
    return _num(value)


def _requested(name: str, value: object, unit: str = "") -> Decimal:
    """``value`` as a finite Decimal, or the rejection saying why it is not one."""
    suffix = f" {unit}" if unit else ""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        # A float is the caller's mistake (replies are parsed to Decimal): TypeError, as in perps.
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__} ({value!r})")
    number = Decimal(value)
    if number.is_nan():
        raise _Rejected(f"{name} {_shown(number)} is not a number")
    if not number.is_finite():
        raise _Rejected(f"{name} {_shown(number)}{suffix} is not a finite amount")
    return number


def _at(until: datetime, now: datetime) -> str:
    until, now = until.astimezone(UTC), now.astimezone(UTC)
    return until.strftime("%H:%M UTC" if until.date() == now.date() else "%Y-%m-%d %H:%M UTC")


def _best_leverage(symbol: str, margin: Decimal, wanted: int, fallback_mmr: Decimal | None) -> int | None:
    """The highest L ≤ wanted with L ≤ max_leverage(symbol, margin × L), or None.

    Lower leverage means a smaller notional and maybe a bracket allowing more, so the
    answer is not simply the bracket of ``margin × wanted``; brackets are few and
    leverage small, so walking down is clear and cheap.
    """
    top = max(tier.max_leverage for tier in tiers.tiers_for(symbol, fallback_mmr))
    for candidate in range(min(wanted, top), 0, -1):
        try:
            if candidate <= tiers.max_leverage(symbol, margin * candidate, fallback_mmr):
                return candidate
        except tiers.TierError:
            continue  # too big for any bracket at this leverage; less may fit
    return None


def _fit(wanted: Decimal, leverage: int, available: Decimal, rate: Decimal) -> Decimal:
    """The requested margin, or the most whose margin + fee fits the balance.

    margin + margin × leverage × rate ≤ available  →  margin ≤ available / (1 + leverage × rate),
    rounded down to the ledger's 8 places.
    """
    most = (available / (1 + leverage * rate)).quantize(MONEY_QUANTUM, rounding=ROUND_DOWN)
    return min(wanted, most)


def _leverage(request: OpenRequest) -> int:
    wanted = _requested("leverage", request.leverage)
    if wanted > MAX_LEVERAGE:
        raise _Rejected(
            f"leverage {_shown(wanted)}x is more than any market allows (at most {MAX_LEVERAGE}x)"
        )
    if wanted < 1 or wanted != wanted.to_integral_value():
        raise _Rejected(f"leverage {_shown(wanted)}x is not a whole number of at least 1")
    return int(wanted)


def _check_amounts(request: OpenRequest, portfolio: PortfolioView, settings: RiskSettings) -> None:
    """Refuse, before any arithmetic, a margin or trigger no account or column could hold."""
    margin = _requested("margin", request.margin, "USDT")
    if margin <= 0:
        raise _Rejected(f"margin {_shown(margin)} USDT is not a positive amount")
    available = as_decimal("available_balance", portfolio.available_balance)
    if margin >= MAX_MARGIN and margin > available:
        raise _Rejected(
            f"margin {_shown(margin)} USDT is more than this account holds "
            f"({_usdt(available)} USDT available)"
        )
    if margin < MONEY_QUANTUM:
        raise _Rejected(
            f"margin {_shown(margin)} USDT is less than the ledger's smallest amount "
            f"({_num(MONEY_QUANTUM)} USDT), below the minimum trade of {_usdt(settings.min_trade_usdt)} USDT"
        )
    for name, value in (("stop-loss", request.stop_loss), ("take-profit", request.take_profit)):
        if value is None:
            continue
        level = _requested(name, value)
        if level >= MAX_PRICE:
            raise _Rejected(f"{name} {_shown(level)} is beyond any price a market trades at")
        if 0 < level < PRICE_QUANTUM:
            raise _Rejected(f"{name} {_shown(level)} is smaller than a price can be ({_num(PRICE_QUANTUM)})")


def _check_portfolio(request: OpenRequest, portfolio: PortfolioView, settings: RiskSettings) -> None:
    for position in portfolio.open_positions:
        if position.symbol == request.symbol and position.side == request.side:
            raise _Rejected(
                f"a {request.side} {request.symbol} position is already open (id {position.id}): "
                "one position per symbol and side"
            )
    if len(portfolio.open_positions) >= settings.max_open_positions:
        raise _Rejected(
            f"{len(portfolio.open_positions)} positions are already open: the limit is "
            f"{settings.max_open_positions}"
        )


def _size(
    request: OpenRequest,
    wanted_leverage: int,
    portfolio: PortfolioView,
    settings: RiskSettings,
    notes: list[str],
) -> tuple[Decimal, int]:
    """The margin and leverage to open with, after brackets and the balance."""
    symbol, minimum = request.symbol, settings.min_trade_usdt
    wanted = as_decimal("margin", request.margin).quantize(MONEY_QUANTUM, rounding=ROUND_DOWN)
    if wanted < minimum:
        raise _Rejected(f"margin {_usdt(wanted)} USDT is below the minimum trade of {_usdt(minimum)} USDT")
    leverage = _best_leverage(symbol, wanted, wanted_leverage, settings.fallback_mmr)
    if leverage is None:
        raise _Rejected(f"a {_usdt(wanted)} USDT margin exceeds {symbol}'s largest bracket at any leverage")
    available = as_decimal("available_balance", portfolio.available_balance)
    margin = _fit(wanted, leverage, available, settings.taker_fee_rate)
    if margin < wanted:
        # A smaller margin is a smaller notional: a lower bracket may allow more leverage
        # (never more than asked). More leverage means more fee, so fit once more; the
        # margin only shrinks, so the new leverage stays within its bracket.
        better = _best_leverage(symbol, margin, wanted_leverage, settings.fallback_mmr)
        if better is not None and better != leverage:
            leverage = better
            margin = _fit(wanted, leverage, available, settings.taker_fee_rate)
    if leverage < wanted_leverage:
        notes.append(
            f"leverage {wanted_leverage}x exceeds {symbol}'s maximum for a "
            f"{_usdt(wanted * wanted_leverage)} USDT position: reduced to {leverage}x"
        )
    if margin < wanted:
        if margin < minimum:
            raise _Rejected(
                f"margin {_usdt(wanted)} USDT plus fee exceeds the available {_usdt(available)} USDT, "
                f"and the most that fits is below the minimum trade of {_usdt(minimum)} USDT"
            )
        notes.append(
            f"margin {_usdt(wanted)} USDT plus fee exceeds the available {_usdt(available)} USDT: "
            f"reduced to {_usdt(margin)} USDT"
        )
    return margin, leverage


def _triggers(
    request: OpenRequest, entry: Decimal, liquidation: Decimal, notes: list[str]
) -> tuple[Decimal | None, Decimal | None]:
    """The stop-loss and take-profit worth keeping (LONG: SL < entry < TP; SHORT: TP < entry < SL)."""
    long = request.side == LONG
    kept: list[Decimal | None] = []
    for name, value, below in (
        ("stop-loss", request.stop_loss, long),
        ("take-profit", request.take_profit, not long),
    ):
        level = as_decimal(name, value) if value is not None else None
        if level is not None and (level <= 0 or (level >= entry if below else level <= entry)):
            where = "below" if below else "above"
            notes.append(
                f"{name} {_num(level)} is not {where} the {request.side} entry {_num(entry)}: dropped"
            )
            level = None
        kept.append(level)
    stop_loss, take_profit = kept
    if stop_loss is not None and liquidation > 0 and (
        stop_loss <= liquidation if long else stop_loss >= liquidation
    ):
        notes.append(
            f"stop-loss {_num(stop_loss)} is beyond the liquidation price {_num(liquidation)}: "
            "liquidation comes first, so it cannot fire"
        )
    return stop_loss, take_profit


def _plan(
    request: OpenRequest,
    portfolio: PortfolioView,
    market: MarketView,
    settings: RiskSettings,
    now: datetime,
    notes: list[str],
) -> OpenPlan:
    if not market.listed:
        raise _Rejected(f"{request.symbol} is not listed for trading")
    if market.is_stale:
        raise _Rejected("prices are stale (feed failed): no position opens")
    if request.side not in SIDES:
        raise _Rejected(f"side {request.side!r} is neither LONG nor SHORT")
    wanted_leverage = _leverage(request)
    _check_amounts(request, portfolio, settings)
    _check_portfolio(request, portfolio, settings)
    until = portfolio.cooldowns.get(request.symbol)
    if until is not None and until > now:
        if settings.enforce_cooldown:
            raise _Rejected(f"cooldown on {request.symbol} until {_at(until, now)}")
        notes.append(f"cooldown on {request.symbol} until {_at(until, now)} (not enforced)")

    margin, leverage = _size(request, wanted_leverage, portfolio, settings, notes)
    entry = perps.fill_price(market.price, request.side, True, settings.slippage_bps, market.tick_size)
    quantity = perps.quantity_for(margin, leverage, entry, market.step_size)
    if quantity <= 0:
        raise _Rejected(
            f"{_usdt(margin)} USDT at {leverage}x buys less than one step "
            f"({_num(market.step_size or perps.QUANTITY_QUANTUM)}) of {request.symbol}"
        )
    size = perps.notional(entry, quantity)
    # Down to 8 places (by under 1e-8 USDT): quantity × entry ≤ margin × leverage, so
    # margin + fee ≤ margin × (1 + leverage × rate) ≤ available holds exactly, where
    # half-even could tip a balance-fitted margin over by half a unit.
    fee = perps.round_money(perps.fee(size, settings.taker_fee_rate), ROUND_DOWN)

    mmr, cum = tiers.maintenance(request.symbol, size, settings.fallback_mmr)
    # On the right side of the entry without a check: quantity is rounded down, so
    # margin / notional ≥ 1 / leverage, and every bracket's 1 / max leverage exceeds its mmr.
    exact = perps.liquidation_price(request.side, entry, quantity, margin, mmr, cum)
    # Toward the entry, so a stored (rounded) liquidation price never fires late.
    tick = market.tick_size or PRICE_QUANTUM
    liquidation = perps.round_to(exact, tick, ROUND_CEILING if request.side == LONG else ROUND_FLOOR)
    stop_loss, take_profit = _triggers(request, entry, liquidation, notes)
    return OpenPlan(
        symbol=request.symbol, side=request.side, margin=margin, leverage=leverage,
        quantity=quantity, fill_price=entry, notional=size, fee=fee, mmr=mmr,
        maintenance_amount=cum, liquidation_price=liquidation,
        stop_loss=stop_loss, take_profit=take_profit,
    )


def check_open(
    request: OpenRequest,
    portfolio: PortfolioView,
    market: MarketView | None,
    settings: RiskSettings,
    now: datetime,
) -> OpenCheck:
    """Approve ``request`` as an ``OpenPlan`` (possibly adjusted) or reject it, with notes.

    ``market`` is None when no market goes by the symbol. Adjustments: leverage down
    to the symbol's bracket maximum; margin down so margin + entry fee fits the
    available balance; wrong-side stop-loss/take-profit dropped. Never approves
    margin + fee above the balance, leverage above the bracket, or margin below the
    minimum trade.
    """
    notes: list[str] = []
    if market is None or market.symbol != request.symbol:
        return OpenCheck(None, [f"unknown symbol {request.symbol}: no market trades under that name"])
    try:
        return OpenCheck(_plan(request, portfolio, market, settings, now, notes), notes)
    except _Rejected as rejection:
        return OpenCheck(None, [*notes, str(rejection)])


def check_close(request: CloseRequest, portfolio: PortfolioView) -> CloseCheck:
    """The open position ``request`` names, or why there is none."""
    positions = portfolio.open_positions
    if request.position_id is not None:
        found = [p for p in positions if str(p.id) == str(request.position_id)]
        if not found:
            return CloseCheck(None, [f"no open position {request.position_id} of this bot"])
        position = found[0]
        if request.symbol is not None and request.symbol != position.symbol:
            return CloseCheck(
                None, [f"position {position.id} is {position.symbol}, not {request.symbol}: not closed"]
            )
        return CloseCheck(position, [])
    if request.symbol is None:
        return CloseCheck(None, ["a close names a position id or a symbol"])
    if request.side is not None and request.side not in SIDES:
        return CloseCheck(None, [f"side {request.side!r} is neither LONG nor SHORT"])
    found = [
        p for p in positions
        if p.symbol == request.symbol and (request.side is None or p.side == request.side)
    ]
    if not found:
        which = f"{request.side} {request.symbol}" if request.side else request.symbol
        return CloseCheck(None, [f"no open {which} position of this bot"])
    if len(found) > 1:
        return CloseCheck(
            None,
            [f"both LONG and SHORT {request.symbol} positions are open: say which side to close"],
        )
    return CloseCheck(found[0], [])
