"""The fake exchange itself, over real HTTP: what it refuses, the money it books, what
fires when the price moves, and the faults it injects. Its clock is fixed (``Clock``), so
every time in these tests is an input."""
from __future__ import annotations

import hashlib
import hmac
import threading
from decimal import Decimal
from urllib.parse import urlencode

import httpx
import pytest

from tests.fakes.exchange import FakeExchange
from tests.fakes.exchange_state import FakePosition, fill_math, fmt, liquidation_price, q8, triggers

D = Decimal
T0 = 1_700_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def call(ex: FakeExchange, method: str, path: str, params: dict | None = None, *, key: str | None = None,
         secret: str | None = None, timestamp: int | None = None, recv_window: int = 5000,
         tamper: str = "") -> httpx.Response:
    """A signed request as the wire file says: params in order, timestamp, recvWindow, then
    the HMAC of all that (``tamper`` is appended after signing)."""
    items = [*(params or {}).items(), ("timestamp", ex.now_ms() if timestamp is None else timestamp),
             ("recvWindow", recv_window)]
    query = urlencode(items)
    signature = hmac.new((secret or ex.api_secret).encode(), query.encode(), hashlib.sha256).hexdigest()
    headers = {"X-MBX-APIKEY": key if key is not None else ex.api_key}
    url = f"{ex.base_url}{path}?{query}{tamper}&signature={signature}"
    return httpx.request(method, url, headers=headers)


def ok(response: httpx.Response) -> dict | list:
    assert response.status_code == 200, response.text
    return response.json()


def refused(response: httpx.Response, code: int, status: int = 400) -> str:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code, response.text
    return response.json()["msg"]


def market(ex: FakeExchange, side: str, quantity: str, symbol: str = "BTCUSDT", cid: str | None = None,
           **extra: str) -> httpx.Response:
    params = {"symbol": symbol, "side": side, "type": "MARKET", "quantity": quantity,
              "newClientOrderId": cid or f"c-{len(ex.orders)}", **extra, "newOrderRespType": "RESULT"}
    return call(ex, "POST", "/fapi/v1/order", params)


def algo(ex: FakeExchange, side: str, kind: str, trigger: str, cid: str,
         symbol: str = "BTCUSDT") -> httpx.Response:
    return call(ex, "POST", "/fapi/v1/algoOrder", {
        "algoType": "CONDITIONAL", "symbol": symbol, "side": side, "type": kind, "triggerPrice": trigger,
        "closePosition": "true", "workingType": "MARK_PRICE", "clientAlgoId": cid})


def income_sum(ex: FakeExchange) -> Decimal:
    return sum((D(r["income"]) for r in ok(call(ex, "GET", "/fapi/v1/income", {"limit": 1000}))), D(0))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ex(clock: Clock):
    with FakeExchange(clock=clock) as fake:
        yield fake


# --- pure arithmetic ----------------------------------------------------------------------


def test_fmt_pads_and_never_rounds():
    assert fmt(D("0.3"), 8) == "0.30000000"
    assert fmt(D("0.123456789"), 8) == "0.123456789"
    assert fmt(D("60000.1"), 2) == "60000.10"


def test_q8_rounds_half_up_not_half_even():
    assert q8(D("0.010501365")) == D("0.01050137")


def test_liquidation_price_rounds_to_tick():
    long = FakePosition(D("0.01"), D("60000"), D("30"), 20, 0)
    short = FakePosition(D("-0.01"), D("60000"), D("60"), 10, 0)
    assert liquidation_price(long, D("0.10")) == D("57240.0")
    assert liquidation_price(short, D("0.10")) == D("65760.0")
    assert liquidation_price(FakePosition(D(1), D("150.013"), D(1), 3, 0), D("0.010")) == D("100.610")


def test_fill_math_flip_realizes_the_old_side_and_opens_the_rest():
    math = fill_math(FakePosition(D("0.01"), D("60000"), D("30"), 20, 0), D("-0.03"), D("61000"), 10, 5)
    assert (math.pnl, math.released, math.reduced) == (D("10.00"), D("30"), True)
    assert math.position == FakePosition(D("-0.02"), D("61000"), D("122"), 10, 5)


