"""The Binance USDT-M feed against recorded-shape payloads (respx: no network)."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
import respx

from trading.feeds import ASTER_BASE_URL, BINANCE_BASE_URL, Candle, FeedError, SymbolInfo, get_feed
from trading.feeds.binance import BinanceFeed

BASE = "https://fapi.example.test"
D = Decimal

# Shapes as documented by Binance (USDⓈ-M futures, market data endpoints).
TICKER_24HR = [
    {
        "symbol": "BTCUSDT", "priceChange": "-1203.40", "priceChangePercent": "-1.968",
        "weightedAvgPrice": "60512.31", "lastPrice": "59950.10", "lastQty": "0.012",
        "openPrice": "61153.50", "highPrice": "61400.00", "lowPrice": "59500.00",
        "volume": "182735.412", "quoteVolume": "11057783120.93", "openTime": 1717372800000,
        "closeTime": 1717459199999, "firstId": 5071000001, "lastId": 5074000000, "count": 2999999,
    },
    {
        "symbol": "DOGEUSDT", "priceChange": "0.004120", "priceChangePercent": "2.825",
        "weightedAvgPrice": "0.148812", "lastPrice": "0.149950", "lastQty": "1200",
        "openPrice": "0.145830", "highPrice": "0.151000", "lowPrice": "0.145000",
        "volume": "6512345678", "quoteVolume": "969123456.12", "openTime": 1717372800000,
        "closeTime": 1717459199999, "firstId": 1, "lastId": 2, "count": 2,
    },
]
PREMIUM_INDEX = [
    {
        "symbol": "BTCUSDT", "markPrice": "59948.71304562", "indexPrice": "59961.80495970",
        "estimatedSettlePrice": "59955.16138815", "lastFundingRate": "0.00038246",
        "interestRate": "0.00010000", "nextFundingTime": 1717430400000, "time": 1717425295002,
    },
]
EXCHANGE_INFO = {
    "timezone": "UTC",
    "serverTime": 1717425295002,
    "futuresType": "U_MARGINED",
    "rateLimits": [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
    ],
    "exchangeFilters": [],
    "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
    "symbols": [
        {
            "symbol": "BTCUSDT", "pair": "BTCUSDT", "contractType": "PERPETUAL",
            "deliveryDate": 4133404800000, "onboardDate": 1569398400000, "status": "TRADING",
            "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000", "baseAsset": "BTC",
            "quoteAsset": "USDT", "marginAsset": "USDT", "pricePrecision": 2, "quantityPrecision": 3,
            "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
            "underlyingSubType": ["PoW"], "settlePlan": 0, "triggerProtect": "0.0500",
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "556.80", "maxPrice": "4529764",
                 "tickSize": "0.10"},
                {"filterType": "LOT_SIZE", "stepSize": "0.001", "maxQty": "1000", "minQty": "0.001"},
                {"filterType": "MARKET_LOT_SIZE", "stepSize": "0.001", "maxQty": "120", "minQty": "0.001"},
                {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                {"filterType": "MIN_NOTIONAL", "notional": "100"},
                {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
                 "multiplierDecimal": "4"},
            ],
            "orderTypes": ["LIMIT", "MARKET", "STOP"], "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
            "liquidationFee": "0.012500", "marketTakeBound": "0.05",
        },
        {
            "symbol": "SOLUSDT", "pair": "SOLUSDT", "contractType": "PERPETUAL", "status": "TRADING",
            "baseAsset": "SOL", "quoteAsset": "USDT", "marginAsset": "USDT",
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0.4200", "maxPrice": "6857",
                 "tickSize": "0.0100"},
                {"filterType": "LOT_SIZE", "stepSize": "1", "maxQty": "1000000", "minQty": "1"},
            ],
        },
        {   # a quarterly future: not a perpetual
            "symbol": "BTCUSDT_250627", "pair": "BTCUSDT", "contractType": "CURRENT_QUARTER",
            "status": "TRADING", "baseAsset": "BTC", "quoteAsset": "USDT", "marginAsset": "USDT",
            "filters": [{"filterType": "PRICE_FILTER", "tickSize": "0.1"},
                        {"filterType": "LOT_SIZE", "stepSize": "0.001"}],
        },
        {   # delisted
            "symbol": "OLDUSDT", "pair": "OLDUSDT", "contractType": "PERPETUAL", "status": "SETTLING",
            "baseAsset": "OLD", "quoteAsset": "USDT", "marginAsset": "USDT",
            "filters": [{"filterType": "PRICE_FILTER", "tickSize": "0.0001"},
                        {"filterType": "LOT_SIZE", "stepSize": "1"}],
        },
        {   # USDC-margined
            "symbol": "BTCUSDC", "pair": "BTCUSDC", "contractType": "PERPETUAL", "status": "TRADING",
            "baseAsset": "BTC", "quoteAsset": "USDC", "marginAsset": "USDC",
            "filters": [{"filterType": "PRICE_FILTER", "tickSize": "0.1"},
                        {"filterType": "LOT_SIZE", "stepSize": "0.001"}],
        },
    ],
}
KLINES = [
    [1717423200000, "59870.00", "59990.50", "59850.10", "59921.30", "1523.412", 1717423259999,
     "91234567.12", 23001, "801.210", "48001234.55", "0"],
    [1717423260000, "59921.30", "59960.00", "59900.00", "59950.10", "812.005", 1717423319999,
     "48700321.40", 15002, "400.100", "23990011.00", "0"],
]


class Sleeps(list):
    """Records the waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def feed(sleeps):
    feed = BinanceFeed(BASE, sleep=sleeps, jitter=lambda: 0.5)
    yield feed
    feed.close()


