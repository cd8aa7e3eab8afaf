"""The HTTP round trip every network provider shares, synchronous and asynchronous.

A wire-format module builds an ``HttpCall`` (URL, headers, JSON body) and a parser for
a successful response body; ``send`` (httpx.Client) and ``asend`` (httpx.AsyncClient)
POST it under ``base.RetryPolicy``: up to ``config.max_retries`` retries of 429, 408,
5xx, timeouts and connection errors, never of other 4xx. Before every attempt the URL is
checked against ``config.outbound`` (``trading.outbound.url_check``: the host resolved
again, so a name that now points into a private network is refused); the clients made
here connect only to addresses that pass the same rules when the socket opens
(``trading.outbound_transport``: no DNS rebinding between check and connect), and redirects are
never followed: a 3xx is a permanent error naming where it points. Both loops share every
decision (``_refused``, ``_outcome``, ``_transport_failure``, ``_plan_retry``) and differ
only in how they wait and read.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from bots.providers.base import (
    DEFAULT_POLICY,
    Parsed,
    ProviderConfig,
    ProviderError,
    Reply,
    RetryPolicy,
    cost_of,
    error_code,
    error_detail,
    is_transient_status,
    redact,
    retry_after_seconds,
    snippet,
)
from trading.outbound import url_check
from trading.outbound_transport import pinned_async_client, pinned_client

# A chat reply is kilobytes; megabytes mean a wrong URL or a hostile server, and the
# reply would be cut to 200 KB by the parser anyway.
MAX_BODY_BYTES = 8 * 1024 * 1024
# An unreachable host should fail fast; only reading may take the model's full time.
CONNECT_TIMEOUT = 10.0

ParseBody = Callable[[Any], Parsed]
Sleep = Callable[[float], None]
AsyncSleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class HttpCall:
    """One POST: where, with which headers (kept out of ``repr``: they hold the key), what."""

    vendor: str
    url: str
    headers: Mapping[str, str] = field(repr=False)
    body: Mapping[str, Any]


@dataclass(frozen=True)
class _Failure:
    message: str
    permanent: bool
    status: int | None = None
    retry_after: float | None = None


class _BodyTooLarge(Exception):
    pass


class _DeadlinePassed(Exception):
    """The body trickled in past ``timeout_seconds``; httpx's timeouts are per read."""


_REQUEST_ERRORS = (httpx.RequestError, httpx.InvalidURL, _BodyTooLarge, _DeadlinePassed)


