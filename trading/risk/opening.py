"""Planning an open: ``check_open`` turns a bot's request into an ``OpenPlan`` or a rejection.

The checks run in order (market, side, leverage, amounts, portfolio, cooldown, sizing,
fill, liquidation, triggers); the first rejection ends the check, and adjustments made
before it stay in the notes.
"""
from __future__ import annotations

from datetime import datetime
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR

from trading import perps, tiers
from trading.perps import LONG, MONEY_QUANTUM, PRICE_QUANTUM, SIDES, as_decimal
from trading.risk.limits import MAX_MARGIN, MAX_PRICE, RiskSettings
from trading.risk.notes import _at, _num, _Rejected, _requested, _shown, _usdt
from trading.risk.protection import _triggers
from trading.risk.records import MarketView, OpenCheck, OpenPlan, OpenRequest, PortfolioView
from trading.risk.sizing import _leverage, _size


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