@pytest.mark.parametrize(("kind", "side", "mark", "fires"), [
    ("STOP_MARKET", "SELL", "59000", True), ("STOP_MARKET", "SELL", "59000.1", False),
    ("STOP_MARKET", "BUY", "61000", True), ("TAKE_PROFIT_MARKET", "SELL", "61000", True),
    ("TAKE_PROFIT_MARKET", "SELL", "60999.9", False), ("TAKE_PROFIT_MARKET", "BUY", "58000", True)])
def test_trigger_directions(kind, side, mark, fires):
    trigger = D("59000") if (kind == "STOP_MARKET") == (side == "SELL") else D("61000")
    assert triggers(kind, side, trigger, D(mark)) is fires


# --- public endpoints and signing ---------------------------------------------------------


def test_public_endpoints_and_unknown_paths(ex):
    ex.server_time_offset_ms = 2500
    assert httpx.get(f"{ex.base_url}/fapi/v1/time").json() == {"serverTime": int(T0 * 1000) + 2500}
    info = httpx.get(f"{ex.base_url}/fapi/v1/exchangeInfo").json()
    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert (filters["PRICE_FILTER"]["tickSize"], filters["LOT_SIZE"]["stepSize"]) == ("0.10", "0.001")
    assert filters["MIN_NOTIONAL"]["notional"] == "100" and btc["pricePrecision"] == 2
    sol = next(s for s in info["symbols"] if s["symbol"] == "SOLUSDT")
    assert sol["quantityPrecision"] == 0
    premium = httpx.get(f"{ex.base_url}/fapi/v1/premiumIndex", params={"symbol": "ETHUSDT"}).json()
    assert premium["markPrice"] == "3000.00" and premium["nextFundingTime"] % (8 * 3600 * 1000) == 0
    missing = httpx.get(f"{ex.base_url}/fapi/v1/nothing")
    assert missing.status_code == 404 and missing.text == "Not Found"


def test_signature_checks_in_order(ex):
    assert ok(call(ex, "GET", "/fapi/v1/positionSide/dual")) == {"dualSidePosition": False}
    refused(call(ex, "GET", "/fapi/v2/balance", key="other", secret="wrong"), -2015, 401)
    refused(call(ex, "GET", "/fapi/v2/balance", secret="wrong"), -1022)
    refused(call(ex, "GET", "/fapi/v2/balance", tamper="&x=1"), -1022)
    bare = httpx.get(f"{ex.base_url}/fapi/v2/balance?timestamp=1", headers={"X-MBX-APIKEY": ex.api_key})
    assert "'signature'" in refused(bare, -1102)


def test_timestamp_window_against_the_server_clock(ex, clock):
    now = int(clock.now * 1000)
    assert ok(call(ex, "GET", "/fapi/v2/balance", timestamp=now + 1000))
    refused(call(ex, "GET", "/fapi/v2/balance", timestamp=now + 1001), -1021)
    assert ok(call(ex, "GET", "/fapi/v2/balance", timestamp=now - 5000))
    refused(call(ex, "GET", "/fapi/v2/balance", timestamp=now - 5001), -1021)
    assert ok(call(ex, "GET", "/fapi/v2/balance", timestamp=now - 9000, recv_window=10000))
    ex.server_time_offset_ms = -3000  # the venue's clock is behind ours
    refused(call(ex, "GET", "/fapi/v2/balance", timestamp=now), -1021)


# --- fills, fees, PnL -------------------------------------------------------------------------


def test_market_open_books_fee_and_margin(ex):
    order = ok(market(ex, "BUY", "0.010", cid="open-1"))
    assert (order["status"], order["avgPrice"], order["executedQty"]) == ("FILLED", "60000.00", "0.010")
    assert order["orderId"] == 1000 and order["clientOrderId"] == "open-1"
    assert ex.balance == D("9999.7") and ex.available_balance == D("9969.7")
    assert ex.positions["BTCUSDT"] == FakePosition(D("0.010"), D("60000"), D("30"), 20, int(T0 * 1000))
    balance = ok(call(ex, "GET", "/fapi/v2/balance"))[0]
    assert (balance["balance"], balance["availableBalance"]) == ("9999.70000000", "9969.70000000")
    trade = ok(call(ex, "GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT"}))[0]
    assert (trade["id"], trade["orderId"], trade["buyer"]) == (1, 1000, True)
    assert trade["commission"] == "0.30000000"
    assert ex.income == [{"symbol": "BTCUSDT", "incomeType": "COMMISSION", "income": "-0.30000000",
                          "asset": "USDT", "info": "", "time": int(T0 * 1000), "tranId": 1, "tradeId": "1"}]


