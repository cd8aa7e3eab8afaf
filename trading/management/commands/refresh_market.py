"""``manage.py refresh_market [--feed simulated|binance|aster]``: one price refresh, now.

Refreshes every market the arena watches, closes positions whose stop-loss,
take-profit or liquidation price was crossed, marks the rest, and prints a table of
the markets and the closes. Exits with status 1, naming the error, when no market
could be refreshed (every one is stale).
"""
from __future__ import annotations

import sys
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from trading.feeds import FEED_NAMES, get_feed
from trading.models import Market
from trading.services.market import market_refresh_and_trigger


def _price(price: Decimal | None, tick: Decimal | None) -> str:
    """A price with as many places as its tick (``60000.0`` for BTC), or ``-`` when unknown."""
    if price is None:
        return "-"
    return f"{price.quantize(tick.normalize()) if tick else price.normalize():f}"


class Command(BaseCommand):
    help = "Refresh market prices once, fire stop-loss/take-profit/liquidation, mark positions."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--feed", choices=FEED_NAMES,
            help="Use this feed instead of ARENA_MARKET_FEED for this run.",
        )

    def handle(self, *args: Any, feed: str | None = None, **options: Any) -> None:
        source = get_feed(feed)
        try:
            summary = market_refresh_and_trigger(feed=source)
        finally:
            close = getattr(source, "close", None)
            if callable(close):
                close()  # an exchange feed holds a connection pool
        markets = Market.objects.filter(symbol__in=summary["symbols"]).order_by("symbol")
        self.stdout.write(f"{'symbol':<14}{'price':>18}{'24h %':>10}{'funding':>11}  stale")
        for market in markets:
            price = _price(market.last_price, market.tick_size)
            change = f"{market.change_24h_pct:+.2f}" if market.change_24h_pct is not None else "-"
            funding = f"{market.funding_rate * 100:.4f}%" if market.funding_rate is not None else "-"
            stale = "yes" if market.is_stale else "no"
            self.stdout.write(f"{market.symbol:<14}{price:>18}{change:>10}{funding:>11}  {stale}")
        for position_id, reason, price in summary["closes"]:
            self.stdout.write(f"closed position {position_id}: {reason} at {price.normalize():f}")
        if not summary["closes"]:
            self.stdout.write("no positions closed")
        self.stdout.write(f"{summary['marked']} open positions marked")
        if summary["symbols"] and len(summary["stale"]) == len(summary["symbols"]):
            self.stderr.write(self.style.ERROR(f"every market is stale: {summary['error']}"))
            # Exit status 1 is the contract for scripts; call_command sees SystemExit(1).
            sys.exit(1)
        if summary["error"]:
            self.stderr.write(self.style.WARNING(summary["error"]))
