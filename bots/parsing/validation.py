"""Turning each decision item into an ``Action`` or a note saying why it was dropped."""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from bots.parsing.actions import Action, ParseResult
from bots.parsing.json_extraction import decision_items, decode_json_at
from bots.parsing.numbers import (
    DecisionDropped,
    clean_text,
    normalize_symbol,
    read_leverage,
    read_number,
    read_price,
    shown_value,
)
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
    MAX_REASONING_CHARS,
    OPEN_WORDS,
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
    field_key,
)


def _action_word(value: object) -> str:
    return re.sub(r"[\s\-]+", "_", value.strip().upper()) if isinstance(value, str) else ""


class _DecisionFields:
    """A decision's fields by normalised name (stopLoss = stop_loss = STOP-LOSS).

    A field whose value matters to money (size, leverage, prices, symbol, id) must not
    be given twice with different values — under one name or two — or the decision is
    ambiguous and dropped: guessing which one the model meant is how a 5x becomes 50x.
    """

    def __init__(self, item: dict[str, Any]) -> None:
        self.values: dict[str, Any] = {}
        self.repeated = {field_key(key) for key in getattr(item, "repeated", ())}
        for key, value in item.items():
            name = field_key(key)
            if name in self.values and self.values[name] != value:
                self.repeated.add(name)
            self.values.setdefault(name, value)

    def get(self, names: Iterable[str], what: str, *, agree: bool = True) -> Any:
        present = [name for name in names if self.values.get(name) is not None]
        values = [self.values[name] for name in present]
        if agree and (
            any(name in self.repeated for name in present) or any(value != values[0] for value in values[1:])
        ):
            raise DecisionDropped(f"{what} is given twice with different values")
        return values[0] if values else None

    def first_word(self, names: Iterable[str], vocabulary: Mapping[str, str]) -> tuple[Any, str]:
        """The first of ``names`` holding a word of ``vocabulary``, else the first text."""
        texts = [self.values[name] for name in names if isinstance(self.values.get(name), str)]
        for text in texts:
            if _action_word(text) in vocabulary or _action_word(text) in OPEN_WORDS:
                return text, _action_word(text)
        return (texts[0], _action_word(texts[0])) if texts else (None, "")


def _read_action(fields: _DecisionFields, notes: list[str], label: str) -> tuple[str, str | None]:
    """The legacy action and, for a close, the side the model named."""
    raw, word = fields.first_word(ACTION_KEYS, SYNONYMS)
    side_raw, side_word = fields.first_word(SIDE_KEYS, SIDE_WORDS)
    if raw is None:
        raw, word, side_word = side_raw, side_word, ""  # {"side": "BUY", ...} with no action field
    if not isinstance(raw, str) or not raw.strip():
        raise DecisionDropped("no action given")
    side = SIDE_WORDS.get(side_word)
    if word in OPEN_WORDS and side is not None:
        notes.append(f"{label}: {shown_value(raw)} with side {shown_value(side_raw)} read as {side}")
        return side, None
    action = SYNONYMS.get(word)
    if action is None:
        raise DecisionDropped(f"action {shown_value(raw)} is not one of {', '.join(ACTIONS)}")
    if action in (LONG, SHORT) and side is not None and side != action:
        raise DecisionDropped(f"action {shown_value(raw)} contradicts side {shown_value(side_raw)}")
    if word != action:
        notes.append(f"{label}: {shown_value(raw)} read as {action}")
    if action != CLOSE:
        return action, None
    # A side on a close says which position; BUY/SELL there would be a guess, so only LONG/SHORT.
    return action, {"CLOSE_LONG": LONG, "CLOSE_SHORT": SHORT}.get(word) or (
        side_word if side_word in (LONG, SHORT) else None
    )