def test_add_then_reduce_weights_entry_and_realizes_pnl(ex):
    ok(market(ex, "BUY", "0.010"))
    ex.set_price("BTCUSDT", "61000")
    ok(market(ex, "BUY", "0.010"))
    assert ex.positions["BTCUSDT"].entry_price == D("60500")
    ex.set_price("BTCUSDT", "62000")
    ok(market(ex, "SELL", "0.010", reduceOnly="true"))
    assert ex.balance == D("10000") - D("0.3") - D("0.305") + D("15") - D("0.31")
    assert ex.available_balance == ex.balance - D("30.25")
    pnl = [r for r in ex.income if r["incomeType"] == "REALIZED_PNL"]
    assert [(r["income"], r["tradeId"]) for r in pnl] == [("15.00000000", "3")]
    risk = ok(call(ex, "GET", "/fapi/v2/positionRisk", {"symbol": "BTCUSDT"}))[0]
    assert (risk["positionAmt"], risk["unRealizedProfit"], risk["isolatedWallet"]) == (
        "0.010", "15.00000000", "30.25000000")
    assert income_sum(ex) == ex.balance - D("10000")


def test_short_pnl_and_commission_rounding(ex):
    ex.set_price("ETHUSDT", "3000.39")
    ok(market(ex, "SELL", "0.007", symbol="ETHUSDT"))
    assert ex.trades[0]["commission"] == "0.01050137"
    ex.set_price("ETHUSDT", "2900")
    ok(market(ex, "BUY", "0.007", symbol="ETHUSDT", reduceOnly="true"))
    assert ex.trades[1]["realizedPnl"] == "0.70273000" and "ETHUSDT" not in ex.positions
    assert income_sum(ex) == ex.balance - D("10000") and ex.balance == ex.available_balance


def test_flat_positions_are_listed(ex):
    rows = ok(call(ex, "GET", "/fapi/v2/positionRisk"))
    assert {r["symbol"]: r["positionAmt"] for r in rows} == {"BTCUSDT": "0.000", "ETHUSDT": "0.000",
                                                             "SOLUSDT": "0"}


# --- refusals ---------------------------------------------------------------------------------


def test_order_refusals(ex):
    refused(market(ex, "BUY", "0.0015"), -1111)
    refused(market(ex, "BUY", "0.5", symbol="SOLUSDT"), -1111)
    assert "no smaller than 100" in refused(market(ex, "BUY", "0.001"), -4164)
    refused(market(ex, "BUY", "5.000"), -2019)  # 300000 notional, 15000 margin > 10000
    refused(market(ex, "SELL", "0.010", reduceOnly="true"), -2022)
    ok(market(ex, "BUY", "0.010", cid="dup"))
    refused(market(ex, "BUY", "0.010", cid="dup"), -4116)
    refused(market(ex, "BUY", "0.010", reduceOnly="true"), -2022)
    refused(market(ex, "SELL", "0.020", reduceOnly="true"), -2022)
    assert ok(market(ex, "SELL", "0.001", reduceOnly="true"))["status"] == "FILLED"  # no min notional
    assert "'quantity'" in refused(market(ex, "BUY", "abc"), -1102)
    assert "'side'" in refused(market(ex, "HOLD", "0.010"), -1102)
    refused(market(ex, "BUY", "1", symbol="DOGEUSDT"), -1121)
    refused(market(ex, "BUY", "0.010", positionSide="LONG"), -4061)
    ex.dual_side = True
    refused(market(ex, "BUY", "0.010"), -4061)
    assert len(ex.trades) == 2  # nothing refused was executed


