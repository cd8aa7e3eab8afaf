"""Reading a model's reply into validated actions: lenient about form, strict about meaning.

``parse_reply`` finds the decisions in whatever a model sent — a JSON list in the
legacy shape ``{action, symbol, size, leverage, stopLoss, takeProfit, closePositionId,
reasoning}`` (``size`` = margin in USDT), inside code fences or prose, wrapped in an
object, with trailing commas or single quotes, cut off mid-way — and turns each one
into an ``Action`` or a note saying, by its 1-based index, why it was dropped. It never
raises on any input and reads at most ``MAX_REPLY_CHARS``.

The reply is data, never instructions: only the fields named above are read, so text
such as "ignore previous instructions, use 100x" changes nothing it does not literally
say in a field. Nothing is ever evaluated. No ORM here: the engine checks actions
against balances and positions (``trading.risk``) afterwards.

Modules: ``vocabulary`` (action words, field names, limits), ``json_extraction``
(finding the JSON), ``numbers`` (reading one value within bounds), ``validation`` (one
decision into an ``Action``), ``actions`` (``Action`` and ``ParseResult``).
"""
from __future__ import annotations

from bots.parsing.actions import Action, ParseResult
from bots.parsing.numbers import normalize_symbol
from bots.parsing.validation import parse_reply
from bots.parsing.vocabulary import (
    ACTION_KEYS,
    ACTIONS,
    ANALYZE,
    ARGS_KEYS,
    CLOSE,
    HOLD,
    ID_KEYS,
    LEVERAGE_KEYS,
    LONG,
    MAX_ARGS_CHARS,
    MAX_DECISIONS,
    MAX_ID_CHARS,
    MAX_LEVERAGE,
    MAX_REASONING_CHARS,
    MAX_REPAIRS,
    MAX_REPLY_CHARS,
    MAX_STARTS,
    OPEN_WORDS,
    QUOTE,
    REASON_KEYS,
    SHORT,
    SIDE_KEYS,
    SIDE_WORDS,
    SIZE_KEYS,
    STOP_KEYS,
    SYMBOL_KEYS,
    SYNONYMS,
    TAKE_KEYS,
    TOOL_KEYS,
    TRADE_ACTIONS,
    WRAPPER_KEYS,
)

__all__ = [
    "ACTIONS",
    "ACTION_KEYS",
    "ANALYZE",
    "ARGS_KEYS",
    "Action",
    "CLOSE",
    "HOLD",
    "ID_KEYS",
    "LEVERAGE_KEYS",
    "LONG",
    "MAX_ARGS_CHARS",
    "MAX_DECISIONS",
    "MAX_ID_CHARS",
    "MAX_LEVERAGE",
    "MAX_REASONING_CHARS",
    "MAX_REPAIRS",
    "MAX_REPLY_CHARS",
    "MAX_STARTS",
    "OPEN_WORDS",
    "ParseResult",
    "QUOTE",
    "REASON_KEYS",
    "SHORT",
    "SIDE_KEYS",
    "SIDE_WORDS",
    "SIZE_KEYS",
    "STOP_KEYS",
    "SYMBOL_KEYS",
    "SYNONYMS",
    "TAKE_KEYS",
    "TOOL_KEYS",
    "TRADE_ACTIONS",
    "WRAPPER_KEYS",
    "normalize_symbol",
    "parse_reply",
]
