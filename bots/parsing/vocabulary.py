"""The words and field names a decision is read by, and the limits on reading one."""
from __future__ import annotations

import re

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


def field_key(name: object) -> str:
    """A field name lower-cased without separators: stopLoss = stop_loss = STOP-LOSS."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())
