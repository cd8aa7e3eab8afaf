"""Binance USDT-M futures public market data (REST), also served by Aster DEX.

API: https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api
(Aster's ``https://fapi.asterdex.com`` exposes the same ``/fapi/v1`` paths and payloads).
Only public, unsigned endpoints are used; one small function per endpoint below.

Transport rules (``BinanceClient``): a 10 s timeout; at most 3 attempts, retrying
only what may pass (HTTP 429 "too many requests", 418 "IP banned for ignoring 429",
5xx, timeouts, connection errors) with exponential backoff plus jitter, or after
the server's ``Retry-After`` when it sends one. A wait longer than ``max_wait`` is
not slept through — a refresh every few seconds must not hang for minutes — it fails
at once as a transient ``FeedError``. Other 4xx are permanent. Numbers are parsed as
``Decimal`` from Binance's strings, never through float.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from trading import perps
from trading.feeds import BINANCE_BASE_URL, INTERVALS, Candle, FeedError, SymbolInfo, Ticker

TIMEOUT_SECONDS = 10.0
MAX_ATTEMPTS = 3
BACKOFF_SECONDS = 0.5  # first retry after 0.5–1 s, the second after 1–2 s
MAX_WAIT_SECONDS = 30.0
MAX_KLINES = 1_500  # Binance's klines limit


def _ms(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def _to_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _decimal(value: Any) -> Decimal:
    # Binance sends numbers as strings; a float here would already have lost digits.
    if not isinstance(value, str | int):
        raise TypeError(f"expected a number as a string, got {value!r}")
    result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


class BinanceClient:
    """GET requests to one Binance-compatible futures host, with bounded retries."""

    def __init__(
        self,
        base_url: str = BINANCE_BASE_URL,
        *,
        timeout: float = TIMEOUT_SECONDS,
        max_attempts: int = MAX_ATTEMPTS,
        max_wait: float = MAX_WAIT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_attempts = max(1, max_attempts)
        self.max_wait = max_wait
        self._sleep = sleep
        self._jitter = jitter
        self._http = httpx.Client(
            base_url=self.base_url, timeout=timeout, transport=transport,
            headers={"Accept": "application/json", "User-Agent": "arena-market-feed/1.0"},
        )

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """The decoded JSON of ``GET path``; ``FeedError`` once retries are exhausted."""
        what = f"GET {self.base_url}{path}"
        for attempt in range(1, self.max_attempts + 1):
            retry_after: float | None = None
            try:
                response = self._http.get(path, params=params)
            except httpx.TimeoutException as exc:
                error = FeedError(f"{what}: timed out ({type(exc).__name__})")
            except httpx.TransportError as exc:
                error = FeedError(f"{what}: {type(exc).__name__}: {exc}")
            else:
                status = response.status_code
                if status < 400:
                    return _json(what, response)
                error = FeedError(f"{what}: HTTP {status}{_binance_message(response)}",
                                  permanent=not _retryable(status))
                if error.permanent:
                    raise error
                retry_after = _retry_after(response)
            if attempt == self.max_attempts:
                raise error
            wait = retry_after if retry_after is not None else self._backoff(attempt)
            if wait > self.max_wait:
                raise FeedError(f"{error}; the server asks to wait {wait:.0f} s, longer than "
                                f"{self.max_wait:.0f} s, so not retrying now")
            self._sleep(wait)
        raise AssertionError("unreachable: the loop returns or raises")

    def _backoff(self, attempt: int) -> float:
        base = BACKOFF_SECONDS * 2 ** (attempt - 1)
        return base * (1 + self._jitter())


def _retryable(status: int) -> bool:
    return status in (418, 429) or status >= 500


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (Binance sends whole seconds), or None when absent or unreadable."""
    value = response.headers.get("Retry-After", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _binance_message(response: httpx.Response) -> str:
    """Binance's own ``{"code": -1121, "msg": "Invalid symbol."}``, when the body has one."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict) and "msg" in body:
        return f" (code {body.get('code')}: {body['msg']})"
    return ""


def _json(what: str, response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        snippet = response.text[:80].replace("\n", " ")
        raise FeedError(f"{what}: malformed JSON in the response ({exc}); it starts {snippet!r}") from None


def _parsed(what: str, parse: Callable[[], Any]) -> Any:
    """Run ``parse`` over a decoded payload, turning any shape error into a ``FeedError``."""
    try:
        return parse()
    except (KeyError, IndexError, TypeError, ValueError, InvalidOperation) as exc:
        raise FeedError(f"{what}: unexpected payload ({type(exc).__name__}: {exc})") from None


# --- endpoints -----------------------------------------------------------------------


@dataclass(frozen=True)
class DayStats:
    """A symbol's rolling 24-hour statistics."""

    symbol: str
    last_price: Decimal
    change_pct: Decimal


@dataclass(frozen=True)
class PremiumIndex:
    """A symbol's mark price and the funding rate it would pay at the next funding time."""

    symbol: str
    mark_price: Decimal
    funding_rate: Decimal | None
    next_funding_at: datetime | None


def ticker_24hr(client: BinanceClient) -> dict[str, DayStats]:
    """GET /fapi/v1/ticker/24hr (all symbols, weight 40): last price and 24 h change."""
    rows = client.get("/fapi/v1/ticker/24hr")

    def parse() -> dict[str, DayStats]:
        return {
            row["symbol"]: DayStats(
                row["symbol"], _decimal(row["lastPrice"]), _decimal(row["priceChangePercent"])
            )
            for row in rows
        }

    return _parsed("GET /fapi/v1/ticker/24hr", parse)


def premium_index(client: BinanceClient) -> dict[str, PremiumIndex]:
    """GET /fapi/v1/premiumIndex (all symbols, weight 10): mark price, lastFundingRate
    (the rate due at nextFundingTime) and nextFundingTime (ms; 0 for delivery contracts)."""
    rows = client.get("/fapi/v1/premiumIndex")

    def parse() -> dict[str, PremiumIndex]:
        result = {}
        for row in rows:
            rate = row.get("lastFundingRate")
            next_time = int(row.get("nextFundingTime") or 0)
            result[row["symbol"]] = PremiumIndex(
                row["symbol"], _decimal(row["markPrice"]),
                _decimal(rate) if rate not in (None, "") else None,
                _ms(next_time) if next_time > 0 else None,
            )
        return result

    return _parsed("GET /fapi/v1/premiumIndex", parse)


def _filter(symbol: dict[str, Any], kind: str, field: str) -> Decimal:
    for item in symbol["filters"]:
        if item["filterType"] == kind:
            return _decimal(item[field])
    raise KeyError(f"{symbol['symbol']} has no {kind} filter")


def exchange_info(client: BinanceClient) -> dict[str, SymbolInfo]:
    """GET /fapi/v1/exchangeInfo (weight 1): the USDT-margined perpetuals now TRADING, with
    PRICE_FILTER tickSize and LOT_SIZE stepSize. Leverage brackets need a signed request
    (/fapi/v1/leverageBracket), so ``max_leverage`` is left to ``trading.tiers``."""
    payload = client.get("/fapi/v1/exchangeInfo")

    def parse() -> dict[str, SymbolInfo]:
        return {
            row["symbol"]: SymbolInfo(
                symbol=row["symbol"], base_asset=row["baseAsset"], quote_asset=row["quoteAsset"],
                tick_size=_filter(row, "PRICE_FILTER", "tickSize"),
                step_size=_filter(row, "LOT_SIZE", "stepSize"),
            )
            for row in payload["symbols"]
            if row.get("status") == "TRADING" and row.get("contractType") == "PERPETUAL"
            and row.get("quoteAsset") == "USDT"
        }

    return _parsed("GET /fapi/v1/exchangeInfo", parse)


def klines(
    client: BinanceClient, symbol: str, interval: str, limit: int, end: datetime | None = None
) -> list[Candle]:
    """GET /fapi/v1/klines: up to ``limit`` candles opened at or before ``end``, oldest first.

    Rows are ``[openTime, open, high, low, close, volume, closeTime, quoteVolume, trades,
    takerBuyBase, takerBuyQuote, ignore]``; volume is in the base asset.
    """
    params: dict[str, Any] = {"symbol": symbol, "interval": interval, "limit": limit}
    if end is not None:
        params["endTime"] = _to_ms(end)
    rows = client.get("/fapi/v1/klines", params=params)

    def parse() -> list[Candle]:
        return [
            Candle(_ms(row[0]), _decimal(row[1]), _decimal(row[2]), _decimal(row[3]),
                   _decimal(row[4]), _decimal(row[5]))
            for row in rows
        ]

    return _parsed("GET /fapi/v1/klines", parse)


# --- the feed ------------------------------------------------------------------------


class BinanceFeed:
    """The ``Feed`` protocol over a Binance-compatible host (Binance, its testnet, Aster)."""

    def __init__(self, base_url: str = BINANCE_BASE_URL, *, client: BinanceClient | None = None,
                 **client_options: Any) -> None:
        self.client = client or BinanceClient(base_url, **client_options)

    def close(self) -> None:
        self.client.close()

    def tickers(self, symbols: Iterable[str]) -> dict[str, Ticker]:
        """Two requests whatever the number of symbols: 24 h statistics and premium index.

        A symbol without a premium index row (rare: just listed) gets its last price as
        mark price and no funding rate.
        """
        wanted = set(symbols)
        stats = ticker_24hr(self.client)
        premiums = premium_index(self.client)
        result = {}
        for symbol in sorted(wanted & stats.keys()):
            day, premium = stats[symbol], premiums.get(symbol)
            result[symbol] = Ticker(
                symbol=symbol, last_price=day.last_price,
                mark_price=premium.mark_price if premium else day.last_price,
                change_24h_pct=day.change_pct,
                funding_rate=premium.funding_rate if premium else None,
                next_funding_at=premium.next_funding_at if premium else None,
            )
        return result

    def symbols(self, wanted: Iterable[str] | None = None) -> dict[str, SymbolInfo]:
        """The whole listing (``wanted`` is ignored: an exchange lists what it lists)."""
        return exchange_info(self.client)

    def candles(
        self, symbol: str, interval: str, limit: int, end: datetime | None = None
    ) -> list[Candle]:
        if interval not in INTERVALS:
            raise FeedError(f"unknown interval {interval!r}: one of {', '.join(INTERVALS)}", permanent=True)
        if not 1 <= limit <= MAX_KLINES:
            raise FeedError(f"limit must be 1 to {MAX_KLINES}, not {limit}", permanent=True)
        return klines(self.client, symbol, interval, limit, end)

    def price_range(self, symbol: str, start: datetime, end: datetime) -> perps.Bar | None:
        """None: REST polling sees only the two ends; the caller assumes a straight move."""
        return None
