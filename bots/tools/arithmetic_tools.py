"""The arithmetic tools: position size, Kelly fraction, risk/reward."""
from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Any

from bots.tools.arguments import WORK_CONTEXT, ToolError, shown_number


def position_size(
    balance: Decimal, risk_pct: Decimal, entry: Decimal, stop: Decimal, leverage: int
) -> dict[str, Any]:
    """Fixed-fractional sizing (Van K. Tharp, *Trade Your Way to Financial Freedom*, "position
    sizing"): the position whose stop-out loses ``risk_pct`` % of ``balance``.

    ``risk = balance × risk_pct / 100``; ``quantity = risk / |entry − stop|``;
    ``notional = quantity × entry``; ``margin = notional / leverage`` (the decision's
    ``size``). Fees and slippage are not included. An isolated position loses its whole
    margin after an adverse move of about 1/leverage, so a stop farther than that
    never fires: the result warns.
    """
    if stop == entry:
        raise ToolError("stop equals entry: the risk per unit is zero, so no size follows")
    with localcontext(WORK_CONTEXT):
        side = "LONG" if stop < entry else "SHORT"
        distance = abs(entry - stop)
        risk = balance * risk_pct / 100
        quantity = risk / distance
        size = quantity * entry
        margin = size / leverage
        stop_pct = distance / entry * 100
        warnings = []
        if stop_pct >= Decimal(100) / leverage:
            warnings.append(
                f"the stop is {shown_number(stop_pct)}% away but {leverage}x is liquidated after about "
                f"{shown_number(Decimal(100) / leverage)}%: lower the leverage or tighten the stop"
            )
        if margin > balance:
            warnings.append(
                f"the margin {shown_number(margin)} exceeds the balance {shown_number(balance)}: raise the "
                "leverage or lower risk_pct"
            )
        return {
            "side": side, "risk_usdt": shown_number(risk), "stop_distance_pct": shown_number(stop_pct),
            "quantity": shown_number(quantity), "notional_usdt": shown_number(size),
            "margin_usdt": shown_number(margin),
            "size": shown_number(margin), "leverage": leverage, "fits_balance": margin <= balance,
            "warnings": warnings, "note": "size is the margin in USDT; fees and slippage not included",
        }


def kelly(win_rate: Decimal, avg_win: Decimal, avg_loss: Decimal) -> dict[str, Any]:
    """The Kelly criterion (J. L. Kelly Jr., "A New Interpretation of Information Rate", 1956;
    E. O. Thorp, "The Kelly Criterion in Blackjack, Sports Betting and the Stock Market").

    ``b = avg_win / avg_loss``, ``p = win_rate``: ``f* = p − (1 − p) / b``, the fraction of
    the balance to risk per trade that maximises long-run growth; clamped to [0, 1]
    (negative means no edge: do not trade). Half-Kelly keeps about three quarters of
    the growth at half the volatility, and forgives an overestimated edge.
    """
    with localcontext(WORK_CONTEXT):
        b = avg_win / avg_loss
        raw = win_rate - (1 - win_rate) / b
        fraction = min(max(raw, Decimal(0)), Decimal(1))
        edge = win_rate * b - (1 - win_rate)
        why = (
            f"f* = p - (1 - p)/b = {shown_number(win_rate)} - {shown_number(1 - win_rate)}/{shown_number(b)}"
            f" = {shown_number(raw)}. "
            + ("No edge: the expected result per trade is negative, so risk nothing. " if raw <= 0 else
               f"Risk at most {shown_number(fraction * 100)}% of the balance per trade (full Kelly); "
               f"half-Kelly, {shown_number(fraction * 50)}%, is the usual choice because p and b are "
               "estimates. ")
            + "Use it as position_size's risk_pct: it is the loss at the stop, not the margin."
        )
        return {
            "payoff_ratio": shown_number(b), "edge_per_unit_risked": shown_number(edge),
            "kelly_raw": shown_number(raw),
            "kelly_fraction": shown_number(fraction), "half_kelly_fraction": shown_number(fraction / 2),
            "explanation": why,
        }


def risk_reward(entry: Decimal, stop: Decimal, target: Decimal, side: str) -> dict[str, Any]:
    """Risk ``|entry − stop|``, reward ``|target − entry|``, ratio ``R = reward / risk`` and the
    break-even win rate ``1 / (1 + R)`` (wins × R = losses × 1)."""
    ordered = stop < entry < target if side == "LONG" else target < entry < stop
    if not ordered:
        where = "stop < entry < target" if side == "LONG" else "target < entry < stop"
        got = f"entry {shown_number(entry)}, stop {shown_number(stop)}, target {shown_number(target)}"
        raise ToolError(f"a {side} needs {where}; got {got}")
    with localcontext(WORK_CONTEXT):
        risk, reward = abs(entry - stop), abs(target - entry)
        ratio = reward / risk
        return {
            "side": side, "risk_per_unit": shown_number(risk), "reward_per_unit": shown_number(reward),
            "risk_pct": shown_number(risk / entry * 100), "reward_pct": shown_number(reward / entry * 100),
            "ratio": shown_number(ratio), "ratio_text": f"1:{shown_number(ratio.quantize(Decimal('0.01')))}",
            "breakeven_win_rate": shown_number(1 / (1 + ratio)),
        }