@pytest.fixture
def api():
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


def test_tickers_join_24h_statistics_and_premium_index(feed, api):
    api.get("/fapi/v1/ticker/24hr").respond(json=TICKER_24HR)
    api.get("/fapi/v1/premiumIndex").respond(json=PREMIUM_INDEX)
    tickers = feed.tickers(["BTCUSDT", "DOGEUSDT", "NOPEUSDT"])
    assert set(tickers) == {"BTCUSDT", "DOGEUSDT"}  # an unquoted symbol is left out
    btc = tickers["BTCUSDT"]
    assert btc.last_price == D("59950.10") and btc.mark_price == D("59948.71304562")
    assert btc.change_24h_pct == D("-1.968") and btc.funding_rate == D("0.00038246")
    assert btc.next_funding_at == datetime(2024, 6, 3, 16, 0, tzinfo=UTC)
    # No premium index row: the last price stands in for the mark, funding unknown.
    doge = tickers["DOGEUSDT"]
    assert (doge.mark_price, doge.funding_rate, doge.next_funding_at) == (D("0.149950"), None, None)


def test_exchange_info_lists_trading_usdt_perpetuals_with_their_filters(feed, api):
    api.get("/fapi/v1/exchangeInfo").respond(json=EXCHANGE_INFO)
    listing = feed.symbols()
    assert listing == {
        "BTCUSDT": SymbolInfo("BTCUSDT", "BTC", "USDT", D("0.10"), D("0.001")),
        "SOLUSDT": SymbolInfo("SOLUSDT", "SOL", "USDT", D("0.0100"), D("1")),
    }


def test_klines_are_parsed_and_requested_with_an_end_time(feed, api):
    route = api.get("/fapi/v1/klines").respond(json=KLINES)
    end = datetime(2024, 6, 3, 14, 1, 30, tzinfo=UTC)
    candles = feed.candles("BTCUSDT", "1m", 2, end=end)
    assert candles == [
        Candle(datetime(2024, 6, 3, 14, 0, tzinfo=UTC), D("59870.00"), D("59990.50"), D("59850.10"),
               D("59921.30"), D("1523.412")),
        Candle(datetime(2024, 6, 3, 14, 1, tzinfo=UTC), D("59921.30"), D("59960.00"), D("59900.00"),
               D("59950.10"), D("812.005")),
    ]
    params = route.calls.last.request.url.params
    assert dict(params) == {"symbol": "BTCUSDT", "interval": "1m", "limit": "2", "endTime": "1717423290000"}


def test_bad_candle_requests_fail_before_any_request(feed, api):
    for interval, limit in (("3m", 10), ("1m", 0), ("1h", 1_501)):
        with pytest.raises(FeedError) as caught:
            feed.candles("BTCUSDT", interval, limit)
        assert caught.value.permanent
    assert not api.calls


def test_rate_limit_waits_for_retry_after_then_succeeds(feed, api, sleeps):
    route = api.get("/fapi/v1/premiumIndex").mock(side_effect=[
        httpx.Response(429, headers={"Retry-After": "2"}, json={"code": -1003, "msg": "Too many requests."}),
        httpx.Response(200, json=PREMIUM_INDEX),
    ])
    api.get("/fapi/v1/ticker/24hr").respond(json=TICKER_24HR)
    assert feed.tickers(["BTCUSDT"])["BTCUSDT"].mark_price == D("59948.71304562")
    assert route.call_count == 2 and sleeps == [2.0]


