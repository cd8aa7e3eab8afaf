"""Learning summaries, the reads: what a prompt shows, and each bot's unsummarised backlog."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce, Length

from bots.models import Bot, Decision, LearningSummary
from bots.summaries.rules import DecisionDigest, due, estimate_tokens
from trading.models import Position


def summary_latest_text(*, bot: Bot) -> str | None:
    """What a prompt's LEARNING SUMMARY shows: the newest summary not cleared, if any."""
    return (
        LearningSummary.objects.filter(bot=bot, cleared_at__isnull=True)
        .order_by("-covers_to", "-id").values_list("summary", flat=True).first()
    )


def summary_watermark(bot_id: int) -> LearningSummary | None:
    """The newest summary, cleared or not: the decisions after it are unsummarised."""
    return LearningSummary.objects.filter(bot_id=bot_id).order_by("-covers_to", "-id").first()


def decisions_after(summary: LearningSummary | None) -> Q:
    if summary is None:
        return Q()
    if summary.last_decision_id is None:  # carried over from the legacy system
        return Q(created_at__gt=summary.covers_to)
    # (created_at, id) order: a decision at the very same moment with a higher id is newer.
    return Q(created_at__gt=summary.covers_to) | Q(created_at=summary.covers_to,
                                                    id__gt=summary.last_decision_id)


@dataclass(frozen=True)
class Backlog:
    """A bot's unsummarised decisions, measured."""

    last: LearningSummary | None  # the newest summary, cleared or not
    count: int
    tokens: int
    since_last: int | None

    @property
    def due(self) -> bool:
        return due(self.count, self.tokens, self.since_last)


def summary_backlog(*, bot_id: int) -> Backlog:
    last = summary_watermark(bot_id)
    # The weight is what the decisions stored (prompt, reply, error), as the legacy measured.
    measured = Decision.objects.filter(Q(bot_id=bot_id) & decisions_after(last)).aggregate(
        count=Count("id"),
        chars=Coalesce(Sum(Length("prompt") + Length("raw_response") + Length("error")), 0),
    )
    since_last = None
    if last is not None:
        since_last = Decision.objects.filter(bot_id=bot_id, created_at__gt=last.created_at).count()
    return Backlog(last, measured["count"], estimate_tokens(measured["chars"]), since_last)


def summary_due_bots() -> list[int]:
    """Ids of the active, unpaused bots with a usable provider whose summary is due."""
    bot_ids = Bot.objects.filter(
        is_active=True, is_paused=False, provider__is_active=True, provider__key_needs_reentry=False,
    ).order_by("id").values_list("id", flat=True)
    return [bot_id for bot_id in bot_ids if summary_backlog(bot_id=bot_id).due]


def decision_digests(bot: Bot, rows: list[Decision]) -> list[DecisionDigest]:
    # Positions opened by decisions in the span (by time, not a list of ids: a backlog
    # can hold more ids than a query may carry), then matched to the decisions read.
    wanted = {row.pk for row in rows}
    pnl: dict[int, Decimal] = {}
    still_open: Counter[int] = Counter()
    positions = Position.objects.filter(
        bot=bot, opening_decision__created_at__gte=rows[0].created_at,
        opening_decision__created_at__lte=rows[-1].created_at,
    ).values_list("opening_decision_id", "status", "realized_pnl")
    for decision_id, status, realized in positions:
        if decision_id not in wanted:
            continue
        if status == Position.Status.OPEN:
            still_open[decision_id] += 1
        elif realized is not None:
            pnl[decision_id] = pnl.get(decision_id, Decimal(0)) + realized
    return [
        DecisionDigest(
            created_at=row.created_at, actions=row.actions if isinstance(row.actions, list) else [],
            notes=[str(n) for n in row.notes] if isinstance(row.notes, list) else [],
            error=row.error, pnl=pnl.get(row.pk), still_open=still_open[row.pk],
        )
        for row in rows
    ]
