"""What the real-money parts of the pages read: the kill switch's state, and a real bot's
reconciliations with its exchange (the latest as one line for its card, the whole story
for its page). The words are pure functions of the rows, so each has its own test."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count

from arena.real import kill_switch_state
from trading.models import Discrepancy, Reconciliation

HISTORY_SHOWN = 10  # the reconciliations a bot page lists


@dataclass(frozen=True)
class KillState:
    """The kill switch as the pages show it: engaged since ``at`` by ``by`` (a display name)."""

    at: datetime | None
    by: str

    @property
    def engaged(self) -> bool:
        return self.at is not None


def kill_state() -> KillState:
    """The switch now, as ``arena.real`` reports it (the source the API reads too)."""
    at, by = kill_switch_state()
    return KillState(at=at, by=by or "")


def ago(at: datetime, *, now: datetime) -> str:
    """How long before ``now`` ``at`` was, in the largest whole unit ("2 min ago"); a
    moment in the future (clocks a little apart) counts as just now."""
    seconds = int((now - at).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


@dataclass(frozen=True)
class ReconLine:
    """A bot card's one line about its latest reconciliation, and its tone (an alert/badge class)."""

    text: str
    tone: str


def recon_line(*, status: str | None, at: datetime | None, open_count: int, error: str,
               now: datetime) -> ReconLine:
    """The card's line: "Reconciled 2 min ago · agreed", "… · differences: 3",
    "Reconciliation failed 5 min ago: <error>", "Reconciling since …" or "Never reconciled".
    ``open_count`` is the bot's open discrepancies: what the owner still has to look at."""
    if status is None or at is None:
        return ReconLine("Never reconciled", "warn")
    when = ago(at, now=now)
    if status == Reconciliation.Status.RUNNING:
        return ReconLine(f"Reconciling (started {when})", "")
    if status == Reconciliation.Status.FAILED:
        return ReconLine(f"Reconciliation failed {when}: {error or 'no reason given'}", "failed")
    if status == Reconciliation.Status.DIFFERENCES or open_count:
        return ReconLine(f"Reconciled {when} · differences: {open_count}", "warn")
    return ReconLine(f"Reconciled {when} · agreed", "ok")


def _latest_of(bot_ids: Iterable[int]) -> dict[int, Reconciliation]:
    """Each bot's latest reconciliation, one query per bot (trading_recon_bot_started_idx:
    WHERE bot_id = ? ORDER BY started_at DESC LIMIT 1), since a bot keeps every run."""
    latest: dict[int, Reconciliation] = {}
    for bot_id in bot_ids:
        row = Reconciliation.objects.filter(bot_id=bot_id).order_by("-started_at", "-id").first()
        if row is not None:
            latest[bot_id] = row
    return latest


def open_counts(bot_ids: Iterable[int]) -> dict[int, int]:
    """Each bot's open discrepancies (trading_discrepancy_open_idx)."""
    rows = (Discrepancy.objects.filter(bot_id__in=list(bot_ids), resolved_at__isnull=True)
            .values("bot_id").annotate(n=Count("id")))
    return {row["bot_id"]: row["n"] for row in rows}


def recon_lines(bot_ids: Iterable[int], *, now: datetime) -> dict[int, ReconLine]:
    """The card line of each of ``bot_ids`` (real bots the viewer owns or administers)."""
    ids = list(bot_ids)
    if not ids:
        return {}
    latest, counts = _latest_of(ids), open_counts(ids)
    lines = {}
    for bot_id in ids:
        row = latest.get(bot_id)
        lines[bot_id] = recon_line(
            status=row.status if row else None, at=(row.finished_at or row.started_at) if row else None,
            open_count=counts.get(bot_id, 0), error=row.error if row else "", now=now)
    return lines


def balance_gap(exchange: Decimal | None, arena: Decimal | None) -> Decimal | None:
    """How far the exchange's balance is above the arena's (None unless both are known)."""
    if exchange is None or arena is None:
        return None
    return exchange - arena


def summary_lines(summary: Any) -> list[tuple[str, str]]:
    """A reconciliation's summary (counts and lists, read whole) as (label, text) pairs: a
    count as it is, a list by its length; anything else is left to the Django admin."""
    if not isinstance(summary, dict):
        return []
    lines = []
    for key, value in summary.items():
        label = str(key).replace("_", " ").capitalize()
        if isinstance(value, bool):
            lines.append((label, "yes" if value else "no"))
        elif isinstance(value, int | float | str | Decimal) and str(value) != "":
            lines.append((label, str(value)))
        elif isinstance(value, list | tuple):
            lines.append((label, str(len(value))))
    return lines


def reconciliation_row(row: Reconciliation) -> dict[str, Any]:
    """One reconciliation as the bot page lists it."""
    gap = balance_gap(row.exchange_balance, row.ledger_balance)
    return {"row": row, "gap": gap, "gap_tone": "neg" if gap else "", "summary": summary_lines(row.summary)}


def reconciliation_of(bot_id: int, *, now: datetime) -> dict[str, Any]:
    """A real bot's reconciliation section: the latest run, the last ``HISTORY_SHOWN`` runs
    and the open discrepancies, oldest first (the order they were raised in)."""
    runs = Reconciliation.objects.filter(bot_id=bot_id).order_by("-started_at", "-id")
    history = list(runs[:HISTORY_SHOWN])
    discrepancies = list(Discrepancy.objects.filter(bot_id=bot_id, resolved_at__isnull=True)
                         .order_by("created_at", "id"))
    latest = history[0] if history else None
    line = recon_line(status=latest.status if latest else None,
                      at=(latest.finished_at or latest.started_at) if latest else None,
                      open_count=len(discrepancies), error=latest.error if latest else "", now=now)
    return {
        "latest": reconciliation_row(latest) if latest else None, "line": line,
        "history": [reconciliation_row(r) for r in history],
        "discrepancies": discrepancies,
        "resolved_count": Discrepancy.objects.filter(bot_id=bot_id, resolved_at__isnull=False).count(),
    }
