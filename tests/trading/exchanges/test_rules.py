"""Rounding to the symbol's grid and the refusals caught before an order is sent."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading.exchanges import SymbolRules, decimal_text, order_refusal, price_to_tick, quantity_floor

D = Decimal

BTC_INFO = {
    "symbol": "BTCUSDT", "status": "TRADING", "baseAsset": "BTC", "quoteAsset": "USDT",
    "filters": [
        {"filterType": "PRICE_FILTER", "tickSize": "0.10", "minPrice": "0.10", "maxPrice": "1000000"},
        {"filterType": "LOT_SIZE", "stepSize": "0.001", "minQty": "0.001", "maxQty": "1000"},
        {"filterType": "MARKET_LOT_SIZE", "stepSize": "0.01", "minQty": "0.01", "maxQty": "120"},
        {"filterType": "MIN_NOTIONAL", "notional": "100"},
    ],
}


def rules(**changes) -> SymbolRules:
    base = SymbolRules.from_json(BTC_INFO)
    return SymbolRules(**{**base.__dict__, **changes})


def test_rules_prefer_the_market_lot_size():
    parsed = SymbolRules.from_json(BTC_INFO)
    assert parsed == SymbolRules(symbol="BTCUSDT", status="TRADING", tick_size=D("0.10"), step_size=D("0.01"),
                                 min_qty=D("0.01"), max_qty=D("120"), min_notional=D("100"))


def test_rules_fall_back_to_lot_size_and_no_minimum_notional():
    info = {**BTC_INFO, "filters": [f for f in BTC_INFO["filters"]
                                    if f["filterType"] in ("PRICE_FILTER", "LOT_SIZE")]}
    parsed = SymbolRules.from_json(info)
    assert (parsed.step_size, parsed.min_qty, parsed.max_qty) == (D("0.001"), D("0.001"), D("1000"))
    assert parsed.min_notional == 0


@pytest.mark.parametrize(("quantity", "step", "expected"), [
    ("0.0129", "0.001", "0.012"),
    ("0.012", "0.001", "0.012"),
    ("7.9", "1", "7"),
    ("0.0009", "0.001", "0"),
    ("123.456", "0.5", "123.0"),
])
def test_quantity_floor_rounds_down_to_the_step(quantity, step, expected):
    assert quantity_floor(D(quantity), D(step)) == D(expected)


@given(st.decimals(min_value=D("0"), max_value=D("100000"), places=6),
       st.sampled_from([D("0.001"), D("0.01"), D("1"), D("0.5"), D("10")]))
def test_quantity_floor_is_the_largest_multiple_not_above(quantity, step):
    result = quantity_floor(quantity, step)
    assert result <= quantity
    assert quantity - result < step
    assert result % step == 0


def test_price_to_tick_rounds_the_way_asked():
    assert price_to_tick(D("60000.04"), D("0.10"), up=True) == D("60000.1")
    assert price_to_tick(D("60000.04"), D("0.10"), up=False) == D("60000.0")
    assert price_to_tick(D("60000.10"), D("0.10"), up=True) == D("60000.1")
    assert price_to_tick(D("0.123456"), D("0.0001"), up=False) == D("0.1234")


@pytest.mark.parametrize(("value", "text"), [
    (D("0.0010"), "0.001"), (D("1E+2"), "100"), (D("60000.10"), "60000.1"), (D("0E-8"), "0"),
    (D("-0.50"), "-0.5"), (D("1e-7"), "0.0000001"), (D("12"), "12"),
])
def test_decimal_text_is_plain_without_trailing_zeros(value, text):
    assert decimal_text(value) == text


def test_decimal_text_refuses_non_finite_numbers():
    with pytest.raises(ValueError):
        decimal_text(D("NaN"))


def test_an_order_within_the_rules_passes():
    assert order_refusal(rules(), D("0.01"), D("60000"), reduce_only=False) is None


@pytest.mark.parametrize(("quantity", "price", "changes", "words"), [
    ("0.001", "60000", {}, "below BTCUSDT's minimum 0.01"),
    ("121", "60000", {}, "above BTCUSDT's maximum 120"),
    ("0.015", "60000", {}, "not a multiple of BTCUSDT's step 0.01"),
    ("0.01", "9000", {}, "notional 90 USDT is below BTCUSDT's minimum 100"),
    ("0.01", "60000", {"status": "SETTLING"}, "not trading (status SETTLING)"),
    ("0", "60000", {}, "must be positive"),
])
def test_order_refusal_says_why(quantity, price, changes, words):
    refusal = order_refusal(rules(**changes), D(quantity), D(price), reduce_only=False)
    assert refusal is not None and words in refusal


def test_reduce_only_skips_the_notional_minimum_but_not_the_others():
    assert order_refusal(rules(), D("0.01"), D("9000"), reduce_only=True) is None
    assert order_refusal(rules(), D("0.001"), D("9000"), reduce_only=True) is not None


def test_no_maximum_means_any_size():
    assert order_refusal(rules(max_qty=None), D("5000"), D("60000"), reduce_only=False) is None
