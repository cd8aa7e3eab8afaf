"""What the dashboard shows, read for one viewer through the selectors the API uses.

Who sees what mirrors the API: a signed-in user sees their own active bots (everything but
secrets, as ``/api/bots/``) and every listed bot (what ``/api/public/`` shows); a spectator
only the listed ones. Reasoning appears only for the viewer's own bots and for listed bots
whose owner published it, as ``/api/public/bots/{id}/decisions/`` does.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db.models import Min, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest
from django_celery_beat.models import PeriodicTask

from arena.analytics.params import AnalyticsError, Range
from arena.analytics.performance import bots_figures, comparison
from arena.analytics.series import INTERVALS, MAX_POINTS, interval_choose
from arena.api.base import is_admin
from arena.models import ArenaSettings, BotTurn, Turn
from arena.web.dashboard import rules
from arena.web.real.reads import ReconLine, recon_lines
from bots.models import Bot, Decision
from bots.selectors import bots_listed, bots_of, provider_config_for
from ledger.aggregates import MoneySum
from ledger.models import Snapshot
from ledger.periods import period_resolve
from ledger.rollups import run_of
from ledger.values import ZERO, total_value
from trading.models import Market, Position
from trading.selectors import markets_listed

DECISIONS_SHOWN = 15
CHART_BOTS = 20  # the most lines one chart draws (the best-valued bots)
TURN_TASK = "arena.tasks.run_turn"  # the beat's job for scheduled turns (arena/schedule.py)


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a signed-in user (``user_id``) or a spectator (None)."""

    user_id: int | None
    admin: bool = False

    @classmethod
    def of(cls, request: HttpRequest) -> Viewer:
        user = request.user
        if not user.is_authenticated:
            return cls(user_id=None)
        return cls(user_id=user.pk, admin=is_admin(user))

    def owns(self, bot: Bot) -> bool:
        return self.user_id is not None and bot.owner_id == self.user_id


def bots_seen(viewer: Viewer) -> QuerySet[Bot]:
    """The bots on the viewer's dashboard: listed ones, and a user's own active ones."""
    if viewer.user_id is None:
        return bots_listed()
    return (bots_of(user_id=viewer.user_id).filter(is_active=True) | bots_listed()).distinct()


def _latest(field: str, model=Snapshot, order=("-taken_at", "-id")) -> Subquery:
    return Subquery(model.objects.filter(bot_id=OuterRef("pk")).order_by(*order).values(field)[:1])


def _with_figures(rows: QuerySet[Bot]) -> QuerySet[Bot]:
    """The latest snapshot's closed-position figures (as ``bots_listed_with_figures``) and
    the latest decision's outcome, for the cards."""
    decided = ("-created_at", "-id")
    return rows.annotate(
        realized_pnl=_latest("realized_pnl"), trade_count=_latest("trade_count"),
        win_rate=_latest("win_rate"), snapshot_at=_latest("taken_at"),
        last_ok=_latest("success", Decision, decided), last_error=_latest("error", Decision, decided),
        last_decided_at=_latest("created_at", Decision, decided),
    )


@dataclass(frozen=True)
class Card:
    """One bot's card: its figures now and the states its viewer may see."""

    bot: Bot
    rank: int
    mine: bool
    total_value: Decimal
    cash: Decimal
    margin: Decimal
    unrealized: Decimal
    realized: Decimal | None
    win_rate: Decimal | None
    trades: int | None
    total_return: float | None
    return_reason: str
    failing: str  # the owner's only: why its provider cannot be called, or the last call's error
    real_blocked: bool  # a real bot on a server with real trading off
    reconciled: ReconLine | None = None  # a real bot's latest reconciliation, for its owner or an admin


def cards_for(viewer: Viewer, *, now: datetime, real_trading_enabled: bool,
              only: int | None = None) -> list[Card]:
    """The viewer's bot cards ranked by total value (cash + margin + unrealized PnL now,
    ``ledger.values.total_value`` as a snapshot counts it); ``only`` keeps one bot's card."""
    bots = list(_with_figures(bots_seen(viewer)).order_by("id"))
    ids = [b.pk for b in bots]
    held = {row["bot_id"]: row for row in Position.objects.filter(bot_id__in=ids, status=Position.Status.OPEN)
            .values("bot_id").annotate(margin=MoneySum("margin"), unrealized=MoneySum("unrealized_pnl"))}
    period = period_resolve("all", today=now.astimezone(UTC).date())
    figures = bots_figures({b.pk: run_of(b.stats_reset_at) for b in bots}, period)

    def worth(bot: Bot) -> Decimal:
        row = held.get(bot.pk, {})
        return total_value(balance=bot.account.balance, margin=row.get("margin") or ZERO,
                           unrealized=row.get("unrealized") or ZERO)

    watched = [b.pk for b in bots if b.mode == Bot.Mode.REAL and (viewer.owns(b) or viewer.admin)
               and (only is None or b.pk == only)]
    reconciled = recon_lines(watched, now=now)
    cards = []
    for place in rules.ranked(bots, value=worth):
        bot: Bot = place.item
        if only is not None and bot.pk != only:
            continue
        mine = viewer.owns(bot)
        row = held.get(bot.pk, {})
        metric = figures[bot.pk].total_return
        cards.append(Card(
            bot=bot, rank=place.rank, mine=mine, total_value=worth(bot), cash=bot.account.balance,
            margin=row.get("margin") or ZERO, unrealized=row.get("unrealized") or ZERO,
            realized=bot.realized_pnl, win_rate=bot.win_rate, trades=bot.trade_count,
            total_return=metric.value, return_reason=metric.reason or "",
            failing=_failing(bot) if mine else "",
            real_blocked=bot.mode == Bot.Mode.REAL and not real_trading_enabled,
            reconciled=reconciled.get(bot.pk),
        ))
    return cards


