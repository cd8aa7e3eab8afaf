"""/analytics/ (a user's bots across a period) and /analytics/compare/ (up to ten of them on one
axis). Every figure comes from the functions ``arena.api.analytics`` calls, rendered by its
serializers: the page shows exactly what ``/api/analytics/…`` answers."""
from __future__ import annotations

from datetime import UTC, datetime, time

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone

from arena.analytics.params import EARLIEST, MAX_BOTS, AnalyticsError, Range, ids_parse
from arena.analytics.performance import bots_figures, comparison
from arena.analytics.runs import runs_list
from arena.analytics.series import INTERVALS, interval_choose
from arena.analytics.trades import closed_in, extremes, groups_by, summary
from arena.analytics.usage import usage_of
from arena.api.analytics.base import bot_ref, extreme_json, group_json, range_json, usage_json
from arena.api.analytics.serializers import (
    AggregateSummarySerializer,
    BestWorstPositionsSerializer,
    ComparisonSerializer,
    ModelUsageListSerializer,
    PerformanceListSerializer,
    SymbolGroupSerializer,
)
from arena.api.base import is_admin
from arena.api.figures import metrics_flat
from arena.web.base import login_required, page
from arena.web.boards.cells import (
    BOARD_COLUMNS,
    cell,
    cells,
    extreme_rows,
    period_tabs,
    range_of,
    range_tabs,
    run_earliest,
)
from bots.models import Bot
from bots.selectors import bots_of
from ledger.periods import Period, PeriodError, period_resolve
from ledger.rollups import run_of

DEFAULT_PERIOD = "week"  # as /api/analytics/performance/
GROUP_COLUMNS = (("trades", "Trades", "count"), ("win_rate", "Win rate", "pct"),
                 ("pnl", "PnL", "signed_money"), ("fees", "Fees", "money"))
USAGE_COLUMNS = (("decisions", "Decisions", "count"), ("failures", "Failures", "count"),
                 ("tokens_in", "Tokens in", "count"), ("tokens_out", "Tokens out", "count"),
                 ("cost", "Cost", "money"), ("latency_mean_ms", "Mean ms", "count"),
                 ("latency_p95_ms", "p95 ms", "count"))
COMPARE_COLUMNS = (("total_return", "Return", "signed_pct"), ("pnl", "PnL", "signed_money"),
                   ("sharpe", "Sharpe", "ratio"), ("max_drawdown", "Max drawdown", "pct"),
                   ("win_rate", "Win rate", "pct"), ("trades", "Trades", "count"))


def visible_bots(request: HttpRequest):
    """The bots the analytics API lets this user read: their own (an admin: every bot)."""
    return bots_of(user_id=request.user.pk, see_all=is_admin(request.user))


def period_span(period: Period, *, now: datetime) -> Range:
    """The instants of ``period`` for the range-based figures: from its first day's midnight
    (the whole run: from the start of time) to ``now``."""
    start = EARLIEST if period.first_day is None else datetime.combine(period.first_day, time(), tzinfo=UTC)
    return Range(min(start, now), now)


def _performance(bots: list[Bot], period: Period) -> list[dict]:
    """As /api/analytics/performance/ (``bots_figures`` of each bot's current run)."""
    runs = {bot.pk: run_of(bot.stats_reset_at) for bot in bots}
    figures = bots_figures(runs, period)
    body = {"period": period.__dict__,
            "results": [{"bot": bot_ref(bot), "is_active": bot.is_active, "run_start": runs[bot.pk],
                         "figures": figures[bot.pk]} for bot in bots]}
    modes = {bot.pk: bot.mode for bot in bots}
    return [{**row, "mode": modes[row["bot"]["id"]], "cells": cells(row["figures"])}
            for row in PerformanceListSerializer(body).data["results"]]


def _groups(rows: list[dict], columns) -> list[dict]:
    return [{**row, "cells": cells(row, columns)} for row in rows]


def with_modes(rows: list[dict], modes: dict[int, str]) -> list[dict]:
    """Each row (naming its ``bot``) with that bot's ``mode``, for the LIVE badge."""
    return [{**row, "mode": modes.get(row["bot"]["id"], "")} for row in rows]


def _aggregates(active, span: Range) -> dict:
    """The aggregate summary, best and worst trades, by-symbol table and model usage."""
    found = summary(active, span)
    totals = AggregateSummarySerializer({
        **range_json(span), **group_json(found.totals), "bots": found.bots, "funding": found.funding,
        "funding_paid": found.funding_paid, "funding_received": found.funding_received,
        "llm_cost": found.llm_cost, "decisions": found.decisions}).data
    ids = active.values("pk")
    modes = dict(active.values_list("pk", "mode"))
    best, worst = extremes(closed_in(ids, span))
    extreme = BestWorstPositionsSerializer({**range_json(span), "best": [extreme_json(r) for r in best],
                                            "worst": [extreme_json(r) for r in worst]}).data
    symbols = groups_by(closed_in(ids, span), "symbol")
    by_symbol = SymbolGroupSerializer([group_json(g, "symbol") for g in symbols], many=True).data
    by_bot, by_model = usage_of(ids, span)
    usage = ModelUsageListSerializer({**range_json(span), "results": [usage_json(u) for u in by_bot],
                                      "models": [usage_json(u) for u in by_model]}).data
    return {
        "totals": totals,
        "total_cells": {name: cell(totals, name, kind) for name, kind in (
            ("win_rate", "pct"), ("pnl", "signed_money"), ("fees", "money"), ("funding", "signed_money"),
            ("llm_cost", "money"))},
        "best": with_modes(extreme_rows(extreme["best"]), modes),
        "worst": with_modes(extreme_rows(extreme["worst"]), modes),
        "by_symbol": _groups(by_symbol, GROUP_COLUMNS),
        "usage": with_modes(_groups(usage["results"], USAGE_COLUMNS), modes),
        "models": _groups(usage["models"], USAGE_COLUMNS),
    }