def _read_position_id(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return str(int(value))
    if isinstance(value, str) and len(value.strip()) <= MAX_ID_CHARS and value.strip().isprintable():
        return value.strip() or None
    raise DecisionDropped(f"position id {shown_value(value)} is not an id")


def _json_ready(value: Any) -> Any:
    """Tool args as JSON-ready values: whole numbers as ints, other numbers as their exact
    decimal text (``bots.tools`` reads numbers from text; a float would lose digits)."""
    if isinstance(value, Decimal):
        whole = value.is_finite() and value == value.to_integral_value() and value.adjusted() < 30
        return int(value) if whole else str(value)
    if isinstance(value, dict):
        return {str(key): _json_ready(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_json_ready(inner) for inner in value]
    return value


def _read_analysis(fields: _DecisionFields) -> tuple[str, dict[str, Any]]:
    tool = fields.get(TOOL_KEYS, "the tool", agree=False)
    if not isinstance(tool, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}", tool.strip()):
        raise DecisionDropped(f"ANALYZE needs a tool name, not {shown_value(tool)}")
    args = fields.get(ARGS_KEYS, "the args", agree=False)
    if isinstance(args, str) and len(args) <= MAX_ARGS_CHARS:
        decoded = decode_json_at(args.strip(), 0) if args.strip() else ({}, 0)
        args = decoded[0] if decoded is not None else args
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise DecisionDropped(f"the args of {tool.strip()} are not an object")
    args = _json_ready(args)
    if len(json.dumps(args, default=str)) > MAX_ARGS_CHARS:
        raise DecisionDropped(f"the args of {tool.strip()} are longer than {MAX_ARGS_CHARS:,} characters")
    return tool.strip(), args


def _validate_decision(
    item: Any, label: str, allowed: frozenset[str], known: frozenset[str] | None, notes: list[str]
) -> Action:
    if not isinstance(item, dict):
        raise DecisionDropped(f"{shown_value(item)} is not a decision object")
    fields = _DecisionFields(item)
    action, side = _read_action(fields, notes, label)
    if action not in allowed:
        raise DecisionDropped(f"{action} is not available to this bot")
    reasoning = clean_text(fields.get(REASON_KEYS, "the reasoning", agree=False), MAX_REASONING_CHARS)
    raw_symbol = fields.get(SYMBOL_KEYS, "the symbol")
    symbol = normalize_symbol(raw_symbol)
    if raw_symbol not in (None, "") and symbol is None and action != HOLD:
        raise DecisionDropped(f"symbol {shown_value(raw_symbol)} is not a market symbol")
    if action in (LONG, SHORT):
        if symbol is None:
            raise DecisionDropped(f"{action} needs a symbol")
        if known is not None and symbol not in known:
            raise DecisionDropped(f"unknown symbol {symbol}: no market trades under that name")
        size = fields.get(SIZE_KEYS, "the size")
        if size in (None, ""):
            raise DecisionDropped(f"{action} {symbol} needs a size (the margin in USDT)")
        margin = read_number(size, "size")
        if margin <= 0:
            raise DecisionDropped(f"size {shown_value(size)} is not positive")
        return Action(
            action, symbol, margin,
            leverage=read_leverage(fields.get(LEVERAGE_KEYS, "the leverage")),
            stop_loss=read_price(fields.get(STOP_KEYS, "the stop-loss"), "stop-loss"),
            take_profit=read_price(fields.get(TAKE_KEYS, "the take-profit"), "take-profit"),
            reasoning=reasoning,
        )
    if action == CLOSE:
        position_id = _read_position_id(fields.get(ID_KEYS, "the position id"))
        if position_id is None and symbol is None:
            raise DecisionDropped("a CLOSE names a position id (closePositionId) or a symbol")
        return Action(CLOSE, symbol, close_position_id=position_id, side=side, reasoning=reasoning)
    if action == ANALYZE:
        tool, args = _read_analysis(fields)
        return Action(ANALYZE, symbol, reasoning=reasoning, tool=tool, args=args)
    return Action(HOLD, symbol, reasoning=reasoning)


def parse_reply(
    text: object,
    *,
    allowed_actions: Iterable[str] = TRADE_ACTIONS,
    known_symbols: Iterable[str] | None = None,
) -> ParseResult:
    """The valid actions in a model's reply and a note for everything set aside.

    ``allowed_actions``: the actions this bot may take (add ANALYZE for sandbox bots).
    ``known_symbols``: when given, a LONG/SHORT on any other symbol is dropped. An empty
    list of decisions means hold: no actions and no notes.
    """
    notes: list[str] = []
    allowed = frozenset(str(action).upper() for action in allowed_actions)
    known = None if known_symbols is None else frozenset(str(symbol).upper() for symbol in known_symbols)
    items = decision_items(text, notes)
    if not items:
        return ParseResult([], notes)
    if len(items) > MAX_DECISIONS:
        notes.append(f"{len(items)} decisions sent; only the first {MAX_DECISIONS} were read")
    actions = []
    for index, item in enumerate(items[:MAX_DECISIONS], start=1):
        label = f"decision {index}"
        try:
            actions.append(_validate_decision(item, label, allowed, known, notes))
        except DecisionDropped as drop:
            notes.append(f"{label}: {drop}; decision dropped")
    return ParseResult(actions, notes)
