"""Prompt rendering: the bot's own prompt with the legacy placeholders, then what a model needs.

``render(template, ctx)`` returns a system message (the role, and that only the JSON
reply is read) and a user message: the bot's prompt with ``{{totalValue}}``,
``{{availableBalance}}``, ``{{unrealizedPnl}}``, ``{{openPositions}}``, ``{{marketData}}``
and ``{{currentDate}}`` replaced in the legacy formats (so legacy prompts work
unchanged), followed by headed sections: PORTFOLIO, OPEN POSITIONS, MARKETS, ACTIVE
COOLDOWNS, LEARNING SUMMARY, RECENT DECISIONS, RULES and RESPONSE FORMAT.

Decisions:

- Placeholders are matched with any whitespace inside the braces and in any letter case
  (``{{ totalValue }}``, ``{{totalvalue}}``); every occurrence is replaced (the legacy
  replaced only the first, leaving later ones as literal braces — a bug nobody relied
  on); unknown ``{{names}}`` stay as they are. Substitution is one pass, so a value is
  never scanned for placeholders again.
- ``{{openPositions}}`` expands to the same detailed lines as the OPEN POSITIONS
  section, so when the template used it the section only points back to it. Every
  other section is always written in full: PORTFOLIO is a few lines, and MARKETS adds
  indicators the short ``{{marketData}}`` lines lack.
- Size never grows with history: the template is cut at ``MAX_TEMPLATE_CHARS``, its
  expansion at ``MAX_INSTRUCTIONS_CHARS``; every list, every line and each recent
  decision is capped (the ``MAX_*`` constants), so a user message is always under
  ``MAX_USER_CHARS`` (a typical one is 3–6 thousand characters).
- Text users or models wrote (bot name, learning summary, notes, action lines) is
  data: control characters and line breaks become spaces in one-line fields, and
  summary lines are indented, so none can pose as a section heading; braces in it are
  never expanded.

ORM-free: the turn engine fills the frozen dataclasses of ``bots.prompts.context`` from the database.

Modules: ``context`` (the dataclasses and caps), ``formatting`` (numbers, prices, times),
``sections`` (the state sections), ``text`` (system message, response format), ``rendering``
(``render``, ``render_analysis_followup``).
"""
from __future__ import annotations

from bots.prompts.context import (
    MAX_ACTIONS_PER_DECISION,
    MAX_COOLDOWNS,
    MAX_DECISION_CHARS,
    MAX_INSTRUCTIONS_CHARS,
    MAX_LEVERAGE_SYMBOLS,
    MAX_LINE_CHARS,
    MAX_MARKETS,
    MAX_NAME_CHARS,
    MAX_NOTES_PER_DECISION,
    MAX_POSITIONS,
    MAX_RECENT_DECISIONS,
    MAX_SUMMARY_CHARS,
    MAX_SUMMARY_LINES,
    MAX_TEMPLATE_CHARS,
    MAX_TOOL_RESULT_CHARS,
    MAX_TOOL_RESULTS,
    MAX_USER_CHARS,
    MarketLine,
    PositionLine,
    PromptContext,
    RecentDecision,
    RenderedPrompt,
    Rules,
)
from bots.prompts.rendering import PLACEHOLDERS, render, render_analysis_followup
from bots.prompts.text import EXAMPLE, SYSTEM

__all__ = [
    "EXAMPLE",
    "MAX_ACTIONS_PER_DECISION",
    "MAX_COOLDOWNS",
    "MAX_DECISION_CHARS",
    "MAX_INSTRUCTIONS_CHARS",
    "MAX_LEVERAGE_SYMBOLS",
    "MAX_LINE_CHARS",
    "MAX_MARKETS",
    "MAX_NAME_CHARS",
    "MAX_NOTES_PER_DECISION",
    "MAX_POSITIONS",
    "MAX_RECENT_DECISIONS",
    "MAX_SUMMARY_CHARS",
    "MAX_SUMMARY_LINES",
    "MAX_TEMPLATE_CHARS",
    "MAX_TOOL_RESULTS",
    "MAX_TOOL_RESULT_CHARS",
    "MAX_USER_CHARS",
    "MarketLine",
    "PLACEHOLDERS",
    "PositionLine",
    "PromptContext",
    "RecentDecision",
    "RenderedPrompt",
    "Rules",
    "SYSTEM",
    "render",
    "render_analysis_followup",
]
