"""A fake Binance-compatible USDⓈ-M futures exchange on loopback, for exchange-client tests.

``FakeExchange`` is a ``ThreadingHTTPServer`` on ``127.0.0.1:<free port>`` in a daemon
thread serving the REST wire of /work/briefs/exchange_wire.md: it checks every signed
request (key, HMAC, timestamp window), refuses what the venue refuses, fills market orders
at the price the test set, fires conditional orders and liquidations when the test moves
the price, and writes userTrades and income rows whose sum is the balance it reports.

    with FakeExchange() as ex:
        ex.set_price("BTCUSDT", "60000")
        client = make_client(base_url=ex.base_url, key=ex.api_key, secret=ex.api_secret)
        ex.drop_next("POST", "/fapi/v1/order")   # executed, but the client sees no answer
        ex.set_price("BTCUSDT", "58000")         # a stop at 59000 fills at 59000

The book lives in ``exchange_state`` (pure Decimal arithmetic), the endpoints in
``exchange_routes``; this module is the HTTP shell (signing, error injection) and the test
controls. Every request is recorded in ``requests``.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.exchange_routes import ALGO_PATHS, ROUTES, NotFound, int_param
from tests.fakes.exchange_state import (
    ExchangeError,
    ExchangeState,
    FakePosition,
    liquidation_price,
    mandatory,
)

__all__ = ["ExchangeError", "FakeExchange", "FakePosition", "Recorded"]

TIMEOUT_MSG = ("Timeout waiting for response from backend server. Send status unknown; "
               "execution status unknown.")
RATE_MSG = "Too many requests; current limit is 2400 requests per minute."


@dataclass
class Recorded:
    """A request as the server received it (``params`` from the raw ``query``)."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    query: str = ""


@dataclass
class _Injection:
    method: str
    path: str
    kind: str  # "fail" (not executed), "drop" (executed, no answer), "after" (executed, an error)
    times: int
    code: int | None = None
    msg: str | None = None
    status: int = 400
    retry_after: int | None = None


@dataclass
class _Answer:
    status: int
    body: bytes
    headers: dict[str, str]
    content_type: str = "application/json"
    drop: bool = False


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> _Answer:
    return _Answer(status, json.dumps(payload).encode(), headers or {})


def _error(error: ExchangeError, headers: dict[str, str] | None = None) -> _Answer:
    return _json(error.status, {"code": error.code, "msg": error.msg}, headers)


def _not_found() -> _Answer:
    return _Answer(404, b"Not Found", {}, content_type="text/plain")