def test_margin_check_counts_the_fee(clock):
    with FakeExchange(clock=clock, balance=D("30.29")) as ex:  # margin 30 + fee 0.30 > 30.29
        refused(market(ex, "BUY", "0.010"), -2019)
        ex.transfer("0.01")
        assert ok(market(ex, "BUY", "0.010"))["status"] == "FILLED"


def test_settings_endpoints(ex):
    assert ok(call(ex, "POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 5}))["leverage"] == 5
    assert refused(call(ex, "POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 126}),
                   -4028) == "Leverage 126 is not valid"
    isolated = {"symbol": "BTCUSDT", "marginType": "ISOLATED"}
    assert ok(call(ex, "POST", "/fapi/v1/marginType", isolated)) == {"code": 200, "msg": "success"}
    refused(call(ex, "POST", "/fapi/v1/marginType", isolated), -4046)
    ok(market(ex, "BUY", "0.010"))
    assert ex.positions["BTCUSDT"].margin == D("120")  # 600 at leverage 5
    risk = ok(call(ex, "GET", "/fapi/v2/positionRisk", {"symbol": "BTCUSDT"}))[0]
    assert (risk["leverage"], risk["marginType"], risk["liquidationPrice"]) == ("5", "isolated", "48240.00")


def test_api_restrictions(ex):
    assert ok(call(ex, "GET", "/sapi/v1/account/apiRestrictions"))["enableWithdrawals"] is False
    ex.enable_withdrawals = True
    assert ok(call(ex, "GET", "/sapi/v1/account/apiRestrictions"))["enableWithdrawals"] is True
    ex.has_restrictions = False
    gone = call(ex, "GET", "/sapi/v1/account/apiRestrictions")
    assert gone.status_code == 404 and gone.text == "Not Found"


# --- conditional orders -----------------------------------------------------------------------


def test_algo_stop_fills_at_its_trigger_and_leaves_the_take_profit(ex):
    ok(market(ex, "BUY", "0.010"))
    stop = ok(algo(ex, "SELL", "STOP_MARKET", "59000.0", "sl-1"))
    take = ok(algo(ex, "SELL", "TAKE_PROFIT_MARKET", "62000.0", "tp-1"))
    assert stop["algoStatus"] == "NEW" and stop["algoId"] != take["algoId"]
    assert len(ok(call(ex, "GET", "/fapi/v1/openAlgoOrders", {"symbol": "BTCUSDT"}))) == 2
    refused(algo(ex, "SELL", "STOP_MARKET", "58000.0", "sl-1"), -4116)
    refused(algo(ex, "SELL", "STOP_MARKET", "58000.05", "sl-2"), -1111)
    refused(algo(ex, "SELL", "STOP_MARKET", "60000.0", "sl-3"), -2021)
    ex.set_price("BTCUSDT", "58900")
    done = ok(call(ex, "GET", "/fapi/v1/algoOrder", {"clientAlgoId": "sl-1"}))
    assert done["algoStatus"] == "FINISHED"
    child = ok(call(ex, "GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": done["actualOrderId"]}))
    assert (child["status"], child["avgPrice"], child["executedQty"]) == ("FILLED", "59000.00", "0.010")
    assert ex.trades[-1]["realizedPnl"] == "-10.00000000" and ex.trades[-1]["commission"] == "0.29500000"
    assert "BTCUSDT" not in ex.positions
    assert ex.algo_orders[take["algoId"]]["algoStatus"] == "NEW"  # the orphan stays
    assert income_sum(ex) == ex.balance - D("10000") == D("-0.3") - D("10") - D("0.295")


def test_classic_api(clock):
    with FakeExchange(clock=clock, conditional_api="classic") as ex:
        assert algo(ex, "SELL", "STOP_MARKET", "59000.0", "sl").status_code == 404
        ok(market(ex, "SELL", "0.010"))
        params = {"symbol": "BTCUSDT", "side": "BUY", "type": "STOP_MARKET", "stopPrice": "61000.0",
                  "closePosition": "true", "workingType": "MARK_PRICE", "newClientOrderId": "sl"}
        stop = ok(call(ex, "POST", "/fapi/v1/order", params))
        assert stop["status"] == "NEW"
        assert [o["orderId"] for o in ok(call(ex, "GET", "/fapi/v1/openOrders"))] == [stop["orderId"]]
        ex.set_price("BTCUSDT", "61500")
        filled = ok(call(ex, "GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "sl"}))
        assert (filled["status"], filled["avgPrice"]) == ("FILLED", "61000.00")
        assert ex.trades[-1]["orderId"] == stop["orderId"] and ex.trades[-1]["realizedPnl"] == "-10.00000000"


def test_algo_api_refuses_classic_conditionals(ex):
    params = {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "stopPrice": "59000.0",
              "closePosition": "true", "newClientOrderId": "x"}
    assert "Algo Order API" in refused(call(ex, "POST", "/fapi/v1/order", params), -4120)


def test_an_orphan_crossed_while_flat_expires(ex):
    ok(market(ex, "BUY", "0.010"))
    orphan = ok(algo(ex, "SELL", "STOP_MARKET", "59000.0", "sl"))
    ex.close_on_exchange("BTCUSDT")
    assert ex.algo_orders[orphan["algoId"]]["algoStatus"] == "NEW"
    ex.set_price("BTCUSDT", "58000")
    assert ex.algo_orders[orphan["algoId"]]["algoStatus"] == "EXPIRED" and len(ex.trades) == 2


def test_cancels(ex):
    ok(market(ex, "BUY", "0.010", cid="m"))
    stop = ok(algo(ex, "SELL", "STOP_MARKET", "59000.0", "sl"))
    answer = ok(call(ex, "DELETE", "/fapi/v1/algoOrder", {"algoId": stop["algoId"]}))
    assert answer == {"algoId": stop["algoId"], "clientAlgoId": "sl", "code": "200", "msg": "success"}
    refused(call(ex, "DELETE", "/fapi/v1/algoOrder", {"algoId": stop["algoId"]}), -2011)
    refused(call(ex, "DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "m"}), -2011)
    refused(call(ex, "GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": 999}), -2013)
    refused(call(ex, "GET", "/fapi/v1/algoOrder", {"algoId": 1}), -2013)
    ex.set_price("BTCUSDT", "58000")
    assert "BTCUSDT" in ex.positions  # the cancelled stop did not fire


# --- liquidation, manual actions, funding, transfers -----------------------------------------


def test_long_liquidation_loses_the_whole_margin(ex):
    ok(market(ex, "BUY", "0.010"))
    ex.liquidate("BTCUSDT")
    assert "BTCUSDT" not in ex.positions
    order = ex.orders[ex.trades[-1]["orderId"]]
    assert order["clientOrderId"] == "autoclose-1" and order["avgPrice"] == "57240.00"
    rows = [(r["incomeType"], r["income"], r["tradeId"]) for r in ex.income[1:]]
    assert rows == [("REALIZED_PNL", "-27.60000000", "2"), ("INSURANCE_CLEAR", "-2.40000000", "2")]
    assert ex.trades[-1]["commission"] == "0.00000000"
    assert ex.balance == ex.available_balance == D("10000") - D("0.3") - D("30")


def test_short_liquidation_and_a_stop_that_fires_first_on_a_gap(ex):
    ok(call(ex, "POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 10}))
    ok(market(ex, "SELL", "0.010"))
    ex.set_price("BTCUSDT", "65759.9")
    assert "BTCUSDT" in ex.positions
    ex.set_price("BTCUSDT", "65760")
    assert [r["income"] for r in ex.income if r["incomeType"] == "INSURANCE_CLEAR"] == ["-2.40000000"]
    ex.set_price("BTCUSDT", "60000")
    ok(market(ex, "BUY", "0.010"))
    ok(algo(ex, "SELL", "STOP_MARKET", "59000.0", "sl"))
    ex.set_price("BTCUSDT", "40000")  # past the liquidation price (54240) in one move
    assert ex.trades[-1]["price"] == "59000.00" and len(ex.trades) == 4


def test_manual_open_and_close_on_the_venue(ex):
    order = ex.open_on_exchange("ETHUSDT", "SELL", "0.100", leverage=4)
    assert order["clientOrderId"] == "web_1" and ex.positions["ETHUSDT"].margin == D("75")
    ex.set_price("ETHUSDT", "2990")
    closing = ex.close_on_exchange("ETHUSDT")
    assert closing["clientOrderId"] == "web_2" and closing["side"] == "BUY"
    kinds = [(r["incomeType"], r["income"]) for r in ex.income]
    assert kinds == [("COMMISSION", "-0.15000000"), ("REALIZED_PNL", "1.00000000"),
                     ("COMMISSION", "-0.14950000")]


def test_funding_transfers_and_income_filters(ex, clock):
    ok(market(ex, "BUY", "0.010"))
    clock.now += 60
    ex.fund("BTCUSDT", "0.0001")
    ex.fund("ETHUSDT", "0.0001")  # no position, no record
    ex.transfer("-100")
    assert [(r["incomeType"], r["income"], r["symbol"], r["tradeId"]) for r in ex.income[1:]] == [
        ("FUNDING_FEE", "-0.06000000", "BTCUSDT", ""), ("TRANSFER", "-100.00000000", "", "")]
    assert income_sum(ex) == ex.balance - D("10000")
    later = ok(call(ex, "GET", "/fapi/v1/income", {"startTime": int(clock.now * 1000)}))
    assert [r["tranId"] for r in later] == [2, 3]
    only = ok(call(ex, "GET", "/fapi/v1/income", {"incomeType": "COMMISSION", "limit": 100}))
    assert [r["tranId"] for r in only] == [1]
    refused(call(ex, "GET", "/fapi/v1/income", {"limit": 0}), -1102)
    assert "'symbol'" in refused(call(ex, "GET", "/fapi/v1/userTrades"), -1102)
    assert ok(call(ex, "GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT", "fromId": 2})) == []


# --- fault injection --------------------------------------------------------------------------


def test_drop_next_executes_but_answers_nothing(ex):
    ex.drop_next("POST", "/fapi/v1/order")
    with pytest.raises(httpx.RemoteProtocolError):
        market(ex, "BUY", "0.010", cid="lost")
    assert [o["clientOrderId"] for o in ex.orders.values()] == ["lost"]
    refused(market(ex, "BUY", "0.010", cid="lost"), -4116)  # the retry learns it went through
    found = ok(call(ex, "GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "lost"}))
    assert found["status"] == "FILLED"


def test_fail_next_is_not_executed(ex):
    ex.fail_next("POST", "/fapi/v1/order", status=429, retry_after=7, times=2)
    for _ in range(2):
        limited = market(ex, "BUY", "0.010", cid="r")
        refused(limited, -1003, 429)
        assert limited.headers["Retry-After"] == "7"
    assert ex.orders == {}
    assert ok(market(ex, "BUY", "0.010", cid="r"))["status"] == "FILLED"
    ex.fail_next("GET", "/fapi/v2/balance", code=-1001, msg="Internal error.", status=500)
    assert refused(call(ex, "GET", "/fapi/v2/balance"), -1001, 500) == "Internal error."
    assert [r.path for r in ex.requests].count("/fapi/v1/order") == 3
    assert ex.requests[0].params["newClientOrderId"] == "r" and ex.requests[0].headers["x-mbx-apikey"]


def test_fail_after_execute_answers_unknown_status(ex):
    ex.fail_after_execute("POST", "/fapi/v1/algoOrder")
    ok(market(ex, "BUY", "0.010"))
    assert "execution status unknown" in refused(algo(ex, "SELL", "STOP_MARKET", "59000.0", "sl"), -1007, 503)
    assert [a["clientAlgoId"] for a in ok(call(ex, "GET", "/fapi/v1/openAlgoOrders"))] == ["sl"]


def test_concurrent_orders_keep_ids_and_money_consistent(ex):
    results: list[int] = []

    def place(i: int) -> None:
        results.append(market(ex, "BUY", "0.010", cid=f"t-{i}").status_code)

    threads = [threading.Thread(target=place, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 16 and sorted(ex.orders) == list(range(1000, 1016))
    assert ex.positions["BTCUSDT"].amount == D("0.160") and ex.balance == D("10000") - 16 * D("0.3")
