"""The built-in offline provider: ``config.model`` names a strategy in ``bots.strategies``.

No network and no key: a fresh arena trades out of the box. The strategy's decisions
come back as JSON text, so they pass through ``bots.parsing`` like any model's reply
and nothing downstream needs to know the difference.
"""
from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from bots import strategies
from bots.providers.base import ChatRequest, ProviderConfig, ProviderError, Reply

KIND = "scripted"


def complete(config: ProviderConfig, request: ChatRequest, **_transport: Any) -> Reply:
    """Run the strategy on ``request.context``. Transport arguments (client, sleep,
    policy) are accepted for a uniform call and ignored: nothing here waits."""
    started = time.perf_counter()
    try:
        decisions = strategies.decide(config.model, request.context)
    except strategies.UnknownStrategy as exc:
        raise ProviderError(f"scripted: {exc}", permanent=True) from None
    text = strategies.to_json(decisions)
    return Reply(
        text=text,
        model=config.model,
        tokens_in=None,
        tokens_out=None,
        latency_ms=int((time.perf_counter() - started) * 1000),
        cost=Decimal(0),
    )


async def acomplete(config: ProviderConfig, request: ChatRequest, **_transport: Any) -> Reply:
    """``complete`` for the event loop; the strategies are microseconds of arithmetic,
    so running them inline blocks nothing worth a thread."""
    return complete(config, request)