class FakeExchange(ExchangeState):
    """See the module docstring. Use as a context manager, or ``start()``/``stop()``."""

    def __init__(self, *, api_key: str = "test-key", api_secret: str = "test-secret",
                 balance: Decimal = Decimal("10000"), taker_fee: Decimal = Decimal("0.0005"),
                 conditional_api: str = "algo", symbols: dict[str, dict] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(balance=balance, taker_fee=taker_fee, symbols=symbols, clock=clock)
        assert conditional_api in ("algo", "classic")
        self.api_key, self.api_secret, self.conditional_api = api_key, api_secret, conditional_api
        self.requests: list[Recorded] = []
        self.dual_side = False
        self.enable_withdrawals = False
        self.has_restrictions = True
        self._injections: list[_Injection] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the server first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeExchange:
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-exchange", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeExchange:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- test controls --------------------------------------------------------------------

    def fail_next(self, method: str, path: str, *, code: int | None = None, msg: str | None = None,
                  status: int = 400, retry_after: int | None = None, times: int = 1) -> None:
        """The next ``times`` matching requests answer this error and are NOT executed
        (429/418 default to -1003, anything else to -1000)."""
        with self.lock:
            self._injections.append(_Injection(method.upper(), path, "fail", times, code, msg, status,
                                               retry_after))

    def drop_next(self, method: str, path: str, *, times: int = 1) -> None:
        """The next matching requests are executed, then the connection closes unanswered."""
        with self.lock:
            self._injections.append(_Injection(method.upper(), path, "drop", times))

    def fail_after_execute(self, method: str, path: str, *, code: int = -1007, status: int = 503) -> None:
        """The next matching request is executed, then answered with an error (-1007: unknown)."""
        with self.lock:
            self._injections.append(_Injection(method.upper(), path, "after", 1, code, None, status))

    def liquidate(self, symbol: str) -> None:
        """Move the price to the position's liquidation price."""
        with self.lock:
            self.set_price(symbol, liquidation_price(self.positions[symbol], self.spec(symbol).tick))

    def close_on_exchange(self, symbol: str) -> dict:
        """A manual close in the venue's UI: a market fill of the whole position (the
        conditional orders around it stay NEW)."""
        with self.lock:
            spec, position = self.spec(symbol), self.positions[symbol]
            side = "SELL" if position.amount > 0 else "BUY"
            order = self._new_order(spec, side, "MARKET", f"web_{next(self._web)}", reduce_only=True)
            self._fill(spec, order, abs(position.amount), spec.price)
            return order

    def open_on_exchange(self, symbol: str, side: str, quantity: Decimal | str,
                         leverage: int | None = None) -> dict:
        """A manual open in the venue's UI (clientOrderId ``web_<n>``)."""
        with self.lock:
            if leverage is not None:
                self.spec(symbol).leverage = leverage
            return self.market(symbol=symbol, side=side, quantity=Decimal(str(quantity)),
                               client_id=f"web_{next(self._web)}")

    def fund(self, symbol: str, rate: Decimal | str) -> None:
        """A funding settlement: FUNDING_FEE = −positionAmt × mark × rate (not rounded)."""
        with self.lock:
            spec, rate = self.spec(symbol), Decimal(str(rate))
            spec.funding_rate = rate
            position = self.positions.get(symbol)
            if position is not None:
                self._book_income(symbol, "FUNDING_FEE", -position.amount * spec.price * rate, "")

    def transfer(self, amount: Decimal | str | int) -> None:
        """A deposit (+) or a withdrawal (−) of USDT: a TRANSFER income row, symbol ""."""
        with self.lock:
            self._book_income("", "TRANSFER", Decimal(str(amount)), "")

    # --- serving --------------------------------------------------------------------------

    def serve(self, method: str, target: str, headers: dict[str, str]) -> _Answer:
        """Answer one request: record it, apply an injection, verify, execute."""
        parts = urlsplit(target)
        path, query = parts.path, parts.query
        params = dict(parse_qsl(query, keep_blank_values=True))
        with self.lock:
            self.requests.append(Recorded(method, path, params, headers, query))
            injection = self._take(method, path)
            if injection is not None and injection.kind == "fail":
                return self._injected(injection)
            route = ROUTES.get((method, path))
            if route is None or (path in ALGO_PATHS and self.conditional_api == "classic"):
                answer = _not_found()
            else:
                handler, signed = route
                try:
                    if signed:
                        self._verify(query, headers, params)
                    answer = _json(200, handler(self, params))
                except NotFound:
                    answer = _not_found()
                except ExchangeError as error:
                    answer = _error(error)
            if injection is not None and injection.kind == "after":
                return self._injected(injection)
            answer.drop = injection is not None and injection.kind == "drop"
            return answer

    def _take(self, method: str, path: str) -> _Injection | None:
        for injection in self._injections:
            if injection.method == method and injection.path == path:
                injection.times -= 1
                if injection.times <= 0:
                    self._injections.remove(injection)
                return injection
        return None

    def _injected(self, injection: _Injection) -> _Answer:
        code, msg = injection.code, injection.msg
        if code is None:
            code = -1003 if injection.status in (418, 429) else -1000
        if msg is None:
            msg = {-1003: RATE_MSG, -1007: TIMEOUT_MSG}.get(
                code, "An unknown error occurred while processing the request.")
        headers = {} if injection.retry_after is None else {"Retry-After": str(injection.retry_after)}
        return _error(ExchangeError(code, msg, injection.status), headers)

    def _verify(self, query: str, headers: dict[str, str], params: dict[str, str]) -> None:
        """Key, then the HMAC over the raw query up to ``&signature=``, then the window."""
        if headers.get("x-mbx-apikey") != self.api_key:
            raise ExchangeError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        payload, marker, signature = query.rpartition("&signature=")
        if not marker:
            raise mandatory("signature")
        expected = hmac.new(self.api_secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise ExchangeError(-1022, "Signature for this request is not valid.")
        timestamp = int_param(params, "timestamp")
        if timestamp is None:
            raise mandatory("timestamp")
        window, now = int_param(params, "recvWindow", 5000), self.now_ms()
        if timestamp > now + 1000 or timestamp < now - window:
            raise ExchangeError(-1021, "Timestamp for this request is outside of the recvWindow.")



class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024


class _Handler(BaseHTTPRequestHandler):
    owner: FakeExchange
    protocol_version = "HTTP/1.1"  # keep-alive, as the venue; every answer has a length

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)  # the wire sends no body; a stray one is ignored
        headers = {k.lower(): v for k, v in self.headers.items()}
        answer = self.owner.serve(self.command, self.path, headers)
        if answer.drop:
            self.close_connection = True  # nothing written: the client sees the socket close
            return
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_DELETE = do_PUT = _answer
