"""The perpetual-futures arithmetic: hand-computed examples, properties, and real candles."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from trading import perps, tiers
from trading.perps import LIQUIDATION, LONG, SHORT, STOP_LOSS, TAKE_PROFIT, Bar, Trigger

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
CANDLES_5M = SHARED_DATA / "candles" / "XRPUSDT-5m.json"
FUNDING_8H = SHARED_DATA / "candles" / "XRPUSDT-8h-funding.json"

prices = st.decimals(min_value=D("0.0001"), max_value=D("200000"), places=4)
margins = st.decimals(min_value=D("1"), max_value=D("100000"), places=8)
leverages = st.integers(min_value=1, max_value=125)
sides = st.sampled_from([LONG, SHORT])


def _load(path: Path) -> list[list[float]]:
    if not path.exists():
        pytest.skip(f"shared market data {path} is absent")
    return json.loads(path.read_text())


# --- inputs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: perps.notional(1.5, D("2")),
        lambda: perps.quantity_for(D("100"), 10, 3.0),
        lambda: perps.fee(D("100"), 0.0005),
        lambda: perps.fill_price(D("100"), LONG, True, 1.0),
        lambda: perps.unrealized_pnl(LONG, D("100"), 110.0, D("1")),
        lambda: perps.liquidation_price(LONG, D("100"), D("1"), 10.0, D("0.005"), D("0")),
        lambda: perps.funding_payment(LONG, D("100"), D("1"), 0.0001),
        lambda: Bar(D("1"), D("2"), 0.5, D("1")),
    ],
)
def test_floats_are_refused(call):
    with pytest.raises(TypeError, match="must be a Decimal, not float"):
        call()


def test_bools_and_infinities_are_refused():
    with pytest.raises(TypeError):
        perps.notional(True, D("1"))
    with pytest.raises(ValueError, match="finite"):
        perps.notional(D("Infinity"), D("1"))


def test_unknown_side_is_refused():
    with pytest.raises(ValueError, match="LONG or SHORT"):
        perps.unrealized_pnl("BUY", D("1"), D("2"), D("1"))


# --- size and cost -------------------------------------------------------------------


def test_notional():
    assert perps.notional(D("1.2345"), D("1000")) == D("1234.5")


def test_quantity_for_rounds_down_to_the_step():
    # 100 × 10 / 3 = 333.333…
    assert perps.quantity_for(D("100"), 10, D("3")) == D("333.333333333333")
    assert perps.quantity_for(D("100"), 10, D("3"), D("0.1")) == D("333.3")
    assert perps.quantity_for(D("100"), 10, D("3"), D("1")) == D("333")
    assert perps.quantity_for(D("100"), 10, D("3"), D("1000")) == 0
    # 2/3 would round half-up to …67; down keeps it …66.
    assert perps.quantity_for(D("2"), 1, D("3"), D("0.01")) == D("0.66")


def test_quantity_for_refuses_non_positive_inputs():
    with pytest.raises(ValueError, match="price must be positive"):
        perps.quantity_for(D("100"), 10, D("0"))
    with pytest.raises(ValueError, match="margin must be positive"):
        perps.quantity_for(D("-1"), 10, D("3"))


def test_fee_is_taker_rate_on_notional():
    assert perps.fee(D("10000"), D("0.0005")) == D("5")
    assert perps.fee(D("1234.5"), D("0.0005")) == D("0.61725")
    with pytest.raises(ValueError, match="negative"):
        perps.fee(D("1"), D("-0.0005"))


@pytest.mark.parametrize(
    "side, opening, expected",
    [
        (LONG, True, D("100.1")),  # open LONG buys: pays 10 bps more
        (SHORT, False, D("100.1")),  # close SHORT buys
        (SHORT, True, D("99.9")),  # open SHORT sells: gets 10 bps less
        (LONG, False, D("99.9")),  # close LONG sells
    ],
)
def test_fill_price_slips_against_the_trader(side, opening, expected):
    assert perps.fill_price(D("100"), side, opening, D("10")) == expected


def test_fill_price_rounds_to_tick_against_the_trader():
    # 1.2345 × 1.0001 = 1.23462345 → up to 1.2347; × 0.9999 = 1.23437655 → down to 1.2343.
    assert perps.fill_price(D("1.2345"), LONG, True, D("1"), D("0.0001")) == D("1.2347")
    assert perps.fill_price(D("1.2345"), LONG, False, D("1"), D("0.0001")) == D("1.2343")
    # No slippage, price on the tick: unchanged.
    assert perps.fill_price(D("1.2345"), LONG, True, D("0"), D("0.0001")) == D("1.2345")


def test_fill_price_refuses_a_sell_that_rounds_to_zero():
    with pytest.raises(ValueError, match="rounds to"):
        perps.fill_price(D("0.00004"), LONG, False, D("1"), D("0.0001"))


# --- profit and loss -----------------------------------------------------------------


def test_unrealized_pnl():
    assert perps.unrealized_pnl(LONG, D("100"), D("110"), D("2")) == D("20")
    assert perps.unrealized_pnl(SHORT, D("100"), D("110"), D("2")) == D("-20")
    assert perps.unrealized_pnl(SHORT, D("100"), D("90"), D("2")) == D("20")


def test_pnl_pct_of_margin():
    assert perps.pnl_pct_of_margin(D("20"), D("200")) == D("10")
    assert perps.pnl_pct_of_margin(D("-50"), D("200")) == D("-25")
    with pytest.raises(ValueError):
        perps.pnl_pct_of_margin(D("1"), D("0"))


def test_maintenance_margin():
    # BTC bracket 2: 100,000 × 0.005 − 50 = 450.
    assert perps.maintenance_margin(D("100000"), D("0.005"), D("50")) == D("450")


def test_liquidation_price_hand_computed_first_bracket():
    # BTC LONG 0.1 at 60,000 with 600 margin (10x): notional 6,000, mmr 0.004, cum 0.
    # P = (0.1 × 60000 − 600 − 0) / (0.1 × 0.996) = 5400 / 0.0996 = 54216.867469879518…
    liq = perps.liquidation_price(LONG, D("60000"), D("0.1"), D("600"), D("0.004"), D("0"))
    assert liq.quantize(D("1e-9")) == D("54216.867469880")
    # SHORT: (6000 + 600) / (0.1 × 1.004) = 65737.051792828685…
    liq = perps.liquidation_price(SHORT, D("60000"), D("0.1"), D("600"), D("0.004"), D("0"))
    assert liq.quantize(D("1e-9")) == D("65737.051792829")


def test_liquidation_price_hand_computed_with_maintenance_amount():
    # BTC 1 at 60,000 with 1,000 margin (60x): notional 60,000 → bracket 2, mmr 0.005, cum 50.
    # LONG:  (60000 − 1000 − 50) / 0.995 = 58950 / 0.995 = 59246.231155778894…
    # SHORT: (60000 + 1000 + 50) / 1.005 = 61050 / 1.005 = 60746.268656716417…
    mmr, cum = tiers.maintenance("BTCUSDT", D("60000"))
    assert (mmr, cum) == (D("0.005"), D("50"))
    long_liq = perps.liquidation_price(LONG, D("60000"), D("1"), D("1000"), mmr, cum)
    short_liq = perps.liquidation_price(SHORT, D("60000"), D("1"), D("1000"), mmr, cum)
    assert long_liq.quantize(D("1e-9")) == D("59246.231155779")
    assert short_liq.quantize(D("1e-9")) == D("60746.268656716")
    # At the liquidation price the margin left equals the maintenance margin there.
    for side, liq in ((LONG, long_liq), (SHORT, short_liq)):
        left = D("1000") + perps.unrealized_pnl(side, D("60000"), liq, D("1"))
        assert abs(left - perps.maintenance_margin(liq, mmr, cum)) < D("1e-18")


def test_liquidation_price_of_a_long_is_never_negative():
    # 1x with the whole notional as margin and more: nothing to liquidate above zero.
    assert perps.liquidation_price(LONG, D("100"), D("1"), D("150"), D("0.005"), D("0")) == 0


def test_liquidation_price_refuses_an_impossible_rate():
    with pytest.raises(ValueError, match="maintenance margin rate"):
        perps.liquidation_price(LONG, D("100"), D("1"), D("10"), D("1"), D("0"))


# --- triggers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "side, kind, level, expected",
    [
        # low 95, high 105
        (LONG, STOP_LOSS, D("95"), True),
        (LONG, STOP_LOSS, D("94.99"), False),
        (SHORT, STOP_LOSS, D("105"), True),
        (SHORT, STOP_LOSS, D("105.01"), False),
        (LONG, TAKE_PROFIT, D("105"), True),
        (LONG, TAKE_PROFIT, D("105.01"), False),
        (SHORT, TAKE_PROFIT, D("95"), True),
        (SHORT, TAKE_PROFIT, D("94.99"), False),
        (LONG, LIQUIDATION, D("95"), True),
        (LONG, LIQUIDATION, D("94"), False),
        (SHORT, LIQUIDATION, D("105"), True),
        (SHORT, LIQUIDATION, D("106"), False),
    ],
)
def test_crossed(side, kind, level, expected):
    assert perps.crossed(side, kind, level, D("95"), D("105")) is expected


def test_crossed_refuses_unknown_kinds():
    with pytest.raises(ValueError, match="trigger kind"):
        perps.crossed(LONG, "trailing", D("1"), D("1"), D("2"))


def test_bar_must_be_consistent():
    with pytest.raises(ValueError, match="inconsistent"):
        Bar(D("100"), D("99"), D("98"), D("100"))  # open above high
    assert Bar.move(D("100"), D("97")) == Bar(D("100"), D("100"), D("97"), D("97"))


def bar(o, h, low, c):
    return Bar(D(o), D(h), D(low), D(c))


def test_first_trigger_nothing_crossed():
    assert perps.first_trigger(
        LONG, bar("100", "104", "96", "101"), stop_loss=D("95"), take_profit=D("105"),
        liquidation_price=D("90"),
    ) is None
    assert perps.first_trigger(LONG, bar("100", "104", "96", "101")) is None


def test_first_trigger_fills_at_the_level_inside_the_bar():
    assert perps.first_trigger(LONG, bar("100", "101", "94", "96"), stop_loss=D("95")) == Trigger(
        STOP_LOSS, D("95")
    )
    assert perps.first_trigger(LONG, bar("100", "106", "99", "104"), take_profit=D("105")) == Trigger(
        TAKE_PROFIT, D("105")
    )
    assert perps.first_trigger(SHORT, bar("100", "106", "99", "104"), stop_loss=D("105")) == Trigger(
        STOP_LOSS, D("105")
    )
    assert perps.first_trigger(SHORT, bar("100", "101", "94", "96"), take_profit=D("95")) == Trigger(
        TAKE_PROFIT, D("95")
    )


def test_first_trigger_adverse_wins_when_both_are_inside_one_bar():
    both = bar("100", "106", "94", "100")
    assert perps.first_trigger(LONG, both, stop_loss=D("95"), take_profit=D("105")) == Trigger(
        STOP_LOSS, D("95")
    )
    assert perps.first_trigger(SHORT, both, stop_loss=D("105"), take_profit=D("95")) == Trigger(
        STOP_LOSS, D("105")
    )
    assert perps.first_trigger(LONG, both, liquidation_price=D("95"), take_profit=D("105")) == Trigger(
        LIQUIDATION, D("95")
    )


def test_first_trigger_nearer_of_stop_and_liquidation_fires():
    crash = bar("100", "100", "80", "85")
    # Normal: the stop sits above the liquidation price and fires first, at the stop.
    assert perps.first_trigger(
        LONG, crash, stop_loss=D("95"), liquidation_price=D("90")
    ) == Trigger(STOP_LOSS, D("95"))
    # A stop below the liquidation price never gets the chance.
    assert perps.first_trigger(
        LONG, crash, stop_loss=D("85"), liquidation_price=D("90")
    ) == Trigger(LIQUIDATION, D("90"))
    # A tie goes to liquidation.
    assert perps.first_trigger(
        LONG, crash, stop_loss=D("90"), liquidation_price=D("90")
    ) == Trigger(LIQUIDATION, D("90"))
    spike = bar("100", "120", "100", "115")
    assert perps.first_trigger(
        SHORT, spike, stop_loss=D("105"), liquidation_price=D("110")
    ) == Trigger(STOP_LOSS, D("105"))
    assert perps.first_trigger(
        SHORT, spike, stop_loss=D("115"), liquidation_price=D("110")
    ) == Trigger(LIQUIDATION, D("110"))


def test_first_trigger_gaps_fill_at_the_open():
    # Opens below the stop: the stop fills at the (worse) open.
    assert perps.first_trigger(
        LONG, bar("93", "96", "92", "95"), stop_loss=D("95"), take_profit=D("105"),
        liquidation_price=D("90"),
    ) == Trigger(STOP_LOSS, D("93"), gapped=True)
    # Opens below the liquidation price too: liquidation, at the open.
    assert perps.first_trigger(
        LONG, bar("88", "96", "87", "95"), stop_loss=D("95"), liquidation_price=D("90")
    ) == Trigger(LIQUIDATION, D("88"), gapped=True)
    # Opens above the take-profit: the trader keeps the better open.
    assert perps.first_trigger(
        LONG, bar("107", "108", "94", "100"), stop_loss=D("95"), take_profit=D("105")
    ) == Trigger(TAKE_PROFIT, D("107"), gapped=True)
    assert perps.first_trigger(
        SHORT, bar("112", "113", "100", "101"), stop_loss=D("110"), take_profit=D("90")
    ) == Trigger(STOP_LOSS, D("112"), gapped=True)
    assert perps.first_trigger(
        SHORT, bar("88", "113", "87", "101"), stop_loss=D("110"), take_profit=D("90")
    ) == Trigger(TAKE_PROFIT, D("88"), gapped=True)


def test_first_trigger_on_a_refresh_move():
    assert perps.first_trigger(
        LONG, Bar.move(D("100"), D("94")), stop_loss=D("95"), take_profit=D("105")
    ) == Trigger(STOP_LOSS, D("95"))
    assert perps.first_trigger(
        SHORT, Bar.move(D("100"), D("94")), stop_loss=D("105"), take_profit=D("95")
    ) == Trigger(TAKE_PROFIT, D("95"))


def test_first_trigger_ignores_a_clamped_zero_liquidation_price():
    assert perps.first_trigger(LONG, bar("1", "1", "0.0001", "0.5"), liquidation_price=D("0")) is None


def _run(side, rows, start, **levels):
    """The engine's loop: bar by bar after the entry until something fires."""
    for i in range(start + 1, len(rows)):
        _, o, h, low, c, _ = rows[i]
        trigger = perps.first_trigger(side, Bar(D(str(o)), D(str(h)), D(str(low)), D(str(c))), **levels)
        if trigger is not None:
            return i, trigger.kind, trigger.price
    return None