@login_required
def analytics(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    today = now.astimezone(UTC).date()
    name, messages = request.GET.get("period") or DEFAULT_PERIOD, []
    try:
        period = period_resolve(name, today=today)
    except PeriodError as error:
        messages.append(f"period: {error}")
        period = period_resolve(DEFAULT_PERIOD, today=today)
    visible = visible_bots(request)
    active = visible.filter(is_active=True)
    context = {
        "period": period, "tabs": period_tabs(period.name, {}), "messages_": messages,
        "columns": BOARD_COLUMNS, "rows": _performance(list(active.order_by("id")), period),
        "span": period_span(period, now=now), "group_columns": GROUP_COLUMNS, "usage_columns": USAGE_COLUMNS,
        "choices": list(visible.order_by("-is_active", "name", "id")), "max_bots": MAX_BOTS,
        **_aggregates(active, period_span(period, now=now)),
    }
    return page(request, "web/boards/analytics.html", context, fragment="web/boards/_performance.html",
                status=400 if messages else 200)


def compare_ids(params) -> list[int] | None:
    """The bots to compare: ``?bots=1,2`` (the API's form) or a form's ``?bots=1&bots=2``;
    None when none are named."""
    given = [part for part in params.getlist("bots") if part.strip()]
    if not given:
        return None
    return ids_parse(",".join(given), param="bots", most=MAX_BOTS)


def _compared(bots: list[Bot], span: Range) -> dict:
    """As /api/analytics/comparison/, plus each bot's period figures over the UTC days the
    range touches (as /api/analytics/performance/ reads a from/to range)."""
    interval = interval_choose(span, None)
    boundaries, found = comparison([bot.pk for bot in bots], span, interval)
    rows = []
    for bot, row in zip(bots, found, strict=True):
        values, reasons = metrics_flat({"total_return": row.total_return})
        rows.append({"bot": bot_ref(bot), "values": row.values, "returns": row.returns,
                     "first_at": row.first_at, "reasons": reasons, **values})
    body = ComparisonSerializer({**range_json(span), "interval": interval,
                                 "interval_seconds": INTERVALS[interval], "boundaries": boundaries,
                                 "bots": rows}).data
    first, last = span.days_touched()
    figures = bots_figures({bot.pk: run_of(bot.stats_reset_at) for bot in bots},
                           period_resolve(None, today=last, first=first, last=last))
    table = []
    for bot, compared in zip(bots, body["bots"], strict=True):
        shown = [cell(compared, "total_return", "signed_pct")]
        period = PerformanceListSerializer({
            "period": {"name": "custom", "first_day": first, "last_day": last},
            "results": [{"bot": bot_ref(bot), "is_active": bot.is_active,
                         "run_start": run_of(bot.stats_reset_at), "figures": figures[bot.pk]}]}).data
        shown += cells(period["results"][0]["figures"], COMPARE_COLUMNS[1:])
        last_value = next((v for v in reversed(compared["values"]) if v is not None), None)
        table.append({"bot": compared["bot"], "mode": bot.mode, "cells": shown,
                      "end_value": cell({"v": last_value}, "v", "money")})
    return {"body": body, "table": table, "first_day": first, "last_day": last}


@login_required
def compare(request: HttpRequest) -> HttpResponse:
    visible = visible_bots(request)
    messages: list[str] = []
    range_name = request.GET.get("range") or "7d"
    try:
        ids = compare_ids(request.GET)
    except AnalyticsError as error:
        messages.append(f"{error.param}: {error.message}")
        ids = None
    if ids is None:
        bots = list(visible.filter(is_active=True).order_by("id")[:MAX_BOTS])
    else:
        found = {bot.pk: bot for bot in visible.filter(pk__in=ids)}
        if len(found) != len(ids):  # as the API: a bot that is not the caller's is not found
            raise Http404("No such bot, or it is not yours.")
        bots = [found[i] for i in ids]
    now = timezone.now()
    current = [(b, runs_list(b.pk, current=run_of(b.stats_reset_at))[-1]) for b in bots]
    earliest = min((run_earliest(run.start, run.first_day, b.created_at) for b, run in current), default=now)
    try:
        span = range_of(range_name, end=now, earliest=earliest)
    except AnalyticsError as error:
        messages.append(f"{error.param}: {error.message}")
        range_name = "7d"
        span = range_of(range_name, end=now, earliest=earliest)
    try:
        compared = _compared(bots, span)
    except AnalyticsError as error:
        messages.append(f"{error.param}: {error.message}")
        compared = None
    params = {"bots": ",".join(str(b.pk) for b in bots)} if ids is not None else {}
    context = {"bots": bots, "compared": compared, "messages_": messages, "span": span,
               "tabs": range_tabs(range_name, params), "columns": COMPARE_COLUMNS,
               "choices": list(visible.order_by("-is_active", "name", "id")),
               "chosen": {b.pk for b in bots}, "max_bots": MAX_BOTS}
    return page(request, "web/boards/compare.html", context, status=400 if messages else 200)
