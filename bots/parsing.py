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
"""
from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from typing import Any

from trading.risk import CloseRequest, OpenRequest

LONG, SHORT, CLOSE, HOLD, ANALYZE = "LONG", "SHORT", "CLOSE", "HOLD", "ANALYZE"
ACTIONS = (LONG, SHORT, CLOSE, HOLD, ANALYZE)
TRADE_ACTIONS = frozenset({LONG, SHORT, CLOSE, HOLD})

MAX_REPLY_CHARS = 200_000
MAX_DECISIONS = 20
MAX_REASONING_CHARS = 2_000
MAX_LEVERAGE = 1_000
MAX_ID_CHARS = 64  # Position.legacy_id's length; longer is not an id we issued
MAX_ARGS_CHARS = 10_000
# Work bounds: JSON starts tried per text, and how many of those get the slower repair.
MAX_STARTS = 200
MAX_REPAIRS = 8
QUOTE = 200  # characters of an unreadable reply quoted in its note

# Action words models use, read as the legacy action they mean.
SYNONYMS = {
    **dict.fromkeys(("LONG", "BUY", "GO_LONG", "OPEN_LONG", "ENTER_LONG", "BUY_LONG"), LONG),
    **dict.fromkeys(("SHORT", "SELL", "GO_SHORT", "OPEN_SHORT", "ENTER_SHORT", "SELL_SHORT"), SHORT),
    **dict.fromkeys(("CLOSE", "CLOSE_POSITION", "EXIT", "EXIT_POSITION", "CLOSE_LONG", "CLOSE_SHORT"), CLOSE),
    **dict.fromkeys(
        ("HOLD", "WAIT", "NONE", "NO_ACTION", "NOTHING", "SKIP", "STAY", "PASS", "NO_TRADE"), HOLD
    ),
    **dict.fromkeys(("ANALYZE", "ANALYSE", "ANALYSIS"), ANALYZE),
}
OPEN_WORDS = frozenset({"OPEN", "ENTER", "ENTRY", "OPEN_POSITION"})
SIDE_WORDS = {"LONG": LONG, "BUY": LONG, "SHORT": SHORT, "SELL": SHORT}

# Field names after lower-casing and dropping "_", "-" and spaces (stopLoss = stop_loss).
ACTION_KEYS = ("action", "decision", "signal")
SIDE_KEYS = ("side", "type", "direction", "position")
SYMBOL_KEYS = ("symbol", "pair", "ticker", "coin", "asset", "market")
SIZE_KEYS = ("size", "margin", "sizeusdt", "marginusdt")
LEVERAGE_KEYS = ("leverage", "lev")
STOP_KEYS = ("stoploss", "sl", "stop", "stopprice")
TAKE_KEYS = ("takeprofit", "tp", "target", "targetprice")
ID_KEYS = ("closepositionid", "positionid", "closeid")
REASON_KEYS = ("reasoning", "reason", "rationale", "explanation", "thoughts", "comment")
TOOL_KEYS = ("tool", "toolname", "function", "name")
ARGS_KEYS = ("args", "arguments", "params", "parameters", "input")
WRAPPER_KEYS = ("decisions", "decision", "actions", "action", "orders", "order", "trades", "trade", "signals")


@dataclass(frozen=True)
class Action:
    """One validated decision. LONG/SHORT carry a symbol and a positive margin;
    CLOSE a position id or a symbol (and maybe a side); ANALYZE a tool and its args."""

    action: str
    symbol: str | None = None
    margin: Decimal | None = None
    leverage: int | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    close_position_id: str | None = None
    side: str | None = None  # which side a CLOSE by symbol means, when the model said
    reasoning: str = ""
    tool: str | None = None
    args: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """For ``Decision.actions``: every field, Decimals as exact strings."""
        def text(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        data = {
            "action": self.action, "symbol": self.symbol, "margin": text(self.margin),
            "leverage": self.leverage, "stop_loss": text(self.stop_loss),
            "take_profit": text(self.take_profit), "close_position_id": self.close_position_id,
            "side": self.side, "reasoning": self.reasoning,
        }
        if self.action == ANALYZE:
            data.update(tool=self.tool, args=dict(self.args))
        return data

    def open_request(self, default_leverage: int) -> OpenRequest:
        """A LONG/SHORT as ``trading.risk.OpenRequest``; leverage defaults when not given."""
        if self.action not in (LONG, SHORT) or self.symbol is None or self.margin is None:
            raise ValueError(f"{self.action} is not an open")
        return OpenRequest(
            symbol=self.symbol, side=self.action, margin=self.margin,
            leverage=self.leverage or default_leverage,
            stop_loss=self.stop_loss, take_profit=self.take_profit,
        )

    def close_request(self) -> CloseRequest:
        """A CLOSE as ``trading.risk.CloseRequest``."""
        if self.action != CLOSE:
            raise ValueError(f"{self.action} is not a close")
        return CloseRequest(position_id=self.close_position_id, symbol=self.symbol, side=self.side)


@dataclass(frozen=True)
class ParseResult:
    actions: list[Action]
    notes: list[str]


# --- finding the JSON ----------------------------------------------------------------


class _Object(dict):
    """A decoded JSON object that remembers keys it was given twice with different values."""

    repeated: frozenset[str] = frozenset()

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, Any]]) -> _Object:
        obj = cls()
        repeated = set()
        for key, value in pairs:
            if key in obj and obj[key] != value:
                repeated.add(key)
            obj[key] = value
        obj.repeated = frozenset(repeated)
        return obj


# strict=False lets raw newlines through inside strings (multi-line reasoning is common);
# floats become Decimal so "0.1" stays 0.1; NaN and Infinity become non-finite Decimals
# that validation refuses.
_DECODER = json.JSONDecoder(
    parse_float=Decimal, parse_constant=Decimal, object_pairs_hook=_Object.from_pairs, strict=False
)
_START = re.compile(r"[\[{]")
_SPACE = re.compile(r"\s*")
_THINKING_ENDS = ("</think>", "</thinking>")
_REPAIRABLE = re.compile(
    r"""(?P<dq>"(?:[^"\\]|\\.)*")
      | (?P<sq>'(?:[^'\\\n]|\\.)*')
      | (?P<comma>,)(?=\s*[\]}])
      | (?P<comment>//[^\n]*)
      | (?P<word>\b(?:True|False|None)\b)
      | (?P<key>(?<=[{,])\s*[A-Za-z_][A-Za-z0-9_]*(?=\s*:))""",
    re.X | re.S,
)
_PYTHON_WORDS = {"True": "true", "False": "false", "None": "null"}


@dataclass
class _Budget:
    starts: int = MAX_STARTS
    repairs: int = MAX_REPAIRS


def _try_decode(text: str, index: int) -> tuple[Any, int] | None:
    try:
        return _DECODER.raw_decode(text, index)
    except (ValueError, RecursionError):
        return None  # no JSON value starts here; the caller tries the next start


def _requote(escape: re.Match[str]) -> str:
    return {"\\'": "'", '"': '\\"'}.get(escape.group(), escape.group())


def _fix(match: re.Match[str], source: str) -> str:
    kind, token = match.lastgroup, match.group()
    if kind == "sq":
        before = match.start() - 1
        while before >= 0 and source[before].isspace():
            before -= 1
        if before < 0 or source[before] not in "{[,:":
            return token  # an apostrophe in prose, not a string
        return '"' + re.sub(r'\\.|"', _requote, token[1:-1]) + '"'
    if kind in ("comma", "comment"):
        return ""
    if kind == "word":
        return _PYTHON_WORDS[token]
    if kind == "key":
        name = token.lstrip()
        return f'{token[: len(token) - len(name)]}"{name}"'
    return token  # a JSON string: kept as it is


def _repair(source: str) -> tuple[str, list[int], list[int]]:
    """``source`` with trailing commas, ``//`` comments, single-quoted strings, bare keys
    and Python's True/False/None made JSON; plus checkpoints mapping positions back."""
    pieces, new_marks, old_marks = [], [0], [0]
    last = length = 0
    for match in _REPAIRABLE.finditer(source):
        replacement = _fix(match, source)
        if replacement == match.group():
            continue
        pieces += [source[last : match.start()], replacement]
        length += match.start() - last + len(replacement)
        last = match.end()
        new_marks.append(length)
        old_marks.append(last)
    pieces.append(source[last:])
    return "".join(pieces), new_marks, old_marks


def _decode_at(text: str, start: int, budget: _Budget) -> tuple[Any, int, bool] | None:
    """The JSON value starting at ``start``, its end in ``text``, and whether it needed repair."""
    decoded = _try_decode(text, start)
    if decoded is not None:
        return decoded[0], decoded[1], False
    if budget.repairs <= 0:
        return None
    budget.repairs -= 1
    repaired, new_marks, old_marks = _repair(text[start:])
    decoded = _try_decode(repaired, 0)
    if decoded is None:
        return None
    checkpoint = bisect.bisect_right(new_marks, decoded[1]) - 1
    end = start + old_marks[checkpoint] + decoded[1] - new_marks[checkpoint]
    return decoded[0], end, True


def _decisions_in(value: Any, depth: int = 0) -> list[Any] | None:
    """The decision items ``value`` holds, or None when it is not decisions at all."""
    if isinstance(value, list):
        return value if not value or any(isinstance(item, dict) for item in value) else None
    if not isinstance(value, dict) or depth > 3:
        return None
    by_name = {_key(key): inner for key, inner in value.items()}
    for name in WRAPPER_KEYS:
        inner = by_name.get(name)
        found = _decisions_in(inner, depth + 1) if isinstance(inner, list | dict) else None
        if found is not None:
            return found
    if any(isinstance(by_name.get(name), str) for name in (*ACTION_KEYS, *SIDE_KEYS, "symbol")):
        return [value]
    lists = [inner for inner in value.values() if isinstance(inner, list) and _decisions_in(inner)]
    if len(lists) == 1:
        return lists[0]
    if len(value) == 1:
        return _decisions_in(next(iter(value.values())), depth + 1)
    return None


@dataclass(frozen=True)
class _Candidate:
    items: list[Any]
    repaired: bool = False
    salvaged: bool = False  # the complete decisions of a list that breaks off


# A list of objects, bare or as the first field of a wrapper: {"decisions": [{
_LIST_OPENING = re.compile(r'(\{\s*"[^"\n]{0,40}"\s*:\s*)?\[\s*(?=\{)')


def _salvage(text: str, start: int) -> tuple[list[Any], int]:
    """The complete objects of a list at ``start`` that breaks off (``[{...}, {"act``),
    and where the last of them ends."""
    opening = _LIST_OPENING.match(text, start)
    if opening is None:
        return [], start
    items: list[Any] = []
    index = end = opening.end()
    while True:
        decoded = _try_decode(text, index)
        if decoded is None or not isinstance(decoded[0], dict):
            break
        items.append(decoded[0])
        end = _SPACE.match(text, decoded[1]).end()
        if not text.startswith(",", end):
            break
        index = _SPACE.match(text, end + 1).end()
    return items, end


def _scan(text: str, budget: _Budget) -> Iterator[_Candidate]:
    """Each decision-bearing JSON value in ``text``, in order."""
    resume = 0
    for match in _START.finditer(text):
        start = match.start()
        if start < resume:
            continue  # inside a value already read: its parts are not separate blocks
        if budget.starts <= 0:
            return
        budget.starts -= 1
        decoded = _decode_at(text, start, budget)
        if decoded is None:
            # Cut off mid-way (a length limit) or broken later on: keep what is whole.
            salvaged, resume = _salvage(text, start)
            if salvaged:
                yield _Candidate(salvaged, salvaged=True)
            continue
        value, resume, repaired = decoded
        items = _decisions_in(value)
        if items is not None:
            yield _Candidate(items, repaired)


def _regions(text: str) -> list[list[str]]:
    """Where to look, best first: the code fences' contents (a trailing unclosed fence
    included: a reply cut off inside its fence), then the whole text."""
    parts = text.split("```")
    return [parts[1::2][:20], [text]] if len(parts) > 1 else [[text]]


def _find(text: str, notes: list[str]) -> list[Any] | None:
    budget = _Budget()
    for regions in _regions(text):
        found: list[_Candidate] = []
        for region in regions:
            found += islice(_scan(region, budget), 6 - len(found))
        if not found:
            continue
        # An empty list is a hold, unless real decisions follow (a "[]" in prose).
        chosen = next((candidate for candidate in found if candidate.items), found[0])
        if chosen.repaired:
            notes.append("the JSON needed repair (trailing commas, single quotes or comments) to be read")
        if chosen.salvaged:
            count = len(chosen.items)
            notes.append(
                f"the reply's JSON breaks off after decision {count}; "
                f"the {count} complete decision(s) before the break were read"
            )
        others = sum(1 for candidate in found if candidate.items and candidate is not chosen)
        if others:
            more = f"{others}+" if len(found) > 5 else str(others)
            notes.append(f"{more} more JSON block(s) with decisions followed; only the first was read")
        return chosen.items
    notes.append(f"no decisions found in the reply: {text[:QUOTE]!r}")
    return None


def _items(reply: object, notes: list[str]) -> list[Any] | None:
    if isinstance(reply, bytes | bytearray):
        reply = bytes(reply[: MAX_REPLY_CHARS * 4]).decode("utf-8", "replace")
    if isinstance(reply, list | dict):
        items = _decisions_in(reply)
        if items is None:
            notes.append("the reply holds no decisions")
        return items
    if reply is None:
        notes.append("the reply was empty")
        return None
    if not isinstance(reply, str):
        notes.append(f"the reply is a {type(reply).__name__}, not text")
        return None
    if len(reply) > MAX_REPLY_CHARS:
        notes.append(f"the reply is {len(reply):,} characters; only the first {MAX_REPLY_CHARS:,} were read")
        reply = reply[:MAX_REPLY_CHARS]
    # Reasoning models (DeepSeek R1, Qwen) think aloud first, sometimes in draft JSON: the
    # answer is what follows the last closing tag. rfind, not a regex: linear on any input.
    lowered = reply.lower()
    cut = max((lowered.rfind(tag) + len(tag) if tag in lowered else 0) for tag in _THINKING_ENDS)
    text = reply[cut:].strip().lstrip("\ufeff")
    if not text:
        notes.append("the reply was empty")
        return None
    if text.startswith('"'):  # the whole reply JSON-encoded once more, as some proxies do
        decoded = _try_decode(text, 0)
        if decoded is not None and isinstance(decoded[0], str):
            text = decoded[0].strip()
    return _find(text, notes)


# --- validating one decision ---------------------------------------------------------


class _Drop(Exception):
    """Ends one decision's validation; the message is the reason."""


def _key(name: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _show(value: object) -> str:
    shown = repr(value) if isinstance(value, str) else str(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _clean_text(value: object, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        value = json.dumps(value, default=str, ensure_ascii=False)[: limit + 1]
    # NUL is refused by PostgreSQL text columns.
    value = value[: limit * 2].replace("\x00", "")
    return value if len(value) <= limit else value[: limit - 1] + "…"


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?", re.I)
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")


def _number(value: object, what: str) -> Decimal:
    """A JSON number or a numeric string ("100", "1,000.5", "$250", "250 USDT") as Decimal."""
    if isinstance(value, bool) or value is None:
        raise _Drop(f"{what} {_show(value)} is not a number")
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            unit = "the margin in USDT" if what == "size" else "a price"
            raise _Drop(f"{what} {_show(value)} is a percentage; {what} is {unit}")
        text = re.sub(r"(?i)\s*usdt?$", "", text.removeprefix("$")).strip()
        if _THOUSANDS.fullmatch(text):
            text = text.replace(",", "")
        if len(text) > 40 or not _NUMBER.fullmatch(text):
            raise _Drop(f"{what} {_show(value)} is not a number")
        number = Decimal(text)
    else:
        raise _Drop(f"{what} {_show(value)} is not a number")
    if not number.is_finite() or (number != 0 and not -12 <= number.adjusted() < 15):
        raise _Drop(f"{what} {_show(value)} is not a number the exchange accepts")
    return number


def _leverage(value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = value.strip().lower().removesuffix("x").removeprefix("x").strip()
    try:
        number = _number(value, "leverage")
    except _Drop:
        raise _Drop(f"leverage {_show(value)} is not a number the exchange accepts") from None
    if not 1 <= number <= MAX_LEVERAGE:
        raise _Drop(f"leverage {number.normalize():f} is not a number the exchange accepts")
    if number != number.to_integral_value():
        raise _Drop(f"leverage {number.normalize():f} is not a whole number")
    return int(number)


def _price(value: object, what: str) -> Decimal | None:
    if value is None or value == "" or value == 0:
        return None  # 0 and null both mean "none" in legacy replies
    number = _number(value, what)
    if number < 0:
        raise _Drop(f"{what} {_show(value)} is not a price")
    return number or None


def normalize_symbol(raw: object) -> str | None:
    """``"btc"``, ``"BTC/USDT"``, ``"BTC-USDT"``, ``"BTCUSDT.P"``, ``"BTC/USDT:USDT"``,
    ``"BTC-PERP"`` → ``"BTCUSDT"``; None when it cannot be a symbol."""
    if not isinstance(raw, str) or len(raw) > 40:
        return None
    text = raw.strip().upper().removeprefix("$").removesuffix(".P").removesuffix(":USDT")
    text = re.sub(r"[-_ ]?(PERP|PERPETUAL|SWAP)$", "", text)
    parts = [part for part in re.split(r"[/\-_ ]+", text) if part]
    if len(parts) == 2:
        base, quote = parts
        text = base + ("USDT" if quote == "USD" else quote)
    elif len(parts) == 1:
        text = parts[0] if parts[0].endswith("USDT") else parts[0] + "USDT"
    else:
        return None
    return text if re.fullmatch(r"[A-Z0-9]{2,26}", text) and text != "USDT" else None


def _word(value: object) -> str:
    return re.sub(r"[\s\-]+", "_", value.strip().upper()) if isinstance(value, str) else ""


class _Fields:
    """A decision's fields by normalised name (stopLoss = stop_loss = STOP-LOSS).

    A field whose value matters to money (size, leverage, prices, symbol, id) must not
    be given twice with different values — under one name or two — or the decision is
    ambiguous and dropped: guessing which one the model meant is how a 5x becomes 50x.
    """

    def __init__(self, item: dict[str, Any]) -> None:
        self.values: dict[str, Any] = {}
        self.repeated = {_key(key) for key in getattr(item, "repeated", ())}
        for key, value in item.items():
            name = _key(key)
            if name in self.values and self.values[name] != value:
                self.repeated.add(name)
            self.values.setdefault(name, value)

    def get(self, names: Iterable[str], what: str, *, agree: bool = True) -> Any:
        present = [name for name in names if self.values.get(name) is not None]
        values = [self.values[name] for name in present]
        if agree and (
            any(name in self.repeated for name in present) or any(value != values[0] for value in values[1:])
        ):
            raise _Drop(f"{what} is given twice with different values")
        return values[0] if values else None

    def first_word(self, names: Iterable[str], vocabulary: Mapping[str, str]) -> tuple[Any, str]:
        """The first of ``names`` holding a word of ``vocabulary``, else the first text."""
        texts = [self.values[name] for name in names if isinstance(self.values.get(name), str)]
        for text in texts:
            if _word(text) in vocabulary or _word(text) in OPEN_WORDS:
                return text, _word(text)
        return (texts[0], _word(texts[0])) if texts else (None, "")


def _action(fields: _Fields, notes: list[str], label: str) -> tuple[str, str | None]:
    """The legacy action and, for a close, the side the model named."""
    raw, word = fields.first_word(ACTION_KEYS, SYNONYMS)
    side_raw, side_word = fields.first_word(SIDE_KEYS, SIDE_WORDS)
    if raw is None:
        raw, word, side_word = side_raw, side_word, ""  # {"side": "BUY", ...} with no action field
    if not isinstance(raw, str) or not raw.strip():
        raise _Drop("no action given")
    side = SIDE_WORDS.get(side_word)
    if word in OPEN_WORDS and side is not None:
        notes.append(f"{label}: {_show(raw)} with side {_show(side_raw)} read as {side}")
        return side, None
    action = SYNONYMS.get(word)
    if action is None:
        raise _Drop(f"action {_show(raw)} is not one of {', '.join(ACTIONS)}")
    if action in (LONG, SHORT) and side is not None and side != action:
        raise _Drop(f"action {_show(raw)} contradicts side {_show(side_raw)}")
    if word != action:
        notes.append(f"{label}: {_show(raw)} read as {action}")
    if action != CLOSE:
        return action, None
    # A side on a close says which position; BUY/SELL there would be a guess, so only LONG/SHORT.
    return action, {"CLOSE_LONG": LONG, "CLOSE_SHORT": SHORT}.get(word) or (
        side_word if side_word in (LONG, SHORT) else None
    )


def _position_id(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return str(int(value))
    if isinstance(value, str) and len(value.strip()) <= MAX_ID_CHARS and value.strip().isprintable():
        return value.strip() or None
    raise _Drop(f"position id {_show(value)} is not an id")


def _plain(value: Any) -> Any:
    """Tool args as JSON-ready values: whole numbers as ints, other numbers as their exact
    decimal text (``bots.tools`` reads numbers from text; a float would lose digits)."""
    if isinstance(value, Decimal):
        whole = value.is_finite() and value == value.to_integral_value() and value.adjusted() < 30
        return int(value) if whole else str(value)
    if isinstance(value, dict):
        return {str(key): _plain(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_plain(inner) for inner in value]
    return value


def _analysis(fields: _Fields) -> tuple[str, dict[str, Any]]:
    tool = fields.get(TOOL_KEYS, "the tool", agree=False)
    if not isinstance(tool, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}", tool.strip()):
        raise _Drop(f"ANALYZE needs a tool name, not {_show(tool)}")
    args = fields.get(ARGS_KEYS, "the args", agree=False)
    if isinstance(args, str) and len(args) <= MAX_ARGS_CHARS:
        decoded = _try_decode(args.strip(), 0) if args.strip() else ({}, 0)
        args = decoded[0] if decoded is not None else args
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise _Drop(f"the args of {tool.strip()} are not an object")
    args = _plain(args)
    if len(json.dumps(args, default=str)) > MAX_ARGS_CHARS:
        raise _Drop(f"the args of {tool.strip()} are longer than {MAX_ARGS_CHARS:,} characters")
    return tool.strip(), args


def _validate(
    item: Any, label: str, allowed: frozenset[str], known: frozenset[str] | None, notes: list[str]
) -> Action:
    if not isinstance(item, dict):
        raise _Drop(f"{_show(item)} is not a decision object")
    fields = _Fields(item)
    action, side = _action(fields, notes, label)
    if action not in allowed:
        raise _Drop(f"{action} is not available to this bot")
    reasoning = _clean_text(fields.get(REASON_KEYS, "the reasoning", agree=False), MAX_REASONING_CHARS)
    raw_symbol = fields.get(SYMBOL_KEYS, "the symbol")
    symbol = normalize_symbol(raw_symbol)
    if raw_symbol not in (None, "") and symbol is None and action != HOLD:
        raise _Drop(f"symbol {_show(raw_symbol)} is not a market symbol")
    if action in (LONG, SHORT):
        if symbol is None:
            raise _Drop(f"{action} needs a symbol")
        if known is not None and symbol not in known:
            raise _Drop(f"unknown symbol {symbol}: no market trades under that name")
        size = fields.get(SIZE_KEYS, "the size")
        if size in (None, ""):
            raise _Drop(f"{action} {symbol} needs a size (the margin in USDT)")
        margin = _number(size, "size")
        if margin <= 0:
            raise _Drop(f"size {_show(size)} is not positive")
        return Action(
            action, symbol, margin,
            leverage=_leverage(fields.get(LEVERAGE_KEYS, "the leverage")),
            stop_loss=_price(fields.get(STOP_KEYS, "the stop-loss"), "stop-loss"),
            take_profit=_price(fields.get(TAKE_KEYS, "the take-profit"), "take-profit"),
            reasoning=reasoning,
        )
    if action == CLOSE:
        position_id = _position_id(fields.get(ID_KEYS, "the position id"))
        if position_id is None and symbol is None:
            raise _Drop("a CLOSE names a position id (closePositionId) or a symbol")
        return Action(CLOSE, symbol, close_position_id=position_id, side=side, reasoning=reasoning)
    if action == ANALYZE:
        tool, args = _analysis(fields)
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
    items = _items(text, notes)
    if not items:
        return ParseResult([], notes)
    if len(items) > MAX_DECISIONS:
        notes.append(f"{len(items)} decisions sent; only the first {MAX_DECISIONS} were read")
    actions = []
    for index, item in enumerate(items[:MAX_DECISIONS], start=1):
        label = f"decision {index}"
        try:
            actions.append(_validate(item, label, allowed, known, notes))
        except _Drop as drop:
            notes.append(f"{label}: {drop}; decision dropped")
    return ParseResult(actions, notes)