def _first_cross_long(rows, start, sl, tp):
    """Independently: the first bar whose low reaches the stop or whose high reaches the target."""
    for i in range(start + 1, len(rows)):
        _, o, h, low, _, _ = rows[i]
        o, h, low = D(str(o)), D(str(h)), D(str(low))
        if low <= sl:  # adverse first; a bar opening through the stop fills at its open
            return i, STOP_LOSS, min(o, sl)
        if h >= tp:
            return i, TAKE_PROFIT, max(o, tp)
    return None


def test_first_trigger_on_real_xrp_candles():
    rows = _load(CANDLES_5M)
    outcomes = set()
    for start in range(0, len(rows) - 1, 37):
        entry = D(str(rows[start][4]))  # enter at the bar's close
        sl = (entry * D("0.99")).quantize(D("0.0001"))
        tp = (entry * D("1.01")).quantize(D("0.0001"))
        expected = _first_cross_long(rows, start, sl, tp)
        assert _run(LONG, rows, start, stop_loss=sl, take_profit=tp) == expected
        if expected is not None:
            outcomes.add(expected[1])
    assert outcomes == {STOP_LOSS, TAKE_PROFIT}  # both exits exercised on real data


def test_liquidation_on_real_xrp_candles():
    # A 50x LONG with its stop below the liquidation price is liquidated, at that price,
    # on the first bar whose low reaches it.
    rows = _load(CANDLES_5M)
    start = max(range(len(rows)), key=lambda i: rows[i][4])  # the top: XRP fell 17% after it
    entry = D(str(rows[start][4]))
    margin = D("100")
    quantity = perps.quantity_for(margin, 50, entry, D("0.1"))
    mmr, cum = tiers.maintenance("XRPUSDT", perps.notional(entry, quantity))
    liq = perps.liquidation_price(LONG, entry, quantity, margin, mmr, cum)
    sl = (liq * D("0.995")).quantize(D("0.0001"))
    expected = next(
        (i, LIQUIDATION, min(D(str(rows[i][1])), liq))
        for i in range(start + 1, len(rows))
        if D(str(rows[i][3])) <= liq
    )
    assert sl < liq < entry
    assert _run(LONG, rows, start, stop_loss=sl, liquidation_price=liq) == expected


