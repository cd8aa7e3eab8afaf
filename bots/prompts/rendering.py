"""Rendering a turn's prompt (placeholders, then sections) and the sandbox follow-up message."""
from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime

from bots.prompts.context import (
    MAX_INSTRUCTIONS_CHARS,
    MAX_MARKETS,
    MAX_NAME_CHARS,
    MAX_RECENT_DECISIONS,
    MAX_TEMPLATE_CHARS,
    MAX_TOOL_RESULT_CHARS,
    MAX_TOOL_RESULTS,
    PromptContext,
    RenderedPrompt,
)
from bots.prompts.formatting import as_utc, capped, one_line, plain_number, usdt
from bots.prompts.sections import (
    cooldown_lines,
    decision_lines,
    market_data_text,
    market_line,
    positions_text,
    rules_lines,
    summary_lines,
)
from bots.prompts.text import SYSTEM, response_format_lines

PLACEHOLDERS = (
    "totalValue", "availableBalance", "unrealizedPnl", "openPositions", "marketData", "currentDate",
)
_PLACEHOLDER_PATTERN = re.compile(r"\{\{\s*(" + "|".join(PLACEHOLDERS) + r")\s*\}\}", re.IGNORECASE)
_CANONICAL_NAMES = {name.lower(): name for name in PLACEHOLDERS}


def _javascript_iso(now: datetime) -> str:
    """JavaScript's ``Date.toISOString()``, the legacy ``{{currentDate}}``: 2024-01-01T12:00:00.000Z."""
    at = as_utc(now)
    return f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}Z"


def render(template: str, ctx: PromptContext) -> RenderedPrompt:
    """The system and user messages for one bot's turn (see ``bots.prompts``)."""
    positions = positions_text(ctx)
    values = {
        "totalValue": plain_number(ctx.total_value, 2, sep=""),
        "availableBalance": plain_number(ctx.available_balance, 2, sep=""),
        "unrealizedPnl": plain_number(ctx.unrealized_pnl, 2, sep=""),
        "openPositions": positions,
        "marketData": market_data_text(ctx),
        "currentDate": _javascript_iso(ctx.now),
    }
    used: set[str] = set()

    def substitute(match: re.Match[str]) -> str:
        name = _CANONICAL_NAMES[match.group(1).lower()]
        used.add(name)
        return values[name]

    text = str(template)
    if len(text) > MAX_TEMPLATE_CHARS:
        text = text[:MAX_TEMPLATE_CHARS] + "\n[… prompt cut at 20,000 characters]"
    instructions = _PLACEHOLDER_PATTERN.sub(substitute, text)
    if len(instructions) > MAX_INSTRUCTIONS_CHARS:
        instructions = instructions[:MAX_INSTRUCTIONS_CHARS] + "\n[… cut at 60,000 characters]"

    sections: list[tuple[str, list[str]]] = [
        ("PORTFOLIO", [
            f"Bot: {one_line(ctx.bot_name, MAX_NAME_CHARS)}",
            f"Time: {as_utc(ctx.now):%Y-%m-%d %H:%M} UTC",
            f"Total value: {usdt(ctx.total_value)} USDT",
            f"Available balance: {usdt(ctx.available_balance)} USDT",
            f"Margin in use: {usdt(ctx.margin_in_use)} USDT",
            f"Unrealized PnL: {usdt(ctx.unrealized_pnl, signed=True)} USDT",
            f"Realized PnL: {usdt(ctx.realized_pnl, signed=True)} USDT",
        ]),
        ("OPEN POSITIONS", [f"As listed above ({len(ctx.positions)} open)."] if "openPositions" in used
         else positions.splitlines()),
    ]
    markets, more = capped(ctx.markets, MAX_MARKETS)
    market_lines = [market_line(m) for m in markets] + ([more] if more else [])
    sections.append(("MARKETS", market_lines or ["No market data"]))
    cooldowns = cooldown_lines(ctx)
    if cooldowns:
        sections.append(("ACTIVE COOLDOWNS", cooldowns))
    if ctx.learning_summary and ctx.learning_summary.strip():
        sections.append(("LEARNING SUMMARY", summary_lines(ctx.learning_summary)))
    decisions, more = capped(ctx.recent_decisions, MAX_RECENT_DECISIONS)
    history = [line for d in decisions for line in decision_lines(d, ctx.now)]
    sections.append(("RECENT DECISIONS (newest first)", history + ([more] if more else []) or ["None yet."]))
    sections.append(("RULES", rules_lines(ctx)))
    sections.append(("RESPONSE FORMAT", response_format_lines(ctx.sandbox)))

    body = "\n\n".join(f"## {title}\n" + "\n".join(lines) for title, lines in sections)
    return RenderedPrompt(system=SYSTEM, user=f"{instructions}\n\n{body}")


def _tool_result_json(result: object) -> str:
    try:
        text = json.dumps(result, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):  # non-string keys, cycles, huge ints, deep nesting
        try:
            text = repr(result)
        except (ValueError, RecursionError):
            text = f"<a {type(result).__name__} that cannot be shown>"
    if len(text) > MAX_TOOL_RESULT_CHARS:
        text = text[:MAX_TOOL_RESULT_CHARS] + " … [truncated]"
    return text


def render_analysis_followup(tool_results: Sequence[object]) -> str:
    """The message after a sandbox step: each tool call's outcome as JSON, then the ask to decide.

    The turn engine passes one dict per call, e.g. ``{"tool": "volatility", "args": {...},
    "result": {...}}`` or ``{..., "error": "<ToolError message>"}``. At most
    ``MAX_TOOL_RESULTS`` are shown, each cut at ``MAX_TOOL_RESULT_CHARS``.
    """
    shown, more = capped(tool_results, MAX_TOOL_RESULTS)
    lines = ["## TOOL RESULTS"]
    lines += [f"[{i}] {_tool_result_json(result)}" for i, result in enumerate(shown, start=1)] or [
        "(no tool was run)"
    ]
    lines += [more] if more else []
    lines += ["", "Now reply with ONLY the JSON array of your decisions (RESPONSE FORMAT above)."]
    return "\n".join(lines)
