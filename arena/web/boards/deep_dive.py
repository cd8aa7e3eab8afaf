"""/analytics/bots/<id>/: one of the user's bots in depth — its value and drawdown charts (the
page's script reads /api/analytics/bots/<id>/performance/ with the session), its risk figures
over a day, a week, a month and the run, its closed positions (histogram, best and worst, by
symbol, side and hour) and its runs. The figures are those the bot's analytics API answers:
the same functions, rendered by the same serializers."""
from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date

from arena.analytics.params import AnalyticsError, Range, run_choose
from arena.analytics.runs import Run, risk_periods, run_as_of, runs_figures, runs_list
from arena.analytics.trades import HISTOGRAM_EDGES, closed_in, extremes, groups_by, histogram, total_of
from arena.api.analytics.base import extreme_json, group_json, range_json
from arena.api.analytics.serializers import BotRunsSerializer, BotTradesSerializer, RiskMetricsSerializer
from arena.web.base import login_required, owned_bot, page
from arena.web.boards.analytics import GROUP_COLUMNS
from arena.web.boards.cells import (
    DEFAULT_RANGE,
    cell,
    cells,
    extreme_rows,
    format_value,
    range_of,
    range_tabs,
    run_earliest,
)
from bots.models import Bot
from ledger.rollup_models import RUN_FIRST
from ledger.rollups import run_of

RISK_ROWS = (
    ("total_return", "Return", "signed_pct"), ("annual_return", "Annualized return", "signed_pct"),
    ("pnl", "PnL", "signed_money"), ("volatility", "Volatility (annual)", "pct"),
    ("sharpe", "Sharpe", "ratio"), ("sortino", "Sortino", "ratio"), ("max_drawdown", "Max drawdown", "pct"),
    ("calmar", "Calmar", "ratio"), ("trades", "Trades", "count"), ("win_rate", "Win rate", "pct"),
    ("profit_factor", "Profit factor", "ratio"), ("expectancy", "Expectancy", "signed_money"),
    ("fees_paid", "Fees", "money"), ("llm_cost", "LLM cost", "money"),
    ("return_net_of_llm_cost", "Return net of LLM", "signed_pct"),
)
RUN_COLUMNS = (("total_return", "Return", "signed_pct"), ("pnl", "PnL", "signed_money"),
               ("max_drawdown", "Max drawdown", "pct"), ("trades", "Trades", "count"))
PERIOD_LABELS = {"day": "Today", "week": "7 days", "month": "30 days", "all": "Run"}


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def bar_widths(counts: list[int]) -> list[int]:
    """Each count as a percentage of the largest (0 for none): the histogram's bar lengths."""
    most = max(counts, default=0)
    return [round(100 * c / most) if most else 0 for c in counts]


def bucket_label(low, high) -> str:
    """``[low, high)`` of a histogram bucket as a person reads it."""
    if low is None:
        return f"below {format_value(high, 'money')}"
    if high is None:
        return f"{format_value(low, 'money')} and up"
    return f"{format_value(low, 'money')} to {format_value(high, 'money')}"


def _risk(bot: Bot, run: Run, *, now: datetime) -> dict:
    """As /api/analytics/bots/<id>/risk-metrics/, as a table: a row per figure, a column per period."""
    periods = {p.period.name: {"name": p.period.name, "first_day": p.period.first_day,
                               "last_day": p.period.last_day, "figures": p.figures}
               for p in risk_periods(bot.pk, run, now=now)}
    body = RiskMetricsSerializer({"bot": {"id": bot.pk, "name": bot.name}, "run_start": run.start,
                                  "run_ended_at": run.ended_at, "as_of": run_as_of(run, now=now),
                                  "periods": periods}).data
    names = list(PERIOD_LABELS)
    return {"as_of": parse_date(body["as_of"]), "periods": [PERIOD_LABELS[n] for n in names],
            "rows": [{"label": label,
                      "cells": [cell(body["periods"][n]["figures"], name, kind) for n in names]}
                     for name, label, kind in RISK_ROWS]}