# --- funding -------------------------------------------------------------------------


def test_funding_payment_sign():
    # notional 50,000 × 0.2 = 10,000; × 0.0001 = 1 USDT from the long to the short.
    assert perps.funding_payment(LONG, D("50000"), D("0.2"), D("0.0001")) == D("-1")
    assert perps.funding_payment(SHORT, D("50000"), D("0.2"), D("0.0001")) == D("1")
    assert perps.funding_payment(LONG, D("50000"), D("0.2"), D("-0.0001")) == D("1")
    assert perps.funding_payment(SHORT, D("50000"), D("0.2"), D("-0.0001")) == D("-1")


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    "at, expected",
    [
        (utc(2024, 1, 1, 0, 0), utc(2024, 1, 1, 0, 0)),
        (utc(2024, 1, 1, 7, 59, 59, 999999), utc(2024, 1, 1, 0, 0)),
        (utc(2024, 1, 1, 8, 0), utc(2024, 1, 1, 8, 0)),
        (utc(2024, 1, 1, 15, 59), utc(2024, 1, 1, 8, 0)),
        (utc(2024, 1, 1, 23, 59), utc(2024, 1, 1, 16, 0)),
        # 01:30 at UTC+2 is 23:30 UTC the day before.
        (datetime(2024, 1, 2, 1, 30, tzinfo=timezone(timedelta(hours=2))), utc(2024, 1, 1, 16, 0)),
    ],
)
def test_last_funding_time(at, expected):
    assert perps.last_funding_time(at) == expected


