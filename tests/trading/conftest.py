from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from arena.models import ArenaSettings
from trading.models import Market

PRICES = {
    "BTCUSDT": Decimal("60000"),
    "ETHUSDT": Decimal("3000"),
    "SOLUSDT": Decimal("150"),
    "BNBUSDT": Decimal("600"),
    "DOGEUSDT": Decimal("0.15"),
    "XRPUSDT": Decimal("0.6"),
}


def set_price(symbol: str, price: Decimal, *, stale: bool = False) -> None:
    Market.objects.update_or_create(
        symbol=symbol,
        defaults={"last_price": price, "mark_price": price, "is_stale": stale, "updated_at": timezone.now()},
    )


@pytest.fixture
def markets(db):
    for symbol, price in PRICES.items():
        Market.objects.create(
            symbol=symbol, base_asset=symbol.removesuffix("USDT"), last_price=price, mark_price=price,
            tick_size=None, step_size=None, updated_at=timezone.now(),
        )
    return PRICES


@pytest.fixture
def frictionless(db):
    """No slippage, so prices in tests are the market's own."""
    arena = ArenaSettings.load()
    arena.slippage_bps = Decimal("0")
    arena.save()
    return arena
