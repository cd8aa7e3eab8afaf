"""ExchangeClient against respx: the exact requests sent, and how the answers are parsed."""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qsl

import httpx
import pytest
import respx

from trading.exchanges import ConditionalOrder, ExchangeClient, ExchangeError

D = Decimal
BASE = "http://127.0.0.1:18080"
KEY = "test-key-AKIA-5f2c9e"
SECRET = "test-secret-9d41b7e0c3"
NOW = 1_700_000_000.0  # the client's clock, seconds
SERVER_MS = 1_700_000_000_250  # the venue is 250 ms ahead
TIMESTAMP = SERVER_MS  # NOW in ms plus the measured offset
T0 = datetime.fromtimestamp(1_700_000_000, tz=UTC)

ORDER = {
    "orderId": 123, "symbol": "BTCUSDT", "status": "FILLED", "clientOrderId": "arena-7-0", "price": "0",
    "avgPrice": "60000.10", "origQty": "0.010", "executedQty": "0.010", "cumQuote": "600.0010",
    "timeInForce": "GTC", "type": "MARKET", "reduceOnly": False, "closePosition": False, "side": "BUY",
    "positionSide": "BOTH", "stopPrice": "0", "workingType": "CONTRACT_PRICE", "origType": "MARKET",
    "updateTime": 1_700_000_001_000,
}
STOP = {**ORDER, "orderId": 124, "clientOrderId": "arena-7-sl", "status": "NEW", "type": "STOP_MARKET",
        "origType": "STOP_MARKET", "side": "SELL", "stopPrice": "58000.0", "closePosition": True,
        "avgPrice": "0", "origQty": "0", "executedQty": "0", "workingType": "MARK_PRICE"}
ALGO = {"algoId": 456, "clientAlgoId": "arena-7-tp", "algoType": "CONDITIONAL",
        "orderType": "TAKE_PROFIT_MARKET", "symbol": "BTCUSDT", "side": "SELL", "positionSide": "BOTH",
        "algoStatus": "NEW",
        "triggerPrice": "65000.0", "workingType": "MARK_PRICE", "closePosition": True,
        "createTime": 1_700_000_000_000, "updateTime": 1_700_000_000_000}


class Clock:
    """The client's clock and sleep: time moves only when the client sleeps or a test says so."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def make_client(clock: Clock, **options) -> ExchangeClient:
    return ExchangeClient(base_url=BASE, api_key=KEY, api_secret=SECRET, name="Binance", clock=clock,
                          sleep=clock.sleep, **options)


def signed_params(request: httpx.Request, *, timestamp: int = TIMESTAMP) -> list[tuple[str, str]]:
    """The request's own parameters, after checking the key header, the signature and the trailer."""
    assert request.headers["X-MBX-APIKEY"] == KEY
    assert request.content == b""  # parameters travel in the query string, even for POST
    payload, _, sig = request.url.query.decode().rpartition("&signature=")
    assert sig == hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
    pairs = parse_qsl(payload, keep_blank_values=True)
    assert pairs[-2:] == [("timestamp", str(timestamp)), ("recvWindow", "5000")]
    return pairs[:-2]


def venue_error(status: int, code: int, msg: str, **headers) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "msg": msg}, headers=headers)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@contextmanager
def mocked_venue() -> Iterator[respx.MockRouter]:
    """The venue's far side: a respx router on BASE that already answers the server time."""
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.get("/fapi/v1/time", name="time").mock(
            return_value=httpx.Response(200, json={"serverTime": SERVER_MS}))
        yield router


@pytest.fixture
def venue():
    with mocked_venue() as router:
        yield router


@pytest.fixture
def client(clock, venue):
    with make_client(clock) as client:
        yield client