def _trades(bot: Bot, span: Range) -> dict:
    """As /api/analytics/bots/<id>/trades/ over ``span``."""
    closed = closed_in([bot.pk], span)
    by_side = groups_by(closed, "side")
    best, worst = extremes(closed)
    body = BotTradesSerializer({
        **range_json(span), "bot": {"id": bot.pk, "name": bot.name}, "totals": group_json(total_of(by_side)),
        "histogram": {"edges": list(HISTOGRAM_EDGES), "buckets": [b.__dict__ for b in histogram(closed)]},
        "best": [extreme_json(r) for r in best], "worst": [extreme_json(r) for r in worst],
        "by_symbol": [group_json(g, "symbol") for g in groups_by(closed, "symbol")],
        "by_side": [group_json(g, "side") for g in by_side],
        "by_hour": [group_json(g, "hour") for g in groups_by(closed, "hour")],
    }).data
    buckets = body["histogram"]["buckets"]
    widths = bar_widths([b["count"] for b in buckets])
    return {
        "totals": body["totals"], "total_cells": cells(body["totals"], GROUP_COLUMNS),
        "histogram": [{"label": bucket_label(b["low"], b["high"]), "count": b["count"], "width": w,
                       "side": "neg" if b["high"] is not None and float(b["high"]) <= 0 else "pos"}
                      for b, w in zip(buckets, widths, strict=True)],
        "best": extreme_rows(body["best"]), "worst": extreme_rows(body["worst"]),
        "by_symbol": [{**g, "cells": cells(g, GROUP_COLUMNS)} for g in body["by_symbol"]],
        "by_side": [{**g, "cells": cells(g, GROUP_COLUMNS)} for g in body["by_side"]],
        "by_hour": [{**g, "cells": cells(g, GROUP_COLUMNS)} for g in body["by_hour"] if g["trades"]],
    }


def _runs(bot: Bot, runs: list[Run], chosen: Run, *, path: str) -> list[dict]:
    """As /api/analytics/bots/<id>/runs/, each with the link that selects it."""
    figures = runs_figures(bot.pk, runs)
    body = BotRunsSerializer({"bot": {"id": bot.pk, "name": bot.name}, "results": [
        {"run_start": r.start, "ended_at": r.ended_at, "current": r.ended_at is None, "days": r.days,
         "first_day": r.first_day, "last_day": r.last_day, "figures": figures[r.start]} for r in runs]}).data
    return [{**row, "selected": run.start == chosen.start, "cells": cells(row["figures"], RUN_COLUMNS),
             "href": path if row["current"] else f"{path}?{urlencode({'run': iso(run.start)})}",
             "first": run.start == RUN_FIRST, "started": run.start}
            for row, run in zip(body["results"], runs, strict=True)][::-1]


@login_required
def bot_analytics(request: HttpRequest, bot_id: int) -> HttpResponse:
    bot = owned_bot(request, bot_id)
    now = timezone.now()
    messages: list[str] = []
    runs = runs_list(bot.pk, current=run_of(bot.stats_reset_at))
    try:
        start = run_choose(request.GET.get("run"), runs=[r.start for r in runs], current=runs[-1].start)
    except AnalyticsError as error:
        messages.append(f"{error.param}: {error.message}")
        start = runs[-1].start
    run = next(r for r in runs if r.start == start)
    range_name = request.GET.get("range") or DEFAULT_RANGE
    end = run.ended_at or now
    earliest = run_earliest(run.start, run.first_day, bot.created_at)
    try:
        span = range_of(range_name, end=end, earliest=earliest)
    except AnalyticsError as error:
        messages.append(f"{error.param}: {error.message}")
        range_name = DEFAULT_RANGE
        span = range_of(range_name, end=end, earliest=earliest)
    chart_query = {"from": iso(span.start), "to": iso(span.end)}
    if run.ended_at is not None:
        chart_query["run"] = iso(run.start)
    params = {"run": iso(run.start)} if run.ended_at is not None else {}
    context = {
        "bot": bot, "run": run, "span": span, "messages_": messages, "tabs": range_tabs(range_name, params),
        "performance_url": reverse("analytics-bot-performance", args=[bot.pk]) + "?" + urlencode(chart_query),
        "risk": _risk(bot, run, now=now), "trades": _trades(bot, span), "group_columns": GROUP_COLUMNS,
        "runs": _runs(bot, runs, run, path=request.path), "run_columns": RUN_COLUMNS,
    }
    return page(request, "web/boards/bot.html", context, status=400 if messages else 200)
