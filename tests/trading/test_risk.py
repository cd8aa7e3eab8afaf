"""Risk rules: every rejection and adjustment note, hand-computed plans, and invariants."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from types import SimpleNamespace

import hypothesis
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading import perps, tiers
from trading.risk import (
    CloseRequest,
    MarketView,
    OpenPlan,
    OpenPositionView,
    OpenRequest,
    PortfolioView,
    RiskSettings,
    check_close,
    check_open,
)

NOW = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
XRP = MarketView("XRPUSDT", D("1.2345"), tick_size=D("0.0001"), step_size=D("0.1"))
BTC = MarketView("BTCUSDT", D("60000"), tick_size=D("0.1"), step_size=D("0.001"))
SETTINGS = RiskSettings()
CASH = PortfolioView(D("1000"))


def position(id, symbol="XRPUSDT", side="LONG"):
    return OpenPositionView(id, symbol, side, D("100"), 10, D("800"), D("1.25"))


def check(request=None, portfolio=CASH, market=XRP, settings=SETTINGS, **fields):
    request = request or OpenRequest("XRPUSDT", "LONG", D("100"), 10)
    return check_open(replace(request, **fields), portfolio, market, settings, NOW)


def rejected(result):
    assert result.approved is None
    return result.notes


# --- approvals, by hand --------------------------------------------------------------


def test_long_plan_by_hand():
    result = check(stop_loss=D("1.2"), take_profit=D("1.3"))
    assert result.notes == []
    # fill 1.2345 × 1.0001 = 1.23462345 → up to the tick: 1.2347
    # quantity 100 × 10 / 1.2347 = 809.91… → down to the step: 809.9
    # notional 809.9 × 1.2347 = 999.98353; fee × 0.0005 = 0.499991765 → 0.49999176
    # bracket 1 (≤ 10,000): mmr 0.005, cum 0
    # liquidation (999.98353 − 100) / (809.9 × 0.995) = 1.11681202… → toward the entry: 1.1169
    assert result.approved == OpenPlan(
        symbol="XRPUSDT", side="LONG", margin=D("100"), leverage=10, quantity=D("809.9"),
        fill_price=D("1.2347"), notional=D("999.98353"), fee=D("0.49999176"), mmr=D("0.005"),
        maintenance_amount=D("0"), liquidation_price=D("1.1169"), stop_loss=D("1.2"),
        take_profit=D("1.3"),
    )


def test_short_plan_by_hand():
    result = check(side="SHORT", stop_loss=D("1.3"), take_profit=D("1.2"))
    plan = result.approved
    assert result.notes == []
    # fill 1.2345 × 0.9999 = 1.23437655 → down: 1.2343; quantity 1000 / 1.2343 → 810.1
    # notional 999.90643; liquidation (999.90643 + 100) / (810.1 × 1.005) = 1.35098661… → 1.3509
    assert (plan.fill_price, plan.quantity, plan.notional) == (D("1.2343"), D("810.1"), D("999.90643"))
    assert (plan.fee, plan.liquidation_price) == (D("0.49995321"), D("1.3509"))
    assert (plan.stop_loss, plan.take_profit) == (D("1.3"), D("1.2"))


def test_leverage_as_a_whole_decimal_is_accepted():
    assert check(leverage=D("10.0")).approved.leverage == 10


def test_an_opposite_side_may_open_alongside():
    assert check(portfolio=PortfolioView(D("1000"), (position(7, side="SHORT"),))).approved


# --- rejections ----------------------------------------------------------------------


def test_unknown_symbol():
    assert rejected(check(market=None)) == ["unknown symbol XRPUSDT: no market trades under that name"]
    assert rejected(check(market=BTC)) == ["unknown symbol XRPUSDT: no market trades under that name"]


def test_unlisted_symbol():
    assert rejected(check(market=replace(XRP, listed=False))) == ["XRPUSDT is not listed for trading"]


def test_stale_prices():
    notes = rejected(check(market=replace(XRP, is_stale=True)))
    assert notes == ["prices are stale (feed failed): no position opens"]


def test_unknown_side():
    assert rejected(check(side="BUY")) == ["side 'BUY' is neither LONG nor SHORT"]


@pytest.mark.parametrize("leverage, shown", [(0, "0"), (-3, "-3"), (D("10.5"), "10.5"), (D("0.5"), "0.5")])
def test_leverage_must_be_a_whole_number_of_at_least_one(leverage, shown):
    assert rejected(check(leverage=leverage)) == [f"leverage {shown}x is not a whole number of at least 1"]


def test_one_position_per_symbol_and_side():
    notes = rejected(check(portfolio=PortfolioView(D("1000"), (position(7),))))
    assert notes == ["a LONG XRPUSDT position is already open (id 7): one position per symbol and side"]


def test_max_open_positions():
    full = PortfolioView(D("1000"), tuple(position(i, symbol=f"C{i}USDT") for i in range(6)))
    assert rejected(check(portfolio=full)) == ["6 positions are already open: the limit is 6"]
    assert check(portfolio=full, settings=replace(SETTINGS, max_open_positions=7)).approved


def test_margin_below_minimum():
    assert rejected(check(margin=D("49.99"))) == [
        "margin 49.99 USDT is below the minimum trade of 50 USDT"
    ]
    assert check(margin=D("50")).approved.margin == D("50")


def test_quantity_rounding_to_zero():
    # 50 USDT at 1x buys 0.000833 BTC: less than a 0.001 step.
    notes = rejected(check(OpenRequest("BTCUSDT", "LONG", D("50"), 1), market=BTC))
    assert notes == ["50 USDT at 1x buys less than one step (0.001) of BTCUSDT"]


def test_margin_beyond_every_bracket():
    rich = PortfolioView(D("10000000000"))
    notes = rejected(check(OpenRequest("BTCUSDT", "LONG", D("2000000000"), 5), portfolio=rich, market=BTC))
    assert notes == ["a 2,000,000,000 USDT margin exceeds BTCUSDT's largest bracket at any leverage"]


# --- cooldowns -----------------------------------------------------------------------


def cooling(until):
    return PortfolioView(D("1000"), (), {"XRPUSDT": until})


def test_cooldown_enforced_rejects():
    notes = rejected(check(portfolio=cooling(NOW + timedelta(minutes=30)),
                           settings=replace(SETTINGS, enforce_cooldown=True)))
    assert notes == ["cooldown on XRPUSDT until 12:30 UTC"]


def test_cooldown_not_enforced_only_notes():
    result = check(portfolio=cooling(NOW + timedelta(minutes=30)))
    assert result.approved
    assert result.notes == ["cooldown on XRPUSDT until 12:30 UTC (not enforced)"]


def test_cooldown_past_midnight_shows_the_date_and_an_expired_one_is_silent():
    result = check(portfolio=cooling(NOW + timedelta(hours=13)))
    assert result.notes == ["cooldown on XRPUSDT until 2024-01-02 01:00 UTC (not enforced)"]
    assert check(portfolio=cooling(NOW)).notes == []


# --- adjustments ---------------------------------------------------------------------


def test_leverage_above_the_bracket_is_reduced():
    # 1,000 × 200 = 200,000 → BTC bracket 2 allows 100x; 100,000 is still in it.
    result = check(OpenRequest("BTCUSDT", "LONG", D("1000"), 200), market=BTC,
                   portfolio=PortfolioView(D("10000")))
    assert result.approved.leverage == 100
    assert result.notes == [
        "leverage 200x exceeds BTCUSDT's maximum for a 200,000 USDT position: reduced to 100x"
    ]


def test_leverage_search_finds_a_lower_bracket_allowing_more():
    # 300 × 75 = 22,500 is XRP bracket 3 (40x), yet 300 × 50 = 15,000 is bracket 2 (50x):
    # 50x is the highest leverage within its own bracket, not 40x.
    result = check(margin=D("300"), leverage=75)
    assert result.approved.leverage == 50
    assert result.notes == [
        "leverage 75x exceeds XRPUSDT's maximum for a 22,500 USDT position: reduced to 50x"
    ]


def test_margin_reduced_to_fit_balance_with_fee():
    # 9,950 / (1 + 4 × 0.0005) = 9,930.13972055…
    result = check(margin=D("12000"), leverage=4, portfolio=PortfolioView(D("9950")))
    plan = result.approved
    assert plan.margin == D("9930.13972055")
    assert plan.margin + plan.fee <= D("9950")
    assert result.notes == [
        "margin 12,000 USDT plus fee exceeds the available 9,950 USDT: reduced to 9,930.14 USDT"
    ]


def test_a_smaller_margin_can_regain_leverage():
    # 300 at 75x → 50x (above); the balance of 200 cuts the margin to 200 / 1.025 = 195.12,
    # and 195.12 × 51 = 9,951 fits XRP bracket 1 (75x up to 10,000): 51x, then the margin
    # is refitted for the larger fee: 200 / (1 + 51 × 0.0005) = 195.02681618.
    result = check(margin=D("300"), leverage=75, portfolio=PortfolioView(D("200")))
    plan = result.approved
    assert (plan.leverage, plan.margin) == (51, D("195.02681618"))
    assert plan.leverage <= tiers.max_leverage("XRPUSDT", plan.margin * plan.leverage)
    assert result.notes == [
        "leverage 75x exceeds XRPUSDT's maximum for a 22,500 USDT position: reduced to 51x",
        "margin 300 USDT plus fee exceeds the available 200 USDT: reduced to 195.03 USDT",
    ]


def test_balance_too_small_for_the_minimum_after_fitting():
    notes = rejected(check(portfolio=PortfolioView(D("50"))))
    assert notes == [
        "margin 100 USDT plus fee exceeds the available 50 USDT, "
        "and the most that fits is below the minimum trade of 50 USDT"
    ]


@pytest.mark.parametrize(
    "side, sl, tp, note",
    [
        ("LONG", D("1.25"), None, "stop-loss 1.25 is not below the LONG entry 1.2347: dropped"),
        ("LONG", D("1.2347"), None, "stop-loss 1.2347 is not below the LONG entry 1.2347: dropped"),
        ("LONG", D("0"), None, "stop-loss 0 is not below the LONG entry 1.2347: dropped"),
        ("LONG", None, D("1.2"), "take-profit 1.2 is not above the LONG entry 1.2347: dropped"),
        ("SHORT", D("1.2"), None, "stop-loss 1.2 is not above the SHORT entry 1.2343: dropped"),
        ("SHORT", None, D("1.3"), "take-profit 1.3 is not below the SHORT entry 1.2343: dropped"),
    ],
)
def test_wrong_side_triggers_are_dropped(side, sl, tp, note):
    result = check(side=side, stop_loss=sl, take_profit=tp)
    assert result.approved and result.notes == [note]
    assert (result.approved.stop_loss, result.approved.take_profit) == (None, None)


def test_a_stop_loss_beyond_liquidation_is_kept_with_a_note():
    result = check(stop_loss=D("1.1"), take_profit=D("1.3"))  # liquidation 1.1169
    assert result.approved.stop_loss == D("1.1")
    assert result.notes == [
        "stop-loss 1.1 is beyond the liquidation price 1.1169: liquidation comes first, so it cannot fire"
    ]
    short = check(side="SHORT", stop_loss=D("1.36"))  # liquidation 1.3509
    assert short.approved.stop_loss == D("1.36")
    assert short.notes == [
        "stop-loss 1.36 is beyond the liquidation price 1.3509: liquidation comes first, so it cannot fire"
    ]


def test_unknown_tier_symbol_uses_the_fallback():
    market = MarketView("NEWUSDT", D("2"), tick_size=D("0.001"), step_size=D("1"))
    result = check(OpenRequest("NEWUSDT", "LONG", D("100"), 10), market=market)
    assert (result.approved.mmr, result.approved.maintenance_amount) == (D("0.005"), D("0"))
    generic = check(OpenRequest("NEWUSDT", "LONG", D("100"), 10), market=market,
                    settings=replace(SETTINGS, fallback_mmr=None))
    assert generic.approved.mmr == D("0.02")


def test_notes_before_a_rejection_are_kept():
    notes = rejected(check(margin=D("12000"), leverage=4, portfolio=PortfolioView(D("9950"), (), {
        "XRPUSDT": NOW + timedelta(minutes=5)}), market=replace(XRP, step_size=D("100000"))))
    assert notes == [
        "cooldown on XRPUSDT until 12:05 UTC (not enforced)",
        "margin 12,000 USDT plus fee exceeds the available 9,950 USDT: reduced to 9,930.14 USDT",
        "9,930.14 USDT at 4x buys less than one step (100,000) of XRPUSDT",
    ]


def test_floats_are_a_programming_error():
    with pytest.raises(TypeError):
        check(margin=100.0)
    with pytest.raises(TypeError):
        RiskSettings(taker_fee_rate=0.0005)


def test_settings_from_an_arena_settings_row():
    row = SimpleNamespace(
        min_trade_usdt=D("25"), taker_fee_rate=D("0.0004"), slippage_bps=D("2"),
        max_open_positions_per_bot=3, cooldown_minutes=15, enforce_cooldown=True,
        maintenance_margin_rate=D("0.01"),
    )
    settings = RiskSettings.from_arena_settings(row)
    assert settings == RiskSettings(D("25"), D("0.0004"), D("2"), 3, 15, True, D("0.01"))
    assert settings.cooldown_until(NOW) == NOW + timedelta(minutes=15)


# --- closes --------------------------------------------------------------------------


BOOK = PortfolioView(D("0"), (position(1), position(2, side="SHORT"), position(3, symbol="BTCUSDT")))


@pytest.mark.parametrize(
    "request_, found",
    [
        (CloseRequest(position_id=2), 2),
        (CloseRequest(position_id="2"), 2),  # ids from a model's JSON may be strings
        (CloseRequest(symbol="BTCUSDT"), 3),
        (CloseRequest(symbol="XRPUSDT", side="SHORT"), 2),
        (CloseRequest(position_id=1, symbol="XRPUSDT"), 1),
    ],
)
def test_close_finds_the_position(request_, found):
    result = check_close(request_, BOOK)
    assert (result.position.id, result.notes) == (found, [])


@pytest.mark.parametrize(
    "request_, note",
    [
        (CloseRequest(position_id=9), "no open position 9 of this bot"),
        (CloseRequest(symbol="ETHUSDT"), "no open ETHUSDT position of this bot"),
        (CloseRequest(symbol="BTCUSDT", side="SHORT"), "no open SHORT BTCUSDT position of this bot"),
        (CloseRequest(symbol="XRPUSDT"),
         "both LONG and SHORT XRPUSDT positions are open: say which side to close"),
        (CloseRequest(position_id=3, symbol="XRPUSDT"), "position 3 is BTCUSDT, not XRPUSDT: not closed"),
        (CloseRequest(symbol="XRPUSDT", side="BUY"), "side 'BUY' is neither LONG nor SHORT"),
        (CloseRequest(), "a close names a position id or a symbol"),
    ],
)
def test_close_rejections(request_, note):
    assert check_close(request_, BOOK) == type(check_close(request_, BOOK))(None, [note])


# --- invariants ----------------------------------------------------------------------

SYMBOLS = {
    "BTCUSDT": BTC,
    "ETHUSDT": MarketView("ETHUSDT", D("3000.5"), D("0.01"), D("0.001")),
    "SOLUSDT": MarketView("SOLUSDT", D("150.25"), D("0.01"), D("1")),
    "DOGEUSDT": MarketView("DOGEUSDT", D("0.08123"), D("0.00001"), D("1")),
    "XRPUSDT": XRP,
    "NEWUSDT": MarketView("NEWUSDT", D("0.5"), None, None),
}


cents = st.integers(min_value=5_000, max_value=5_000_000_000).map(lambda c: D(c) / 100)


@hypothesis.settings(max_examples=300)  # most draws approve; the limits need many of them
@given(
    st.sampled_from(sorted(SYMBOLS)),
    st.sampled_from(["LONG", "SHORT"]),
    st.one_of(cents, st.decimals(min_value=D("50"), max_value=D("20000"), places=2)),
    st.integers(min_value=1, max_value=150),
    # The balance as a multiple of the margin: below 1 forces a fit, near 1 tests the fee.
    st.integers(min_value=0, max_value=3000).map(lambda permille: D(permille) / 1000),
    st.sampled_from([D("0"), D("0.0002"), D("0.0005"), D("0.001")]),
    st.sampled_from([D("0"), D("1"), D("25")]),
)
def test_check_open_never_breaks_the_limits(symbol, side, margin, leverage, ratio, rate, bps):
    available = (margin * ratio).quantize(D("0.00000001"))
    rules = replace(SETTINGS, taker_fee_rate=rate, slippage_bps=bps)
    market = SYMBOLS[symbol]
    result = check_open(
        OpenRequest(symbol, side, margin, leverage), PortfolioView(available), market, rules, NOW
    )
    plan = result.approved
    if plan is None:
        assert len(result.notes) >= 1
        return
    assert plan.margin + plan.fee <= available
    assert plan.margin >= rules.min_trade_usdt
    assert plan.margin <= margin
    assert 1 <= plan.leverage <= leverage
    assert plan.leverage <= tiers.max_leverage(symbol, plan.margin * plan.leverage, rules.fallback_mmr)
    assert plan.quantity * plan.fill_price / plan.leverage <= plan.margin
    assert plan.notional == plan.quantity * plan.fill_price
    if side == "LONG":
        assert plan.fill_price >= market.price and plan.liquidation_price < plan.fill_price
    else:
        assert plan.fill_price <= market.price and plan.liquidation_price > plan.fill_price
    # The stored (rounded) liquidation price fires no later than the exact one.
    exact = perps.liquidation_price(side, plan.fill_price, plan.quantity, plan.margin, plan.mmr,
                                    plan.maintenance_amount)
    assert plan.liquidation_price >= exact if side == "LONG" else plan.liquidation_price <= exact


# --- any number, in any form -----------------------------------------------------------

# Every form a Decimal can take: NaN (quiet and signalling), ±Infinity, huge and tiny
# exponents, negative zero, long mantissas; and whole numbers far beyond any leverage.
any_decimal = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True),
    st.builds(lambda digits, exp: D(digits).scaleb(exp),
              st.integers(min_value=-10**30, max_value=10**30), st.integers(min_value=-40, max_value=40)),
    st.sampled_from([D("NaN"), D("sNaN"), D("-NaN"), D("Infinity"), D("-Infinity"), D("-0"), D("1e20"),
                     D("1E+999999"), D("1E-999999")]),
)
any_leverage = st.one_of(any_decimal, st.integers(min_value=-10**30, max_value=10**30))
# Column bounds: money 24 digits with 8 places, prices and quantities 30 with 12.
MONEY_MAX, UNITS_MAX = D("1e16"), D("1e18")


def fits(value, bound, places):
    if not (value.is_finite() and abs(value) < bound):
        return False
    # Places are read from the digits themselves (quantize and normalize round to the context's 28).
    sign, digits, exponent = value.as_tuple()
    extra = -places - exponent  # digits beyond the allowed places, which must all be zero
    return extra <= 0 or not any(digits[-extra:])


@hypothesis.settings(max_examples=400)
# A notional of 14 places (100 USDT at 1x of a 0.5 USDT coin): exact, not rounded to 8.
@hypothesis.example("NEWUSDT", "LONG", D(100), D(1), None, None, D(1000))
@given(
    st.sampled_from(sorted(SYMBOLS)),
    st.sampled_from(["LONG", "SHORT"]),
    any_decimal,
    any_leverage,
    st.one_of(st.none(), any_decimal),
    st.one_of(st.none(), any_decimal),
    st.sampled_from([D("0"), D("1000"), D("123456.78"), D("99999999999999.99999999")]),
)
def test_any_number_in_any_form_gets_a_plan_that_fits_the_ledger_or_a_reason(
    symbol, side, margin, leverage, stop_loss, take_profit, available
):
    request = OpenRequest(symbol, side, margin, leverage, stop_loss, take_profit)
    result = check_open(request, PortfolioView(available), SYMBOLS[symbol], SETTINGS, NOW)
    plan = result.approved
    assert all(isinstance(note, str) and note and "Decimal(" not in note for note in result.notes)
    if plan is None:
        assert result.notes, "a refusal says why"
        return
    for value in (plan.margin, plan.fee):
        assert fits(value, MONEY_MAX, 8), value
    # The notional is exact (price and quantity have 12 places each) and no column stores it.
    assert plan.notional == plan.fill_price * plan.quantity and fits(plan.notional, MONEY_MAX, 24)
    for value in (plan.quantity, plan.fill_price, plan.liquidation_price, plan.stop_loss, plan.take_profit):
        assert value is None or fits(value, UNITS_MAX, 12), value
    assert plan.margin + plan.fee <= available and 1 <= plan.leverage <= 125


@pytest.mark.parametrize(("fields", "said"), [
    ({"margin": D("1e20")}, "margin 1E+20 USDT is more than this account holds (1,000 USDT available)"),
    ({"margin": D("NaN")}, "margin NaN is not a number"),
    ({"margin": D("Infinity")}, "margin Infinity USDT is not a finite amount"),
    ({"margin": D("1E-999999")}, "margin 1E-999999 USDT is less than the ledger's smallest amount"),
    ({"leverage": D("1E+999999")}, "leverage 1E+999999x is more than any market allows"),
    ({"leverage": D("-Infinity")}, "leverage -Infinity is not a finite amount"),
    ({"leverage": D("2.5")}, "leverage 2.5x is not a whole number of at least 1"),
    ({"stop_loss": D("NaN")}, "stop-loss NaN is not a number"),
    ({"take_profit": D("1e30")}, "take-profit 1E+30 is beyond any price a market trades at"),
    ({"stop_loss": D("1e-20")}, "stop-loss 1E-20 is smaller than a price can be (0.000000000001)"),
])
def test_absurd_numbers_are_named_in_the_refusal(fields, said):
    notes = rejected(check(**fields))
    assert notes[-1].startswith(said), notes



def test_a_huge_balance_still_gets_a_position_its_columns_hold():
    # NEWUSDT has no tier table: the generic brackets cap the notional, far inside the columns.
    huge = PortfolioView(D("99999999999999.99999999"))
    notes = rejected(check(OpenRequest("NEWUSDT", "LONG", D("99999999999999"), 100), portfolio=huge,
                           market=SYMBOLS["NEWUSDT"]))
    assert notes[-1] == "a 99,999,999,999,999 USDT margin exceeds NEWUSDT's largest bracket at any leverage"