def test_sync_time_measures_the_offset_and_the_first_signed_call_syncs_once(client, venue):
    dual = venue.get("/fapi/v1/positionSide/dual").mock(
        return_value=httpx.Response(200, json={"dualSidePosition": False}))
    assert client.hedge_mode() is False
    assert client.hedge_mode() is False
    assert client.time_offset_ms == 250
    assert venue["time"].call_count == 1
    assert [signed_params(call.request) for call in dual.calls] == [[], []]


def test_exchange_info_is_parsed_and_read_once(client, venue):
    info = venue.get("/fapi/v1/exchangeInfo").mock(return_value=httpx.Response(200, json={
        "timezone": "UTC", "serverTime": SERVER_MS, "symbols": [{
            "symbol": "BTCUSDT", "status": "TRADING", "filters": [
                {"filterType": "PRICE_FILTER", "tickSize": "0.10"},
                {"filterType": "LOT_SIZE", "stepSize": "0.001", "minQty": "0.001", "maxQty": "1000"},
                {"filterType": "MARKET_LOT_SIZE", "stepSize": "0.001", "minQty": "0.001", "maxQty": "120"},
                {"filterType": "MIN_NOTIONAL", "notional": "100"}]}]}))
    rules = client.symbol_rules("BTCUSDT")
    assert (rules.tick_size, rules.step_size, rules.max_qty, rules.min_notional) == (
        D("0.10"), D("0.001"), D("120"), D("100"))
    with pytest.raises(ExchangeError) as caught:
        client.symbol_rules("NOPEUSDT")
    assert caught.value.permanent and "Binance does not list NOPEUSDT" in str(caught.value)
    assert info.call_count == 1
    assert "X-MBX-APIKEY" not in info.calls.last.request.headers  # public: no key sent


def test_mark_price_is_public(client, venue):
    route = venue.get("/fapi/v1/premiumIndex").mock(return_value=httpx.Response(200, json={
        "symbol": "ETHUSDT", "markPrice": "3000.55", "lastFundingRate": "0.0001", "time": SERVER_MS}))
    assert client.mark_price("ETHUSDT") == D("3000.55")
    assert route.calls.last.request.url.query == b"symbol=ETHUSDT"
    assert venue["time"].call_count == 0


def test_leverage_and_isolated_margin(client, venue):
    leverage = venue.post("/fapi/v1/leverage").mock(return_value=httpx.Response(
        200, json={"leverage": 5, "maxNotionalValue": "1000000", "symbol": "BTCUSDT"}))
    margin = venue.post("/fapi/v1/marginType").mock(side_effect=[
        httpx.Response(200, json={"code": 200, "msg": "success"}),
        venue_error(400, -4046, "No need to change margin type."),
        venue_error(400, -2015, "Invalid API-key, IP, or permissions for action."),
    ])
    assert client.set_leverage("BTCUSDT", 5) == 5
    assert signed_params(leverage.calls.last.request) == [("symbol", "BTCUSDT"), ("leverage", "5")]
    assert client.set_isolated("BTCUSDT") is None
    assert client.set_isolated("BTCUSDT") is None  # already isolated: a success
    with pytest.raises(ExchangeError) as caught:
        client.set_isolated("BTCUSDT")
    assert caught.value.code == -2015 and caught.value.permanent
    assert signed_params(margin.calls[0].request) == [("symbol", "BTCUSDT"), ("marginType", "ISOLATED")]


