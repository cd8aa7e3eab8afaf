"""Test a provider's connection: one small real call through its own client, as a turn
would make it (same URL, headers, JSON mode, outbound rules), but with a short timeout
and no retries, so an owner learns within seconds whether the base URL, key and model
work. The vendor's error is shown as the client reports it, the key redacted.

Call it outside any database transaction: it waits on the network.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from time import monotonic
from typing import Any

from bots.providers import ProviderError, complete
from bots.providers.base import ChatRequest, ProviderConfig
from trading.encryption import SecretUnreadable
from trading.selectors import outbound_policy

PROBE_TIMEOUT_SECONDS = 10
# The word JSON is in the prompt: OpenAI's JSON mode refuses a request without it.
PROBE_REQUEST = ChatRequest(
    system="You are checking a connection.",
    prompt='Reply with exactly this JSON and nothing else: {"ok": true}',
)


@dataclass(frozen=True)
class ProbeResult:
    """What the probe saw. ``latency_ms`` is the whole call's, failures included;
    ``model`` the one that answered (the server's name for it) or the configured one."""

    ok: bool
    latency_ms: int
    model: str
    error: str | None = None


def provider_probe(*, provider: Any, clock: Callable[[], float] | None = None) -> ProbeResult:
    """Make one call to ``provider`` (a ``bots.LLMProvider``) and say how it went.

    ``clock`` gives seconds (default ``time.monotonic``); tests pass their own. The
    scripted provider answers at once, offline. Never raises for what the provider does:
    every failure is in ``error``.
    """
    clock = clock or monotonic
    if provider.key_needs_reentry:
        return ProbeResult(False, 0, provider.model, "the API key could not be carried over: enter it again")
    try:
        config = ProviderConfig.from_model(provider, outbound=outbound_policy())
    except SecretUnreadable:
        return ProbeResult(False, 0, provider.model,
                           "the stored API key cannot be decrypted with this server's keys: enter it again")
    timeout = min(config.timeout_seconds, PROBE_TIMEOUT_SECONDS)
    config = replace(config, timeout_seconds=timeout, max_retries=0)
    started = clock()
    try:
        reply = complete(config, PROBE_REQUEST)
    except ProviderError as exc:  # its message is redacted (bots.providers.http._error)
        return ProbeResult(False, _milliseconds(clock() - started), config.model, str(exc))
    return ProbeResult(True, _milliseconds(clock() - started), reply.model or config.model)


def _milliseconds(seconds: float) -> int:
    return max(0, round(seconds * 1000))
