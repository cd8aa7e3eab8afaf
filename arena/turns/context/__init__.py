"""Everything a bot's model call needs, prepared before any network call of the turn:
``reads`` (the database), ``candles`` (the feed, once per turn) and ``job`` (the prompt,
the scripted context and the provider configuration put together)."""
from __future__ import annotations

from arena.turns.context.candles import PROMPT_CANDLES, TOOL_CANDLES, CandleCache
from arena.turns.context.job import Job, job_prepare, scripted_context
from arena.turns.context.reads import market_snapshot

__all__ = [
    "PROMPT_CANDLES", "TOOL_CANDLES", "CandleCache", "Job", "job_prepare",
    "market_snapshot", "scripted_context",
]
