"""``/bots/<id>/chart.json``: a symbol's stored candles (as ``/api/markets/<s>/candles/``
reads them) with the bot's fills as markers and its open positions' entry, stop-loss,
take-profit and liquidation prices as lines, for lightweight-charts."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from arena.api.markets import DEFAULT_INTERVAL
from arena.web.bot_page.data import open_positions_of, symbols_of, viewer_of
from trading.models import Candle, CloseReason, Position, Trade
from trading.selectors import candles_stored, trades_of

CANDLES = 300
INTERVAL_SECONDS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14_400, "1d": 86_400}
# Colours from the palette in app.css (--pos, --neg, --warn, --accent, --muted).
LONG_COLOUR, SHORT_COLOUR, WARN, ACCENT, MUTED = "#3fb950", "#ff7b72", "#e3b341", "#58a6ff", "#a3adb8"


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def bar_time(moment: datetime, interval_seconds: int) -> int:
    """The open time of the candle holding ``moment``: a marker sits on a bar that exists."""
    seconds = epoch(moment)
    return seconds - seconds % interval_seconds


def candle_rows(candles: Iterable[Candle]) -> list[dict[str, Any]]:
    return [{"time": epoch(c.open_time), "open": float(c.open), "high": float(c.high), "low": float(c.low),
             "close": float(c.close)} for c in candles]


def trade_markers(trades: Iterable[Trade], interval_seconds: int) -> list[dict[str, Any]]:
    """Each fill as a marker, oldest first: an open is an arrow in its direction (below the
    bar for a long) saying its leverage, a close a circle, named only when a trigger closed it."""
    markers = []
    for trade in sorted(trades, key=lambda t: (t.executed_at, t.pk)):
        is_long = trade.side == "LONG"
        opening = trade.kind == Trade.Kind.OPEN
        colour = LONG_COLOUR if is_long else SHORT_COLOUR
        if opening:
            shape, position = ("arrowUp", "belowBar") if is_long else ("arrowDown", "aboveBar")
            text = f"{trade.side} {trade.leverage}x" if trade.leverage else trade.side
        else:
            shape, position = "circle", "aboveBar" if is_long else "belowBar"
            # An exit the model chose needs no words; a stop, a target or a liquidation does.
            quiet = trade.reason in ("", CloseReason.DECISION, CloseReason.MANUAL)
            text = "" if quiet else CloseReason(trade.reason).label.lower()
        markers.append({"time": bar_time(trade.executed_at, interval_seconds), "position": position,
                        "shape": shape, "color": colour, "text": text, "id": f"trade-{trade.pk}"})
    return markers


def position_lines(positions: Iterable[Position]) -> list[dict[str, Any]]:
    """Entry, stop-loss, take-profit and liquidation price of each open position."""
    lines = []
    for p in positions:
        for price, title, colour, style in (
            (p.entry_price, f"{p.side} entry", ACCENT, 0),
            (p.stop_loss, "SL", SHORT_COLOUR, 2),
            (p.take_profit, "TP", LONG_COLOUR, 2),
            (p.liquidation_price, "Liq.", WARN, 1),
        ):
            if price:
                lines.append({"price": float(price), "title": title, "color": colour, "lineStyle": style,
                              "position": p.pk})
    return lines


def chart_data(*, symbol: str, interval: str, candles: list[Candle], trades: Iterable[Trade],
               positions: Iterable[Position]) -> dict[str, Any]:
    """The chart's JSON; markers before the first candle are dropped (nothing to sit on)."""
    seconds = INTERVAL_SECONDS[interval]
    rows = candle_rows(candles)
    first = rows[0]["time"] if rows else None
    markers = [m for m in trade_markers(trades, seconds) if first is not None and m["time"] >= first]
    return {"symbol": symbol, "interval": interval, "candles": rows, "markers": markers,
            "lines": position_lines(positions)}


@require_GET
def chart_json(request: HttpRequest, bot_id: int) -> HttpResponse:
    """``?symbol=`` one of the bot's symbols (default: the first), ``?interval=`` a candle
    length (default the API's)."""
    viewer = viewer_of(request, bot_id)
    if isinstance(viewer, HttpResponse):
        return viewer
    bot = viewer.bot
    symbols = symbols_of(bot)
    symbol = (request.GET.get("symbol") or (symbols[0] if symbols else "")).upper()
    if symbol not in symbols:
        raise Http404("This bot has no such symbol.")
    interval = request.GET.get("interval") or DEFAULT_INTERVAL
    if interval not in INTERVAL_SECONDS or interval not in Candle.Interval.values:
        raise Http404("No such candle interval.")
    candles = candles_stored(symbol=symbol, interval=interval, limit=CANDLES)
    since = candles[0].open_time - timedelta(seconds=INTERVAL_SECONDS[interval]) if candles else None
    trades = trades_of(bot_id=bot.pk).filter(symbol=symbol)
    if since is not None:
        trades = trades.filter(executed_at__gte=since)
    data = chart_data(symbol=symbol, interval=interval, candles=candles, trades=trades.order_by("-id")[:500],
                      positions=open_positions_of(bot).filter(symbol=symbol))
    data["symbols"] = symbols
    return JsonResponse(data)