def _failing(bot: Bot) -> str:
    """Why the bot's provider fails: it cannot be called at all, or its latest call failed."""
    config, why = provider_config_for(bot)
    if config is None:
        return why
    if bot.last_ok is False:
        return bot.last_error or "the latest call failed"
    return ""


def decisions_feed(viewer: Viewer, *, limit: int = DECISIONS_SHOWN) -> list[Decision]:
    """The newest decisions the viewer may read with their reasoning: published listed bots'
    and, signed in, the viewer's own. Served by bots_decision_recent_idx (created_at DESC)."""
    scope = Q(bot__in=bots_listed().filter(reasoning_public=True))
    if viewer.user_id is not None:
        scope |= Q(bot__owner_id=viewer.user_id)
    return list(Decision.objects.filter(scope).select_related("bot").order_by("-created_at", "-id")[:limit])


@dataclass(frozen=True)
class TurnView:
    running: Turn | None
    queued: bool
    last: Turn | None  # the latest turn that is over
    failure: list[str]  # why the last turn failed, as far as the viewer may know
    next_at: datetime | None
    interval_seconds: int


def turn_view(viewer: Viewer, *, arena: ArenaSettings) -> TurnView:
    """Where the turns stand: one running, a forced one queued, how the last one ended, and
    when the schedule runs the next (its beat job's last run plus the interval)."""
    running = Turn.objects.filter(status=Turn.Status.RUNNING).order_by("-started_at").first()
    queued = Turn.objects.filter(status=Turn.Status.QUEUED).exists()
    over = [Turn.Status.FINISHED, Turn.Status.FAILED, Turn.Status.SKIPPED]
    last = Turn.objects.filter(status__in=over).order_by("-started_at", "-id").first()
    failure: list[str] = []
    if last is not None and last.status == Turn.Status.FAILED:
        if viewer.admin and last.error:
            failure.append(last.error)
        elif viewer.user_id is not None:
            mine = BotTurn.objects.filter(turn=last, bot__owner_id=viewer.user_id,
                                          status=BotTurn.Status.FAILED)
            failure.extend(f"{name}: {reason}" for name, reason in mine.values_list("bot__name", "reason"))
    job = PeriodicTask.objects.filter(task=TURN_TASK, enabled=True).first()
    last_run = job.last_run_at if job is not None else None
    if last_run is None:
        scheduled = Turn.objects.filter(forced=False).order_by("-started_at").first()
        last_run = scheduled.started_at if scheduled is not None else None
    interval = arena.turn_interval_seconds
    return TurnView(running=running, queued=queued, last=last, failure=failure,
                    next_at=rules.next_turn_at(last_run_at=last_run, interval_seconds=interval),
                    interval_seconds=interval)


@dataclass(frozen=True)
class MarketView:
    rows: list[dict]  # symbol, last_price, price (as shown), change_24h_pct, is_stale
    newest: datetime | None
    stale_since: datetime | None
    stale_after: int


def market_view(*, now: datetime, arena: ArenaSettings) -> MarketView:
    """The listed markets' latest prices (as ``/api/markets/``) and whether they are stale."""
    markets: list[Market] = list(markets_listed())
    rows = [{"symbol": m.symbol, "last_price": m.last_price, "price": rules.price(m.last_price),
             "change_24h_pct": m.change_24h_pct, "is_stale": m.is_stale} for m in markets]
    times = [m.updated_at for m in markets if m.updated_at is not None]
    newest = max(times) if times else None
    refresh = arena.refresh_interval_seconds
    return MarketView(rows=rows, newest=newest,
                      stale_since=rules.market_stale_since(newest, now=now, refresh_interval_seconds=refresh),
                      stale_after=rules.stale_after_seconds(refresh))


def values_chart(viewer: Viewer, *, range_name: str, now: datetime, real_trading_enabled: bool) -> dict:
    """Every dashboard bot's account value (and return) on one time axis, from the analytics'
    comparison (``/api/analytics/comparison/``'s sampling), for the viewer's bots only."""
    cards = cards_for(viewer, now=now, real_trading_enabled=real_trading_enabled)[:CHART_BOTS]
    ids = [c.bot.pk for c in cards]
    earliest = Snapshot.objects.filter(bot_id__in=ids).aggregate(first=Min("taken_at"))["first"]
    span = Range(rules.range_start(range_name, now=now, earliest=earliest), now)
    try:
        interval = interval_choose(span, None)
    except AnalyticsError:  # years of history: the coarsest interval over its last MAX_POINTS days
        interval = list(INTERVALS)[-1]
        span = Range(now - timedelta(days=MAX_POINTS - 1), now)
    boundaries, compared = comparison(ids, span, interval) if ids else ([], [])
    lines = []
    for card, row in zip(cards, compared, strict=True):
        samples = zip(boundaries, row.values, row.returns, strict=True)
        points = [[int(at.timestamp()), format(value, "f"), ret]
                  for at, value, ret in samples if value is not None]
        lines.append({"id": card.bot.pk, "name": card.bot.name, "points": points})
    return {"range": range_name, "interval": interval, "from": span.start.isoformat(), "to": now.isoformat(),
            "bots": lines}
