"""What every provider client shares: configuration, request, reply, error and retry policy.

One module per wire format sits beside this one (``openai``: OpenAI Chat Completions,
``anthropic``: Anthropic Messages, ``gemini``: Google Gemini generateContent, ``scripted``:
the built-in offline strategies); ``bots.providers.http`` runs the HTTP calls with the
retry policy defined here. Nothing here imports Django: ``ProviderConfig.from_model``
reads an ``LLMProvider`` by attribute name.
"""
from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from types import MappingProxyType
from typing import Any

from trading.outbound import OutboundPolicy

MILLION = Decimal(1_000_000)
COST_QUANTUM = Decimal("1e-8")  # bots.Decision.cost has 8 decimal places
REDACTED = "[redacted]"


def _price(name: str, value: object) -> Decimal:
    try:
        # str() first: a float price from a settings file becomes the digits it shows.
        price = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"{name} must be a number, not {value!r}") from exc
    if not price.is_finite() or price < 0:
        raise ValueError(f"{name} must be a finite number ≥ 0, not {value!r}")
    return price


@dataclass(frozen=True)
class ProviderConfig:
    """Everything a client needs to call one provider; built per call, shared by none.

    ``api_key`` is kept out of ``repr`` so a config in a log line or a traceback shows
    no secret. ``max_retries`` counts retries after the first attempt. ``outbound`` is the
    arena's rule for which URLs may be called, checked before every request; the default
    is the strictest (https to public hosts, any of them).
    """

    kind: str
    base_url: str = ""
    model: str = ""
    api_key: str = field(default="", repr=False)
    timeout_seconds: float = 120
    max_retries: int = 3
    options: Mapping[str, Any] = field(default_factory=dict)
    input_price_per_mtok: Decimal = Decimal(0)
    output_price_per_mtok: Decimal = Decimal(0)
    outbound: OutboundPolicy = OutboundPolicy()

    def __post_init__(self) -> None:
        # A read-only copy: concurrent calls may share a config, and one call's request
        # must never change the options another call sends.
        object.__setattr__(self, "options", MappingProxyType(dict(self.options or {})))
        object.__setattr__(self, "api_key", self.api_key or "")
        for name in ("input_price_per_mtok", "output_price_per_mtok"):
            object.__setattr__(self, name, _price(name, getattr(self, name)))
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be ≥ 0, not {self.max_retries}")
        if not self.timeout_seconds > 0:
            raise ValueError(f"timeout_seconds must be positive, not {self.timeout_seconds}")

    @classmethod
    def from_model(cls, provider: Any, *, outbound: OutboundPolicy | None = None) -> ProviderConfig:
        """From a ``bots.LLMProvider`` row (by attribute, so this module imports no model),
        called under ``outbound`` (``trading.selectors.outbound_policy()``; default strictest).

        ``provider.api_key`` is the decrypting property: read it outside hot loops.
        """
        return cls(
            kind=str(provider.kind),
            base_url=provider.base_url or "",
            model=provider.model or "",
            api_key=provider.api_key or "",
            timeout_seconds=provider.timeout_seconds,
            max_retries=provider.max_retries,
            options=provider.options or {},
            input_price_per_mtok=provider.input_price_per_mtok,
            output_price_per_mtok=provider.output_price_per_mtok,
            outbound=outbound or OutboundPolicy(),
        )


@dataclass(frozen=True)
class ChatRequest:
    """One question to a model: a system text and a user prompt.

    ``context`` is structured turn data (markets, positions, balance) read only by the
    scripted provider; network providers ignore it and send the two texts.
    """

    system: str
    prompt: str
    json_mode: bool = True
    max_tokens: int | None = None
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Parsed:
    """What a wire format's parser reads from a successful response body."""

    text: str
    model: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None


@dataclass(frozen=True)
class Reply:
    """A model's answer and what it cost. ``latency_ms`` is the successful attempt's."""

    text: str
    model: str
    tokens_in: int | None
    tokens_out: int | None
    latency_ms: int
    cost: Decimal | None
    attempts: int = 1


class ProviderError(Exception):
    """A provider call failed. ``permanent`` means retrying the same call cannot help
    (a bad key, a bad request, a blocked prompt); ``status`` is the HTTP status if any.

    Messages are built with the key redacted (``redact``), so ``str`` and ``repr`` are
    safe to store in a Decision and show to the bot's owner.
    """

    def __init__(self, message: str, *, permanent: bool, status: int | None = None, attempts: int = 1):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status = status
        self.attempts = attempts

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"ProviderError({self.message!r}, permanent={self.permanent}, "
            f"status={self.status}, attempts={self.attempts})"
        )


