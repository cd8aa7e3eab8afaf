"""Leverage brackets: the shipped table against Binance's, lookups, and the fallback."""
from __future__ import annotations

import json
from decimal import Decimal as D
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading import tiers
from trading.tiers import GENERIC_TIERS, Tier, TierError

BINANCE_TIERS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "binance_leverage_tiers.json"
SHIPPED = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "DOGEUSDT", "XRPUSDT"]


@pytest.fixture(scope="module")
def binance():
    if not BINANCE_TIERS.exists():
        pytest.skip(f"Binance's full bracket file {BINANCE_TIERS} is absent")
    return json.loads(BINANCE_TIERS.read_text())


def _from_binance(rows):
    return tuple(
        Tier(
            D(str(r["minNotional"])), D(str(r["maxNotional"])), int(r["maxLeverage"]),
            D(str(r["maintenanceMarginRate"])), D(r["info"]["cum"]),
        )
        for r in rows
    )


@pytest.mark.parametrize("symbol", SHIPPED)
def test_shipped_table_matches_binance(binance, symbol):
    base = symbol.removesuffix("USDT")
    assert tiers.tiers_for(symbol) == _from_binance(binance[f"{base}/USDT:USDT"])


def test_generic_table_is_binances_most_common_20x_table(binance):
    for example in ("AMB/USDT:USDT", "COMBO/USDT:USDT", "HFT/USDT:USDT"):
        assert GENERIC_TIERS == _from_binance(binance[example])


def test_shipped_symbols_are_the_default_six():
    assert tiers.known_symbols() == frozenset(SHIPPED)


def test_the_table_ships_inside_the_package():
    data = resources.files("trading").joinpath("data/leverage_tiers.json")
    assert data.is_file()
    assert "shared/data" not in Path(tiers.__file__).read_text()  # never the test data at run time


@pytest.mark.parametrize("table", [*(tiers.tiers_for(s) for s in SHIPPED), GENERIC_TIERS])
def test_tables_are_contiguous_continuous_and_safe(table):
    assert table[0].min_notional == 0
    for lower, upper in zip(table, table[1:], strict=False):
        assert upper.min_notional == lower.max_notional
        assert upper.max_leverage <= lower.max_leverage
        cap = lower.max_notional
        # Binance's cum keeps the maintenance margin continuous at each cap.
        assert cap * lower.mmr - lower.cum == cap * upper.mmr - upper.cum
    for tier in table:
        # An initial margin (1/leverage) above the maintenance rate: no instant liquidation.
        assert D(1) / tier.max_leverage > tier.mmr


@pytest.mark.parametrize(
    "symbol, notional, leverage, mmr, cum",
    [
        ("BTCUSDT", D("0"), 125, D("0.004"), D("0")),
        ("BTCUSDT", D("50000"), 125, D("0.004"), D("0")),  # a cap belongs to its own bracket
        ("BTCUSDT", D("50000.01"), 100, D("0.005"), D("50")),
        ("BTCUSDT", D("1800000000"), 1, D("0.5"), D("421481450")),
        ("XRPUSDT", D("15000"), 50, D("0.0065"), D("15")),
        ("XRPUSDT", D("250000"), 25, D("0.02"), D("1685")),
        ("SOLUSDT", D("20000"), 100, D("0.005"), D("0")),
        ("DOGEUSDT", D("760000"), 25, D("0.02"), D("7670")),
        ("NEWUSDT", D("5000"), 20, D("0.02"), D("0")),
        ("NEWUSDT", D("5001"), 15, D("0.025"), D("25")),
    ],
)
def test_lookups(symbol, notional, leverage, mmr, cum):
    assert tiers.max_leverage(symbol, notional) == leverage
    assert tiers.maintenance(symbol, notional) == (mmr, cum)
    assert tiers.tier_for(symbol, notional).max_leverage == leverage


def test_notionals_outside_every_bracket_are_refused():
    with pytest.raises(TierError, match="largest bracket"):
        tiers.tier_for("BTCUSDT", D("1800000000.01"))
    with pytest.raises(TierError, match="negative"):
        tiers.tier_for("BTCUSDT", D("-1"))
    with pytest.raises(TypeError):
        tiers.tier_for("BTCUSDT", 100.0)


def test_fallback_rate_overrides_only_unknown_symbols():
    # Known symbols keep Binance's brackets whatever the arena's fallback says.
    assert tiers.tiers_for("BTCUSDT", D("0.2")) == tiers.tiers_for("BTCUSDT")
    flat = tiers.tiers_for("NEWUSDT", D("0.005"))
    assert [t.max_notional for t in flat] == [t.max_notional for t in GENERIC_TIERS]
    assert [t.max_leverage for t in flat] == [t.max_leverage for t in GENERIC_TIERS]
    assert {(t.mmr, t.cum) for t in flat} == {(D("0.005"), D("0"))}
    assert tiers.maintenance("NEWUSDT", D("100000"), D("0.005")) == (D("0.005"), D("0"))


def test_a_high_fallback_rate_caps_leverage_below_its_inverse():
    # 1 / 0.1 = 10x would be liquidated at the open: 9x at most.
    assert tiers.max_leverage("NEWUSDT", D("1000"), D("0.1")) == 9
    assert tiers.max_leverage("NEWUSDT", D("300000"), D("0.1")) == 5  # the bracket is lower still
    with pytest.raises(ValueError, match="fallback"):
        tiers.tiers_for("NEWUSDT", D("0.5"))


@given(
    st.sampled_from([*SHIPPED, "NEWUSDT"]),
    st.decimals(min_value=0, max_value=D("5000000"), places=2),
    st.decimals(min_value=0, max_value=D("5000000"), places=2),
)
def test_more_notional_never_allows_more_leverage(symbol, a, b):
    small, large = sorted((a, b))
    assert tiers.max_leverage(symbol, large) <= tiers.max_leverage(symbol, small)
    mmr_small, _ = tiers.maintenance(symbol, small)
    mmr_large, _ = tiers.maintenance(symbol, large)
    assert mmr_large >= mmr_small