def test_funding_times_between_is_open_at_the_start_and_closed_at_the_end():
    assert list(perps.funding_times_between(utc(2024, 1, 1, 7, 59, 59), utc(2024, 1, 2, 8, 0))) == [
        utc(2024, 1, 1, 8), utc(2024, 1, 1, 16), utc(2024, 1, 2, 0), utc(2024, 1, 2, 8),
    ]
    assert list(perps.funding_times_between(utc(2024, 1, 1, 8), utc(2024, 1, 1, 15, 59))) == []
    assert list(perps.funding_times_between(utc(2024, 1, 1, 9), utc(2024, 1, 1, 8))) == []


def test_funding_times_refuse_naive_datetimes():
    with pytest.raises(ValueError, match="timezone-aware"):
        perps.funding_times_between(datetime(2024, 1, 1), utc(2024, 1, 2))
    with pytest.raises(ValueError, match="timezone-aware"):
        perps.funding_times_between(utc(2024, 1, 1), datetime(2024, 1, 2))
    with pytest.raises(ValueError, match="timezone-aware"):
        perps.last_funding_time(datetime(2024, 1, 1))


def test_funding_times_match_real_binance_funding():
    rows = _load(FUNDING_8H)
    # Binance stamps each funding a few milliseconds after the mark; drop the milliseconds.
    real = [datetime.fromtimestamp(r[0] // 1000, UTC) for r in rows]
    assert list(perps.funding_times_between(real[0] - timedelta(seconds=1), real[-1])) == real


# --- properties ----------------------------------------------------------------------


@given(margins, leverages, prices, st.sampled_from([None, D("0.001"), D("0.1"), D("1")]))
def test_quantity_never_costs_more_than_the_margin(margin, leverage, price, step):
    quantity = perps.quantity_for(margin, leverage, price, step)
    assert quantity >= 0
    assert quantity * price / leverage <= margin


@given(prices, sides, st.booleans(), st.decimals(min_value=0, max_value=1000, places=2),
       st.sampled_from([None, D("0.0001"), D("0.01"), D("1")]))
def test_fill_price_is_always_against_the_trader(price, side, opening, bps, tick):
    try:
        filled = perps.fill_price(price, side, opening, bps, tick)
    except ValueError:
        assume(False)  # a sell rounding to zero on a coarse tick is refused, not filled
    if perps.is_buy(side, opening):
        assert filled >= price
    else:
        assert filled <= price
    if tick is not None:
        assert filled % tick == 0


@given(
    st.sampled_from(["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "DOGEUSDT", "XRPUSDT", "NEWUSDT"]),
    sides, prices, st.decimals(min_value=D("10"), max_value=D("20000"), places=2), leverages,
)
def test_liquidation_price_side_and_remaining_margin(symbol, side, entry, margin, leverage):
    leverage = min(leverage, tiers.max_leverage(symbol, margin * leverage))
    quantity = perps.quantity_for(margin, leverage, entry, D("1e-8"))
    assume(quantity > 0)
    mmr, cum = tiers.maintenance(symbol, perps.notional(entry, quantity))
    liq = perps.liquidation_price(side, entry, quantity, margin, mmr, cum)
    if side == LONG:
        assert liq < entry
        assume(liq > 0)  # clamped at zero: there is no price where it liquidates
    else:
        assert liq > entry
    left = margin + perps.unrealized_pnl(side, entry, liq, quantity)
    maintenance = perps.maintenance_margin(perps.notional(liq, quantity), mmr, cum)
    # unrealized PnL at liq = −(margin − maintenance margin), within 1e-8 relative
    assert abs(left - maintenance) <= D("1e-8") * margin


@given(sides, prices, st.decimals(min_value=D("0.001"), max_value=D("1000"), places=3),
       st.decimals(min_value=D("-0.003"), max_value=D("0.003"), places=8))
def test_funding_of_opposite_sides_sums_to_zero(side, mark, quantity, rate):
    assert perps.funding_payment(LONG, mark, quantity, rate) + perps.funding_payment(
        SHORT, mark, quantity, rate
    ) == 0


aware = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)


@given(aware, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)))
def test_funding_times_are_exactly_the_8h_marks(start, length):
    end = start + length
    times = list(perps.funding_times_between(start, end))
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    marks = (end - epoch) // timedelta(hours=8) - (start - epoch) // timedelta(hours=8)
    assert len(times) == marks
    for t in times:
        assert start < t <= end
        assert (t.hour, t.minute, t.second, t.microsecond) in {(0, 0, 0, 0), (8, 0, 0, 0), (16, 0, 0, 0)}
    assert all(b - a == timedelta(hours=8) for a, b in zip(times, times[1:], strict=False))


@st.composite
def bars(draw):
    points = sorted(draw(st.lists(prices, min_size=4, max_size=4)))
    low, high = points[0], points[-1]
    o, c = draw(st.permutations(points[1:3]))
    return Bar(o, high, low, c)


@given(sides, bars(), st.one_of(st.none(), prices), st.one_of(st.none(), prices),
       st.one_of(st.none(), prices))
def test_first_trigger_fills_inside_the_bar_and_adverse_first(side, b, sl, tp, liq):
    trigger = perps.first_trigger(side, b, stop_loss=sl, take_profit=tp, liquidation_price=liq)
    adverse_hit = any(
        level is not None and perps.crossed(side, kind, level, b.low, b.high)
        for kind, level in ((STOP_LOSS, sl), (LIQUIDATION, liq))
    )
    if trigger is None:
        assert not adverse_hit
        assert tp is None or not perps.crossed(side, TAKE_PROFIT, tp, b.low, b.high)
        return
    assert b.low <= trigger.price <= b.high
    if trigger.kind == TAKE_PROFIT:
        # Only when the bar opened through the target can it beat a stop also in range.
        assert trigger.gapped or not adverse_hit
