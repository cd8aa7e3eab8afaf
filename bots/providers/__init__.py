"""Provider clients: one small httpx client per wire format, and a dispatcher.

``complete(config, request)`` (httpx.Client) and ``acomplete(config, request)``
(httpx.AsyncClient) pick the client by ``config.kind`` — ``openai`` (OpenAI Chat
Completions and every compatible server), ``anthropic`` (Messages), ``gemini``
(generateContent), ``scripted`` (built-in strategies, offline) — and return a ``Reply``
or raise ``ProviderError`` (``permanent`` tells whether retrying later could help).
Call them outside any database transaction: they wait on the network.
"""
from __future__ import annotations

from types import ModuleType

import httpx

from bots.providers import anthropic, gemini, openai, scripted
from bots.providers.base import (
    DEFAULT_POLICY,
    ChatRequest,
    ProviderConfig,
    ProviderError,
    Reply,
    RetryPolicy,
)
from bots.providers.http import AsyncSleep, Sleep, asend, send

__all__ = [
    "KINDS", "ChatRequest", "ProviderConfig", "ProviderError", "Reply", "RetryPolicy",
    "acomplete", "complete",
]

# Wire formats over HTTP: each module builds its request and reads its response body;
# sending, retries and errors are shared (``bots.providers.http``).
_WIRE: dict[str, ModuleType] = {module.KIND: module for module in (openai, anthropic, gemini)}
KINDS = frozenset({*_WIRE, scripted.KIND})


def _wire_for(config: ProviderConfig) -> ModuleType:
    module = _WIRE.get(config.kind)
    if module is None:
        raise ProviderError(
            f"unknown provider kind {config.kind!r}; expected one of {', '.join(sorted(KINDS))}",
            permanent=True,
        )
    return module


def complete(
    config: ProviderConfig,
    request: ChatRequest,
    *,
    client: httpx.Client | None = None,
    sleep: Sleep | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> Reply:
    """Ask the provider ``config`` describes; blocks until a reply or ``ProviderError``."""
    if config.kind == scripted.KIND:
        return scripted.complete(config, request)
    wire = _wire_for(config)
    return send(config, wire.build_call(config, request), wire.parse_body, client=client, sleep=sleep,
                policy=policy)


async def acomplete(
    config: ProviderConfig,
    request: ChatRequest,
    *,
    client: httpx.AsyncClient | None = None,
    sleep: AsyncSleep | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> Reply:
    """``complete`` for the event loop: gather many bots' calls concurrently."""
    if config.kind == scripted.KIND:
        return scripted.complete(config, request)
    wire = _wire_for(config)
    return await asend(config, wire.build_call(config, request), wire.parse_body, client=client,
                       sleep=sleep, policy=policy)
