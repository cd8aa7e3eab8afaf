"""Decisions as people and models read them back: one line per parsed action.

``Decision.actions`` holds the parser's dicts (``action``, ``symbol``, ``margin``,
``leverage``, ``stop_loss``, ``take_profit``, ``close_position_id``, ``reasoning``); the
prompt's recent decisions, the learning summary's request and ``run_turn``'s report all
show them with ``action_text``.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The fields after the action and symbol, in order, each with how it is shown in full.
_FULL = (
    ("margin", "{} USDT"), ("leverage", "x{}"), ("stop_loss", "SL {}"), ("take_profit", "TP {}"),
    ("close_position_id", "position {}"),
)
# The prompt's history is terse (it is sent every turn): margin and leverage only.
_BRIEF = (("margin", "{}"), ("leverage", "x{}"))


def action_text(action: Mapping[str, Any], *, brief: bool = False) -> str:
    """``LONG BTCUSDT 100 USDT x5 SL 95 TP 110`` or ``CLOSE position 42``, without the
    reasoning; ``brief`` gives ``LONG BTCUSDT 100 x5``. A field missing or empty is left
    out; an action without a name shows as ``?``."""
    words = [str(action.get("action") or "?")]
    if action.get("symbol"):
        words.append(str(action["symbol"]))
    for key, shown in _BRIEF if brief else _FULL:
        if action.get(key) not in (None, ""):
            words.append(shown.format(action[key]))
    return " ".join(words)


def actions_of(actions: object) -> list[Mapping[str, Any]]:
    """The action dicts of a stored ``Decision.actions`` (anything else left out)."""
    return [a for a in actions if isinstance(a, Mapping)] if isinstance(actions, list | tuple) else []