def test_market_order_sends_the_documented_parameters_and_parses_the_fill(client, venue):
    route = venue.post("/fapi/v1/order").mock(return_value=httpx.Response(200, json=ORDER))
    order = client.market_order(symbol="BTCUSDT", side="BUY", quantity=D("0.0100"),
                                client_order_id="arena-7-0")
    assert signed_params(route.calls.last.request) == [
        ("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "MARKET"), ("quantity", "0.01"),
        ("newClientOrderId", "arena-7-0"), ("newOrderRespType", "RESULT")]
    assert (order.order_id, order.client_order_id, order.status, order.type) == (
        "123", "arena-7-0", "FILLED", "MARKET")
    assert (order.orig_qty, order.executed_qty, order.avg_price) == (D("0.010"), D("0.010"), D("60000.10"))
    assert order.stop_price is None and not order.reduce_only and not order.close_position
    assert order.update_time == datetime(2023, 11, 14, 22, 13, 21, tzinfo=UTC)


def test_reduce_only_market_order(client, venue):
    route = venue.post("/fapi/v1/order").mock(
        return_value=httpx.Response(200, json={**ORDER, "reduceOnly": True}))
    order = client.market_order(symbol="BTCUSDT", side="SELL", quantity=D("1E+1"), client_order_id="c1",
                                reduce_only=True)
    params = signed_params(route.calls.last.request)
    assert params[3] == ("quantity", "10")
    assert params[5:] == [("reduceOnly", "true"), ("newOrderRespType", "RESULT")]
    assert order.reduce_only


def test_order_lookup_by_either_id_and_none_when_unknown(client, venue):
    route = venue.get("/fapi/v1/order").mock(side_effect=[
        httpx.Response(200, json=ORDER), httpx.Response(200, json=ORDER),
        venue_error(400, -2013, "Order does not exist.")])
    assert client.order(symbol="BTCUSDT", client_order_id="arena-7-0").order_id == "123"
    assert client.order(symbol="BTCUSDT", order_id="123").client_order_id == "arena-7-0"
    assert client.order(symbol="BTCUSDT", client_order_id="never-sent") is None
    assert [signed_params(c.request) for c in route.calls] == [
        [("symbol", "BTCUSDT"), ("origClientOrderId", "arena-7-0")],
        [("symbol", "BTCUSDT"), ("orderId", "123")],
        [("symbol", "BTCUSDT"), ("origClientOrderId", "never-sent")]]
    with pytest.raises(ValueError):
        client.order(symbol="BTCUSDT")


def test_cancel_order_and_none_when_unknown_or_final(client, venue):
    route = venue.delete("/fapi/v1/order").mock(side_effect=[
        httpx.Response(200, json={**STOP, "status": "CANCELED"}),
        venue_error(400, -2011, "Unknown order sent.")])
    assert client.cancel_order(symbol="BTCUSDT", order_id="124").status == "CANCELED"
    assert client.cancel_order(symbol="BTCUSDT", client_order_id="gone") is None
    assert signed_params(route.calls[0].request) == [("symbol", "BTCUSDT"), ("orderId", "124")]


def test_open_orders(client, venue):
    route = venue.get("/fapi/v1/openOrders").mock(return_value=httpx.Response(200, json=[STOP]))
    assert [o.order_id for o in client.open_orders("BTCUSDT")] == ["124"]
    assert signed_params(route.calls.last.request) == [("symbol", "BTCUSDT")]
    client.open_orders()
    assert signed_params(route.calls.last.request) == []


def test_algo_conditional_order(client, venue):
    route = venue.post("/fapi/v1/algoOrder").mock(return_value=httpx.Response(200, json=ALGO))
    placed = client.conditional_order(symbol="BTCUSDT", side="SELL", type="TAKE_PROFIT_MARKET",
                                      trigger_price=D("65000.00"), client_id="arena-7-tp")
    assert signed_params(route.calls.last.request) == [
        ("algoType", "CONDITIONAL"), ("symbol", "BTCUSDT"), ("side", "SELL"), ("type", "TAKE_PROFIT_MARKET"),
        ("triggerPrice", "65000"), ("closePosition", "true"), ("workingType", "MARK_PRICE"),
        ("clientAlgoId", "arena-7-tp")]
    assert placed == ConditionalOrder(order_id="456", client_id="arena-7-tp", symbol="BTCUSDT", side="SELL",
                                      type="TAKE_PROFIT_MARKET", status="NEW", trigger_price=D("65000.0"),
                                      algo=True, actual_order_id=None)
    assert placed.open


def test_classic_conditional_order(clock, venue):
    route = venue.post("/fapi/v1/order").mock(return_value=httpx.Response(200, json=STOP))
    with make_client(clock, conditional_api="classic") as client:
        placed = client.conditional_order(symbol="BTCUSDT", side="SELL", type="STOP_MARKET",
                                          trigger_price=D("58000.0"), client_id="arena-7-sl")
    assert signed_params(route.calls.last.request) == [
        ("symbol", "BTCUSDT"), ("side", "SELL"), ("type", "STOP_MARKET"), ("stopPrice", "58000"),
        ("closePosition", "true"), ("workingType", "MARK_PRICE"), ("newClientOrderId", "arena-7-sl")]
    assert (placed.order_id, placed.type, placed.trigger_price, placed.algo) == ("124", "STOP_MARKET",
                                                                                 D("58000.0"), False)
    with pytest.raises(ValueError):
        client.conditional_order(symbol="BTCUSDT", side="SELL", type="LIMIT", trigger_price=D(1),
                                 client_id="x")


def test_algo_lookup_cancel_and_open_list(client, venue):
    lookup = venue.get("/fapi/v1/algoOrder").mock(side_effect=[
        httpx.Response(200, json={**ALGO, "algoStatus": "FINISHED", "actualOrderId": 789}),
        venue_error(400, -2013, "Order does not exist.")])
    cancel = venue.delete("/fapi/v1/algoOrder").mock(side_effect=[
        httpx.Response(200, json={"algoId": 456, "clientAlgoId": "arena-7-tp", "code": "200",
                                  "msg": "success"}),
        venue_error(400, -2011, "Unknown order sent.")])
    listing = venue.get("/fapi/v1/openAlgoOrders").mock(return_value=httpx.Response(200, json=[ALGO]))
    finished = client.conditional(symbol="BTCUSDT", client_id="arena-7-tp")
    assert (finished.status, finished.open, finished.actual_order_id) == ("FINISHED", False, "789")
    assert client.conditional(symbol="BTCUSDT", client_id="unknown") is None
    assert signed_params(lookup.calls[0].request) == [("clientAlgoId", "arena-7-tp")]
    assert client.cancel_conditional(symbol="BTCUSDT", order_id="456") is True
    assert client.cancel_conditional(symbol="BTCUSDT", client_id="arena-7-tp") is False
    assert [signed_params(c.request) for c in cancel.calls] == [
        [("algoId", "456")], [("clientAlgoId", "arena-7-tp")]]
    assert [c.order_id for c in client.open_conditionals("BTCUSDT")] == ["456"]
    assert signed_params(listing.calls.last.request) == [("symbol", "BTCUSDT")]


def test_classic_lookup_cancel_and_open_list_keeps_only_conditionals(clock, venue):
    venue.get("/fapi/v1/order").mock(return_value=httpx.Response(200, json=STOP))
    cancel = venue.delete("/fapi/v1/order").mock(return_value=venue_error(400, -2011, "Unknown order sent."))
    venue.get("/fapi/v1/openOrders").mock(return_value=httpx.Response(200, json=[
        STOP, {**ORDER, "status": "NEW", "type": "LIMIT"}]))
    with make_client(clock, conditional_api="classic") as client:
        assert client.conditional(symbol="BTCUSDT", client_id="arena-7-sl").trigger_price == D("58000.0")
        assert client.cancel_conditional(symbol="BTCUSDT", client_id="arena-7-sl") is False
        assert [c.client_id for c in client.open_conditionals()] == ["arena-7-sl"]
    assert signed_params(cancel.calls.last.request) == [
        ("symbol", "BTCUSDT"), ("origClientOrderId", "arena-7-sl")]


def test_positions_are_parsed_with_their_side(client, venue):
    common = {"breakEvenPrice": "0", "maxNotionalValue": "1000000", "marginType": "isolated",
              "isAutoAddMargin": "false", "positionSide": "BOTH", "notional": "0", "isolatedWallet": "0",
              "updateTime": 1_700_000_002_000}
    route = venue.get("/fapi/v2/positionRisk").mock(return_value=httpx.Response(200, json=[
        {**common, "symbol": "BTCUSDT", "positionAmt": "-0.010", "entryPrice": "60000.0",
         "markPrice": "59000.0", "unRealizedProfit": "10.00", "liquidationPrice": "62760.0", "leverage": "20",
         "isolatedMargin": "30.0"},
        {**common, "symbol": "ETHUSDT", "positionAmt": "0.000", "entryPrice": "0.0", "markPrice": "3000.0",
         "unRealizedProfit": "0.0", "liquidationPrice": "0", "leverage": "20", "isolatedMargin": "0"}]))
    short, flat = client.positions()
    assert (short.side, short.amount, short.unrealized_pnl, short.leverage) == (
        "SHORT", D("-0.010"), D(10), 20)
    assert (short.liquidation_price, short.isolated_margin, short.margin_type) == (
        D("62760"), D(30), "isolated")
    assert (flat.side, flat.liquidation_price) == (None, None)
    client.positions("BTCUSDT")
    assert signed_params(route.calls.last.request) == [("symbol", "BTCUSDT")]


def test_balance_of_the_asset_or_zero_when_not_listed(client, venue):
    venue.get("/fapi/v2/balance").mock(return_value=httpx.Response(200, json=[{
        "accountAlias": "x", "asset": "USDT", "balance": "1000.00000000", "crossWalletBalance": "1000",
        "crossUnPnl": "-1.5", "availableBalance": "970.0", "maxWithdrawAmount": "970",
        "marginAvailable": True, "updateTime": 1_700_000_000_000}]))
    usdt = client.balance()
    assert (usdt.balance, usdt.available_balance, usdt.cross_unrealized_pnl) == (D(1000), D(970), D("-1.5"))
    assert usdt.update_time == T0
    usdc = client.balance("USDC")
    assert (usdc.balance, usdc.available_balance, usdc.update_time) == (0, 0, None)


def test_user_trades_parameters_and_parsing(client, venue):
    route = venue.get("/fapi/v1/userTrades").mock(return_value=httpx.Response(200, json=[{
        "id": 1, "orderId": 123, "symbol": "BTCUSDT", "side": "BUY", "price": "60000.1", "qty": "0.010",
        "quoteQty": "600.001", "realizedPnl": "0", "commission": "0.30000050", "commissionAsset": "USDT",
        "time": 1_700_000_001_000, "buyer": True, "maker": False, "positionSide": "BOTH"}]))
    (trade,) = client.user_trades(symbol="BTCUSDT", order_id="123", start_time=T0, from_id="1", limit=50)
    assert signed_params(route.calls.last.request) == [
        ("symbol", "BTCUSDT"), ("orderId", "123"), ("startTime", "1700000000000"), ("fromId", "1"),
        ("limit", "50")]
    assert (trade.trade_id, trade.order_id, trade.commission, trade.quote_qty) == ("1", "123", D("0.3000005"),
                                                                                   D("600.001"))
    client.user_trades(symbol="ETHUSDT")
    assert signed_params(route.calls.last.request) == [("symbol", "ETHUSDT"), ("limit", "500")]


def income(tran_id: int, ms: int, kind: str = "COMMISSION", trade_id: str = "7") -> dict:
    return {"symbol": "BTCUSDT", "incomeType": kind, "income": "-0.30000000", "asset": "USDT", "info": "",
            "time": ms, "tranId": tran_id, "tradeId": trade_id}


def test_income_parameters_and_parsing(client, venue):
    route = venue.get("/fapi/v1/income").mock(return_value=httpx.Response(200, json=[
        income(9, 1_700_000_000_000), {**income(10, 1_700_000_000_500, "TRANSFER", ""), "symbol": ""}]))
    fee, transfer = client.income(symbol="BTCUSDT", income_type="COMMISSION", start_time=T0, end_time=T0,
                                  limit=100)
    assert signed_params(route.calls.last.request) == [
        ("symbol", "BTCUSDT"), ("incomeType", "COMMISSION"), ("startTime", "1700000000000"),
        ("endTime", "1700000000000"), ("limit", "100")]
    assert (fee.tran_id, fee.amount, fee.trade_id, fee.time) == ("9", D("-0.3"), "7", T0)
    assert (transfer.income_type, transfer.symbol, transfer.trade_id) == ("TRANSFER", "", "")


def test_income_since_pages_from_the_last_time_and_drops_repeats(client, venue):
    start = 1_700_000_000_000
    first = [income(n, start + n) for n in range(1, 1001)]  # tranId 1..1000, the last at start + 1000
    second = [income(1000, start + 1000), income(1001, start + 1000, "REALIZED_PNL"),
              income(1002, start + 1500)]
    route = venue.get("/fapi/v1/income").mock(side_effect=[httpx.Response(200, json=first),
                                                           httpx.Response(200, json=second)])
    records = client.income_since(T0)
    assert [r.tran_id for r in records] == [str(n) for n in range(1, 1003)]
    starts = [dict(signed_params(c.request))["startTime"] for c in route.calls]
    assert starts == [str(start), str(start + 1000)]
    assert dict(signed_params(route.calls[0].request))["limit"] == "1000"


def test_income_since_moves_past_a_full_page_within_one_millisecond(client, venue):
    start = 1_700_000_000_000
    same_ms = [income(n, start) for n in range(1, 1001)]
    route = venue.get("/fapi/v1/income").mock(side_effect=[httpx.Response(200, json=same_ms),
                                                           httpx.Response(200, json=[])])
    assert len(client.income_since(T0)) == 1000
    assert dict(signed_params(route.calls[1].request))["startTime"] == str(start + 1)


def test_api_restrictions_parsed_none_on_404_and_url_override(clock, venue):
    body = {"ipRestrict": True, "createTime": SERVER_MS, "enableWithdrawals": False, "enableReading": True,
            "enableFutures": True, "enableMargin": False}
    venue.get("/sapi/v1/account/apiRestrictions").mock(side_effect=[
        httpx.Response(200, json=body), httpx.Response(404, text="Not Found")])
    with make_client(clock) as client:
        restrictions = client.api_restrictions()
        assert (restrictions.enable_futures, restrictions.enable_reading, restrictions.enable_withdrawals,
                restrictions.ip_restrict) == (True, True, False, True)
        assert client.api_restrictions() is None
    seen: list[httpx.Request] = []

    def elsewhere(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/fapi/v1/time":
            return httpx.Response(200, json={"serverTime": SERVER_MS})
        return httpx.Response(200, json=body)

    url = "https://api.example.test/sapi/v1/account/apiRestrictions"
    with make_client(clock, restrictions_url=url, transport=httpx.MockTransport(elsewhere)) as client:
        assert client.api_restrictions().enable_futures
    assert str(seen[-1].url).startswith(url + "?")
    signed_params(seen[-1])


def test_repr_and_errors_never_show_the_key_or_secret(client, venue):
    venue.post("/fapi/v1/order").mock(
        return_value=venue_error(400, -1022, "Signature for this request is not valid."))
    assert repr(client) == f"ExchangeClient(name='Binance', base_url='{BASE}')"
    with pytest.raises(ExchangeError) as caught:
        client.market_order(symbol="BTCUSDT", side="BUY", quantity=D("0.01"), client_order_id="c")
    shown = f"{caught.value} {caught.value!r} {caught.value.__dict__}"
    assert KEY not in shown and SECRET not in shown and "signature=" not in shown
    assert "check the wallet's API key and secret" in str(caught.value)