def test_server_errors_are_retried_three_times_then_transient(feed, api, sleeps):
    route = api.get("/fapi/v1/ticker/24hr").respond(500, text="Internal error")
    with pytest.raises(FeedError) as caught:
        feed.tickers(["BTCUSDT"])
    assert caught.value.permanent is False
    assert "HTTP 500" in str(caught.value) and "/fapi/v1/ticker/24hr" in str(caught.value)
    assert route.call_count == 3
    # Exponential backoff with jitter (fixed at 0.5 here): 0.5 × 1.5, then 1.0 × 1.5.
    assert sleeps == [0.75, 1.5]


def test_a_refused_request_is_permanent_and_not_retried(feed, api, sleeps):
    route = api.get("/fapi/v1/klines").respond(400, json={"code": -1121, "msg": "Invalid symbol."})
    with pytest.raises(FeedError) as caught:
        feed.candles("NOPEUSDT", "1m", 5)
    assert caught.value.permanent is True
    assert "Invalid symbol." in str(caught.value)
    assert route.call_count == 1 and sleeps == []


def test_timeouts_are_retried(feed, api, sleeps):
    route = api.get("/fapi/v1/exchangeInfo").mock(side_effect=[
        httpx.ReadTimeout("timed out"), httpx.ConnectError("connection refused"),
        httpx.Response(200, json=EXCHANGE_INFO),
    ])
    assert "BTCUSDT" in feed.symbols()
    assert route.call_count == 3 and len(sleeps) == 2


def test_persistent_timeouts_are_a_transient_error(feed, api):
    api.get("/fapi/v1/exchangeInfo").mock(side_effect=httpx.ConnectTimeout("timed out"))
    with pytest.raises(FeedError, match="timed out") as caught:
        feed.symbols()
    assert caught.value.permanent is False


def test_a_long_ban_is_not_slept_through(feed, api, sleeps):
    route = api.get("/fapi/v1/ticker/24hr").respond(418, headers={"Retry-After": "600"})
    with pytest.raises(FeedError, match="wait 600 s") as caught:
        feed.tickers(["BTCUSDT"])
    assert caught.value.permanent is False
    assert route.call_count == 1 and sleeps == []


def test_malformed_json_is_a_clear_error(feed, api):
    api.get("/fapi/v1/ticker/24hr").respond(200, text="<html>502 Bad Gateway</html>",
                                             headers={"Content-Type": "text/html"})
    with pytest.raises(FeedError, match="malformed JSON") as caught:
        feed.tickers(["BTCUSDT"])
    assert "<html>" in str(caught.value)


def test_an_unexpected_payload_shape_is_a_feed_error(feed, api):
    api.get("/fapi/v1/ticker/24hr").respond(json=[{"symbol": "BTCUSDT", "lastPrice": 59950.1}])
    api.get("/fapi/v1/premiumIndex").respond(json=PREMIUM_INDEX)
    with pytest.raises(FeedError, match="unexpected payload"):
        feed.tickers(["BTCUSDT"])  # a float, not Binance's string: refused, never rounded
    no_filters = {"symbol": "XUSDT", "status": "TRADING", "contractType": "PERPETUAL",
                  "baseAsset": "X", "quoteAsset": "USDT", "filters": []}
    api.get("/fapi/v1/exchangeInfo").respond(json={"symbols": [no_filters]})
    with pytest.raises(FeedError, match="unexpected payload"):
        feed.symbols()


def test_price_range_is_unknown_over_rest(feed, api):
    start = datetime(2024, 6, 3, tzinfo=UTC)
    assert feed.price_range("BTCUSDT", start, start.replace(minute=1)) is None
    assert not api.calls


def test_get_feed_picks_the_exchange_and_honours_a_base_url_override(settings):
    settings.ARENA_FEED_BASE_URL = None
    binance, aster = get_feed("binance"), get_feed("aster")
    assert binance.client.base_url == BINANCE_BASE_URL and aster.client.base_url == ASTER_BASE_URL
    settings.ARENA_FEED_BASE_URL = "https://testnet.binancefuture.com/"
    testnet = get_feed("binance")
    assert testnet.client.base_url == "https://testnet.binancefuture.com"
    for feed in (binance, aster, testnet):
        feed.close()


def test_the_base_url_reaches_the_requests(sleeps):
    feed = BinanceFeed("https://fapi.asterdex.test", sleep=sleeps)
    with respx.mock(base_url="https://fapi.asterdex.test") as router:
        router.get("/fapi/v1/exchangeInfo").respond(json=EXCHANGE_INFO)
        assert set(feed.symbols()) == {"BTCUSDT", "SOLUSDT"}
    feed.close()