def redact(text: str, secret: str) -> str:
    """``text`` with every occurrence of ``secret`` replaced; servers echo keys back."""
    return text.replace(secret, REDACTED) if secret else text


def cost_of(config: ProviderConfig, tokens_in: int | None, tokens_out: int | None) -> Decimal | None:
    """USD for one call from the per-million-token prices, at ``Decision.cost``'s 8 places.

    A free provider (both prices 0) costs 0 even when the server reports no usage;
    otherwise unknown usage means unknown cost (None), never a guessed 0.
    """
    if config.input_price_per_mtok == 0 and config.output_price_per_mtok == 0:
        return Decimal(0)
    if tokens_in is None or tokens_out is None:
        return None
    raw = (tokens_in * config.input_price_per_mtok + tokens_out * config.output_price_per_mtok) / MILLION
    return raw.quantize(COST_QUANTUM, rounding=ROUND_HALF_EVEN)


# --- retry policy --------------------------------------------------------------------


def is_transient_status(status: int) -> bool:
    """429 (rate limit), 408/425 and every 5xx (Anthropic's 529 "overloaded" included)."""
    return status in (408, 425, 429) or status >= 500


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff
    And Jitter"): the n-th retry waits a uniform random time in [0, min(max_delay,
    base_delay × 2^(n-1))]. A server's Retry-After is obeyed exactly instead, unless it
    asks for more than ``max_retry_after``: then the call gives up, because a turn
    should not stall for minutes on one bot.
    """

    base_delay: float = 1.0
    max_delay: float = 20.0
    max_retry_after: float = 60.0
    random: Callable[[], float] = random.random

    def backoff(self, retry: int) -> float:
        """Seconds before retry number ``retry`` (1 for the first) without Retry-After."""
        return self.random() * min(self.max_delay, self.base_delay * 2 ** (retry - 1))


DEFAULT_POLICY = RetryPolicy()


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """The wait a response asks for: ``retry-after-ms`` (OpenAI) or ``Retry-After``
    (RFC 9110: delay-seconds or an HTTP-date). None when absent or unreadable."""
    lowered = {key.lower(): value for key, value in headers.items()}
    milliseconds = _non_negative(lowered.get("retry-after-ms"))
    if milliseconds is not None:
        return milliseconds / 1000
    value = lowered.get("retry-after")
    if value is None:
        return None
    seconds = _non_negative(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _non_negative(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if 0 <= number < float("inf") else None


def error_detail(body: bytes) -> str:
    """A short readable reason from an error body in any vendor's shape.

    OpenAI ``{"error": {"message", "type", "code"}}``, Anthropic ``{"type": "error",
    "error": {"type", "message"}}``, Gemini ``{"error": {"code", "message", "status"}}``
    (sometimes inside a one-element list); anything else: the body's first 200 characters.
    """
    data = _json_or_none(body)
    if isinstance(data, list) and data:
        data = data[0]
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, str):
            return error[:500]
        if isinstance(error, dict):
            message = error.get("message") or error.get("detail") or data.get("message")
            kind = error.get("type") or error.get("status") or error.get("code")
            if message or kind:
                parts = [str(part) for part in (kind, message) if part]
                return ": ".join(parts)[:500]
    return snippet(body)


def error_code(body: bytes) -> str | None:
    """The vendor's machine-readable error code, e.g. OpenAI's ``insufficient_quota``."""
    data = _json_or_none(body)
    if isinstance(data, list) and data:
        data = data[0]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        code = error.get("code") or error.get("type")
        return str(code) if code else None
    return None


def snippet(body: bytes | str, limit: int = 200) -> str:
    """The first ``limit`` characters of a body, whitespace collapsed, for messages."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return " ".join(text[: limit * 4].split())[:limit]


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def as_count(value: object) -> int | None:
    """A token count from a usage block: a non-negative int, else None (unknown)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def unexpected(what: str, data: object) -> ProviderError:
    """The error for a 2xx body that is JSON but not the API's shape (likely a wrong URL)."""
    try:
        shown = json.dumps(data, ensure_ascii=False, default=str)
    except (ValueError, RecursionError):
        shown = repr(type(data))
    return ProviderError(f"unexpected response ({what}): {snippet(shown)}", permanent=True)


def merged(
    defaults: Mapping[str, Any], options: Mapping[str, Any], fixed: Mapping[str, Any]
) -> dict[str, Any]:
    """A request body: our defaults, then the provider's options over them (so an owner
    can set ``temperature`` or replace ``response_format``), then the fields that make
    this call what it is (model, messages), which options must not replace."""
    return {**defaults, **options, **fixed}
