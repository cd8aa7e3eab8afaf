"""How the bot page words and pages what it shows: pure functions over plain data, so each
rule (an action's label, a decision's reasoning, a page of rows) is tested on its own."""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

OPENS = ("LONG", "SHORT")


def action_label(action: Mapping[str, Any]) -> str:
    """One parsed action as the log's summary line says it: "LONG BTCUSDT 5x", "CLOSE
    ETHUSDT SHORT", "ANALYZE volatility", "HOLD". Missing parts are left out, never guessed."""
    kind = str(action.get("action") or "?").upper()
    parts = [kind]
    if kind == "ANALYZE":
        parts.append(str(action.get("tool") or ""))
    elif action.get("symbol"):
        parts.append(str(action["symbol"]))
    if kind in OPENS and action.get("leverage"):
        parts.append(f"{action['leverage']}x")
    if kind == "CLOSE" and action.get("side"):
        parts.append(str(action["side"]))
    return " ".join(p for p in parts if p)


def actions_summary(actions: Sequence[Mapping[str, Any]] | None) -> str:
    """Every action of a decision on one line ("LONG BTCUSDT 5x · HOLD"); "no action" for none."""
    labels = [action_label(a) for a in actions or () if isinstance(a, Mapping)]
    return " · ".join(labels) if labels else "no action"


def reasoning_of(actions: Sequence[Mapping[str, Any]] | None) -> list[str]:
    """The reasoning the model gave, one text per action, in order; the same text given for
    several actions is shown once."""
    seen: list[str] = []
    for action in actions or ():
        text = str(action.get("reasoning") or "").strip() if isinstance(action, Mapping) else ""
        if text and text not in seen:
            seen.append(text)
    return seen


def return_fraction(*, total_value: Decimal | None, initial_balance: Decimal | None) -> Decimal | None:
    """The bot's return on what it started with (0.05 is 5 %), or None when either is unknown
    or it started with nothing."""
    if total_value is None or not initial_balance:
        return None
    return (Decimal(total_value) - Decimal(initial_balance)) / Decimal(initial_balance)


def cursor_of(value: str | None) -> int | None:
    """A pager's ``before`` id from the query string: a positive integer, anything else is
    the first page (a hand-edited link is not an error worth a 400 on a page)."""
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if number > 0 else None


@dataclass(frozen=True)
class Page:
    """One page of rows, newest first, and the id the next (older) page starts below."""

    rows: list
    older: int | None
    first: bool


def page_of(rows: Iterable[Any], *, size: int, before: int | None) -> Page:
    """``rows`` (already limited to ``size + 1`` newest-first items below ``before``) as one
    page: the extra row only says that an older page exists."""
    items = list(rows)
    more = len(items) > size
    items = items[:size]
    return Page(rows=items, older=items[-1].pk if more and items else None, first=before is None)


def money_text(value: Decimal | None, *, signed: bool = False) -> str:
    """Money to the cent with thousands separators ("1,234.57", "+12.00" when ``signed``);
    "—" for an unknown figure, never a made-up zero."""
    if value is None:
        return "—"
    cents = Decimal(value).quantize(Decimal("0.01"))
    text = f"{cents:,.2f}"
    return f"+{text}" if signed and cents > 0 else text


def percent_text(fraction: Decimal | None, *, signed: bool = True) -> str:
    """A fraction as a percentage: 0.0123 → "+1.23 %"; "—" when unknown."""
    if fraction is None:
        return "—"
    value = (Decimal(fraction) * 100).quantize(Decimal("0.01"))
    return f"{'+' if signed and value > 0 else ''}{value:,.2f} %"


def tone_of(value: Decimal | None) -> str:
    """The design system's class for a signed figure: "pos", "neg" or nothing."""
    if value is None or value == 0:
        return ""
    return "pos" if value > 0 else "neg"


def figure_cells(figures: Mapping[str, Any]) -> list[dict[str, str]]:
    """The header's figures in order, each as its label, text and tone."""
    def cell(label: str, text: str, tone: str = "", note: str = "") -> dict[str, str]:
        return {"label": label, "text": text, "tone": tone, "note": note}

    count = figures.get("trade_count")
    return [
        cell("Total value", money_text(figures.get("total_value"))),
        cell("Return", percent_text(figures.get("return")), tone_of(figures.get("return"))),
        cell("Cash", money_text(figures.get("cash"))),
        cell("Unrealized PnL", money_text(figures.get("unrealized_pnl"), signed=True),
             tone_of(figures.get("unrealized_pnl"))),
        cell("Realized PnL", money_text(figures.get("realized_pnl"), signed=True),
             tone_of(figures.get("realized_pnl")), "net of fees"),
        cell("Win rate", percent_text(figures.get("win_rate"), signed=False)),
        cell("Trades", "—" if count is None else str(count), "", "closed"),
    ]


def price_text(value: Decimal | None) -> str:
    """A price as stored, without trailing zeros or an exponent ("60000", "0.1234")."""
    if value is None:
        return "—"
    return f"{Decimal(value).normalize():f}"


def quantity_text(value: Decimal | None) -> str:
    return price_text(value)


def position_texts(position: Any) -> dict[str, str]:
    """A position's cells as the table shows them."""
    return {
        "quantity": quantity_text(position.quantity), "margin": money_text(position.margin),
        "entry": price_text(position.entry_price), "mark": price_text(position.mark_price),
        "liquidation": price_text(position.liquidation_price), "stop_loss": price_text(position.stop_loss),
        "take_profit": price_text(position.take_profit),
        "unrealized": money_text(position.unrealized_pnl, signed=True),
        "tone": tone_of(position.unrealized_pnl),
    }


def trade_texts(trade: Any) -> dict[str, str]:
    """A fill's cells as the order history shows them."""
    return {
        "quantity": quantity_text(trade.quantity), "price": price_text(trade.price),
        "fee": money_text(trade.fee), "pnl": money_text(trade.pnl, signed=True), "tone": tone_of(trade.pnl),
    }


def pretty_json(value: Any) -> str:
    """JSON indented for a ``<pre>`` (escaped by the template like any text)."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def tool_call_texts(calls: Sequence[Any] | None) -> list[dict[str, str]]:
    """A decision's sandbox tool calls, in order, with their arguments and results as JSON."""
    out = []
    for call in calls or ():
        entry = call if isinstance(call, Mapping) else {"result": call}
        out.append({"tool": str(entry.get("tool") or "tool"), "step": str(entry.get("step") or ""),
                    "args": pretty_json(entry.get("args", {})), "result": pretty_json(entry.get("result"))})
    return out
