"""The built-in offline provider: ``config.model`` names a strategy in ``bots.strategies``.

No network and no key: a fresh arena trades out of the box. The strategy's decisions
come back as JSON text, so they pass through ``bots.parsing`` like any model's reply
and nothing downstream needs to know the difference.

A request whose context is ``{"task": "summarize", "decisions": [...], "previous_summary":
text}`` (built by ``bots.summaries``) gets a learning summary instead: plain text with
counts by action and symbol and the best and worst outcomes, deterministic, and folding
in the totals line of a previous scripted summary — so offline arenas learn too.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from bots import strategies
from bots.providers.base import ChatRequest, ProviderConfig, ProviderError, Reply

KIND = "scripted"
SUMMARY_TASK = "summarize"
TOTALS = "Totals carried forward: "


def complete(config: ProviderConfig, request: ChatRequest) -> Reply:
    """Run the strategy on ``request.context``, or summarise it (see the module docstring).
    The strategies are microseconds of arithmetic: the event loop calls this inline."""
    started = time.perf_counter()
    if request.context.get("task") == SUMMARY_TASK:
        text = summarize(request.context)
    else:
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


# --- summary mode --------------------------------------------------------------------


def _money(value: object) -> Decimal | None:
    try:
        number = Decimal(str(value)) if isinstance(value, str | int | Decimal) else None
    except InvalidOperation:
        return None
    return number if number is not None and number.is_finite() else None


@dataclass
class _Tally:
    decisions: int = 0
    failed: int = 0
    wins: int = 0
    losses: int = 0
    pnl: Decimal = Decimal(0)
    actions: Counter[str] = field(default_factory=Counter)
    symbols: Counter[str] = field(default_factory=Counter)
    best: tuple[Decimal, str] | None = None
    worst: tuple[Decimal, str] | None = None

    @classmethod
    def carried(cls, previous: object) -> _Tally:
        """The totals line of a previous scripted summary; zero for anything else."""
        for line in str(previous or "").splitlines():
            if line.startswith(TOTALS):
                try:
                    data = json.loads(line.removeprefix(TOTALS))
                    best, worst = data.get("best"), data.get("worst")
                    return cls(
                        int(data["decisions"]), int(data["failed"]), int(data["wins"]), int(data["losses"]),
                        Decimal(data["pnl"]), Counter(data["actions"]), Counter(data["symbols"]),
                        (Decimal(best[0]), str(best[1])) if best else None,
                        (Decimal(worst[0]), str(worst[1])) if worst else None,
                    )
                except (ValueError, KeyError, TypeError, IndexError, AttributeError, InvalidOperation):
                    break
        return cls()

    def add(self, raw: Mapping[str, Any]) -> None:
        self.decisions += 1
        self.failed += bool(raw.get("error"))
        actions = [a for a in raw.get("actions") or [] if isinstance(a, Mapping)]
        words = []
        for action in actions or [{"action": "HOLD"}]:
            name, symbol = str(action.get("action") or "HOLD"), action.get("symbol")
            self.actions[name] += 1
            if symbol:
                self.symbols[str(symbol)] += 1
            words.append(f"{name} {symbol}" if symbol else name)
        pnl = _money(raw.get("pnl"))
        if pnl is None:
            return
        self.pnl += pnl
        self.wins += pnl > 0
        self.losses += pnl < 0
        label = f"{str(raw.get('at', ''))[:16].replace('T', ' ')} {', '.join(words)}: {pnl:+.2f} USDT"
        if self.best is None or pnl > self.best[0]:
            self.best = (pnl, label)
        if self.worst is None or pnl < self.worst[0]:
            self.worst = (pnl, label)


def _counts(counter: Counter[str]) -> str:
    ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{name} {count}" for name, count in ranked)


def summarize(context: Mapping[str, Any]) -> str:
    """A deterministic learning summary of ``context["decisions"]`` (oldest first, each
    ``{"at", "actions": [{"action", "symbol"}], "pnl", "error"}``) on top of the totals a
    previous scripted summary carried forward."""
    tally = _Tally.carried(context.get("previous_summary"))
    raw = context.get("decisions")
    new = [d for d in raw if isinstance(d, Mapping)] if isinstance(raw, list) else []
    for decision in new:
        tally.add(decision)
    span = f" from {str(new[0].get('at'))[:16]} to {str(new[-1].get('at'))[:16]}" if new else ""
    lines = [
        f"Scripted review of {len(new)} new decisions{span}; {tally.decisions} in all.",
        f"Actions: {_counts(tally.actions) or 'none'}.",
        f"Symbols: {_counts(tally.symbols) or 'none'}.",
        f"Outcomes: {tally.wins} wins, {tally.losses} losses, net {tally.pnl:+.2f} USDT; "
        f"{tally.failed} failed calls.",
        f"Best: {tally.best[1] if tally.best else 'n/a'}.",
        f"Worst: {tally.worst[1] if tally.worst else 'n/a'}.",
        "Lesson: " + ("keep doing what the best trade did." if tally.pnl > 0 else
                      "cut losers sooner and size down until the results turn."),
    ]
    totals = {
        "decisions": tally.decisions, "failed": tally.failed, "wins": tally.wins, "losses": tally.losses,
        "pnl": str(tally.pnl), "actions": dict(sorted(tally.actions.items())),
        "symbols": dict(sorted(tally.symbols.items())),
        "best": [str(tally.best[0]), tally.best[1]] if tally.best else None,
        "worst": [str(tally.worst[0]), tally.worst[1]] if tally.worst else None,
    }
    return "\n".join([*lines, TOTALS + json.dumps(totals, ensure_ascii=False)])
