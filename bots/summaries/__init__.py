"""Learning summaries: a bot's own model distils its older decisions into the lessons
its prompt shows under LEARNING SUMMARY.

The legacy rule, kept: once a bot has more than ``KEEP_RECENT`` unsummarised decisions
weighing at least ``MIN_TOKENS`` estimated tokens (characters / ``CHARS_PER_TOKEN`` of
what they stored), all but the newest ``KEEP_RECENT`` are summarised; after a summary,
the next waits until ``MIN_NEW_DECISIONS`` more decisions were made. Each summary is
given the previous one plus the decisions since it and replaces it, so it speaks for
the bot's whole history while both its request and the prompt stay bounded.

``rules`` holds the pure part (``due``, ``build_request``), ``reads`` the queries and
``services`` the writes; every public name is importable from ``bots.summaries``.
"""
from __future__ import annotations

from bots.summaries.reads import Backlog, summary_backlog, summary_due_bots, summary_latest_text
from bots.summaries.rules import (
    CHARS_PER_TOKEN,
    KEEP_RECENT,
    MAX_DECISION_CHARS,
    MAX_FOLD_DECISIONS,
    MAX_NOTES_PER_DECISION,
    MAX_PREVIOUS_CHARS,
    MAX_REQUEST_CHARS,
    MAX_STORED_CHARS,
    MIN_FORCE_DECISIONS,
    MIN_NEW_DECISIONS,
    MIN_TOKENS,
    SUMMARY_TARGET_CHARS,
    SYSTEM,
    TASK,
    DecisionDigest,
    build_request,
    decision_line,
    due,
    estimate_tokens,
)
from bots.summaries.services import SummaryError, summaries_clear, summary_create, summary_force

__all__ = [
    "CHARS_PER_TOKEN", "KEEP_RECENT", "MAX_DECISION_CHARS", "MAX_FOLD_DECISIONS", "MAX_NOTES_PER_DECISION",
    "MAX_PREVIOUS_CHARS", "MAX_REQUEST_CHARS", "MAX_STORED_CHARS", "MIN_FORCE_DECISIONS",
    "MIN_NEW_DECISIONS", "MIN_TOKENS", "SUMMARY_TARGET_CHARS", "SYSTEM", "TASK", "Backlog",
    "DecisionDigest", "SummaryError", "build_request", "decision_line", "due", "estimate_tokens",
    "summaries_clear", "summary_backlog", "summary_create", "summary_due_bots", "summary_force",
    "summary_latest_text",
]