def _encode(config: ProviderConfig, call: HttpCall) -> bytes:
    try:
        return json.dumps(call.body, ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        message = f"{call.vendor}: the request body is not JSON ({exc}); check the provider's options"
        raise ProviderError(redact(message, config.api_key), permanent=True) from None


def _timeout(config: ProviderConfig) -> httpx.Timeout:
    return httpx.Timeout(config.timeout_seconds, connect=min(CONNECT_TIMEOUT, config.timeout_seconds))


def _grow(buffer: bytearray, chunk: bytes, deadline: float) -> None:
    buffer += chunk
    if len(buffer) > MAX_BODY_BYTES:
        raise _BodyTooLarge
    if time.monotonic() > deadline:
        raise _DeadlinePassed


def _transport_failure(config: ProviderConfig, call: HttpCall, exc: Exception) -> _Failure:
    where = f"{call.vendor}: POST {call.url}"
    if isinstance(exc, _BodyTooLarge):
        return _Failure(f"{where}: the response is larger than {MAX_BODY_BYTES // 2**20} MiB", True)
    if isinstance(exc, httpx.TimeoutException | _DeadlinePassed):
        return _Failure(f"{where}: timed out after {config.timeout_seconds:g} s", False)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return _Failure(f"{where}: the URL is not usable ({exc}); check base_url", True)
    return _Failure(f"{where}: {type(exc).__name__}: {exc}", False)


def _refused(config: ProviderConfig, call: HttpCall) -> _Failure | None:
    """Why ``call.url`` may not be called under the arena's outbound rules, or None."""
    reason = url_check(call.url, config.outbound)
    if reason is None:
        return None
    return _Failure(f"{call.vendor}: refused to call {call.url}: {reason} "
                    "(check base_url, or the arena's outbound settings)", True)


def _outcome(
    config: ProviderConfig,
    call: HttpCall,
    parse: ParseBody,
    response: tuple[int, httpx.Headers, bytes],
    started: float,
    attempt: int,
) -> Reply | _Failure:
    status, headers, body = response
    if 300 <= status < 400:
        # Following a redirect would call a URL nobody checked: the server says where to go instead.
        return _Failure(
            f"{call.vendor}: HTTP {status} from {call.url}: the server redirects to "
            f"{headers.get('location') or '(no location)'}, and redirects are not followed; "
            "set base_url to the address it should be",
            True,
            status,
        )
    if not 200 <= status < 300:
        transient = is_transient_status(status) and error_code(body) != "insufficient_quota"
        return _Failure(
            f"{call.vendor}: HTTP {status} from {call.url}: {error_detail(body)}",
            permanent=not transient,
            status=status,
            retry_after=retry_after_seconds(headers) if transient else None,
        )
    latency_ms = int((time.monotonic() - started) * 1000)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return _Failure(
            f"{call.vendor}: the response from {call.url} is not JSON: {snippet(body)!r}", True, status
        )
    try:
        parsed = parse(data)
    except ProviderError as exc:
        return _Failure(f"{call.vendor}: {exc.message}", exc.permanent, exc.status or status)
    return Reply(
        text=parsed.text,
        model=parsed.model or config.model,
        tokens_in=parsed.tokens_in,
        tokens_out=parsed.tokens_out,
        latency_ms=latency_ms,
        cost=cost_of(config, parsed.tokens_in, parsed.tokens_out),
        attempts=attempt,
    )


def _plan_retry(failure: _Failure, attempt: int, attempts: int, policy: RetryPolicy) -> float | None:
    """Seconds to wait before the next attempt, or None to give up."""
    if failure.permanent or attempt >= attempts:
        return None
    if failure.retry_after is not None:
        return failure.retry_after if failure.retry_after <= policy.max_retry_after else None
    return policy.backoff(attempt)


def _error(
    config: ProviderConfig, failure: _Failure, attempt: int, attempts: int, policy: RetryPolicy
) -> ProviderError:
    message = failure.message
    if not failure.permanent:
        if attempt < attempts:  # gave up early: the server asked for too long a wait
            message += (
                f"; the server asked to wait {failure.retry_after:g} s, "
                f"longer than the {policy.max_retry_after:g} s a call waits"
            )
        else:
            message += f"; gave up after {attempt} attempt{'s' if attempt != 1 else ''}"
    # The one place errors leave this package: redact here and nothing else can leak.
    return ProviderError(
        redact(message, config.api_key), permanent=failure.permanent, status=failure.status, attempts=attempt
    )


# --- synchronous ---------------------------------------------------------------------


def _exchange(
    client: httpx.Client, config: ProviderConfig, call: HttpCall, content: bytes
) -> tuple[int, httpx.Headers, bytes]:
    deadline = time.monotonic() + config.timeout_seconds
    buffer = bytearray()
    with client.stream(
        "POST", call.url, headers=dict(call.headers), content=content, timeout=_timeout(config),
        follow_redirects=False,
    ) as response:
        for chunk in response.iter_bytes():
            _grow(buffer, chunk, deadline)
        return response.status_code, response.headers, bytes(buffer)


def send(
    config: ProviderConfig,
    call: HttpCall,
    parse: ParseBody,
    *,
    client: httpx.Client | None = None,
    sleep: Sleep | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> Reply:
    """POST ``call`` with retries and return the parsed reply, or raise ``ProviderError``.

    ``client`` lets callers share a connection pool; without one a client lives for
    this call (retries included). ``sleep`` defaults to ``time.sleep``; tests pass a recorder.
    """
    sleep = time.sleep if sleep is None else sleep
    content = _encode(config, call)
    if client is None:
        with pinned_client(config.outbound) as own:
            return _send(config, call, parse, content, own, sleep, policy)
    return _send(config, call, parse, content, client, sleep, policy)


def _send(
    config: ProviderConfig,
    call: HttpCall,
    parse: ParseBody,
    content: bytes,
    client: httpx.Client,
    sleep: Sleep,
    policy: RetryPolicy,
) -> Reply:
    attempts = config.max_retries + 1
    attempt = 0
    while True:
        attempt += 1
        refused = _refused(config, call)
        if refused is not None:
            raise _error(config, refused, attempt, attempts, policy)
        started = time.monotonic()
        try:
            response = _exchange(client, config, call, content)
        except _REQUEST_ERRORS as exc:
            outcome: Reply | _Failure = _transport_failure(config, call, exc)
        else:
            outcome = _outcome(config, call, parse, response, started, attempt)
        if isinstance(outcome, Reply):
            return outcome
        delay = _plan_retry(outcome, attempt, attempts, policy)
        if delay is None:
            raise _error(config, outcome, attempt, attempts, policy)
        sleep(delay)


# --- asynchronous --------------------------------------------------------------------


async def _aexchange(
    client: httpx.AsyncClient, config: ProviderConfig, call: HttpCall, content: bytes
) -> tuple[int, httpx.Headers, bytes]:
    deadline = time.monotonic() + config.timeout_seconds
    buffer = bytearray()
    async with client.stream(
        "POST", call.url, headers=dict(call.headers), content=content, timeout=_timeout(config),
        follow_redirects=False,
    ) as response:
        async for chunk in response.aiter_bytes():
            _grow(buffer, chunk, deadline)
        return response.status_code, response.headers, bytes(buffer)


async def asend(
    config: ProviderConfig,
    call: HttpCall,
    parse: ParseBody,
    *,
    client: httpx.AsyncClient | None = None,
    sleep: AsyncSleep | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> Reply:
    """``send`` for the event loop: many bots' calls can wait concurrently."""
    sleep = asyncio.sleep if sleep is None else sleep
    content = _encode(config, call)
    if client is None:
        async with pinned_async_client(config.outbound) as own:
            return await _asend(config, call, parse, content, own, sleep, policy)
    return await _asend(config, call, parse, content, client, sleep, policy)


async def _asend(
    config: ProviderConfig,
    call: HttpCall,
    parse: ParseBody,
    content: bytes,
    client: httpx.AsyncClient,
    sleep: AsyncSleep,
    policy: RetryPolicy,
) -> Reply:
    attempts = config.max_retries + 1
    attempt = 0
    while True:
        attempt += 1
        # In a thread: resolving the host blocks, and the loop serves every bot's call.
        refused = await asyncio.to_thread(_refused, config, call)
        if refused is not None:
            raise _error(config, refused, attempt, attempts, policy)
        started = time.monotonic()
        try:
            response = await _aexchange(client, config, call, content)
        except _REQUEST_ERRORS as exc:
            outcome: Reply | _Failure = _transport_failure(config, call, exc)
        else:
            outcome = _outcome(config, call, parse, response, started, attempt)
        if isinstance(outcome, Reply):
            return outcome
        delay = _plan_retry(outcome, attempt, attempts, policy)
        if delay is None:
            raise _error(config, outcome, attempt, attempts, policy)
        await sleep(delay)
