"""/leaderboard/: every listed bot ranked over a period, as ``/api/leaderboard/`` computes it
(the same query serializer, ``board_build`` and ``board_json``), with the summary and the
benchmarks. Public when the arena welcomes spectators; refreshed by the stream."""
from __future__ import annotations

from datetime import UTC

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_date

from arena.api.leaderboard import DEFAULT_ORDERING, LeaderboardQuerySerializer, board_json
from arena.leaderboard import board_build
from arena.models import ArenaSettings
from arena.web.base import page, spectators_welcome
from arena.web.boards.cells import (
    BOARD_COLUMNS,
    cell,
    cells,
    errors_text,
    period_tabs,
    query_string,
    sort_links,
)
from ledger.periods import PeriodError, period_resolve

QUERY_KEYS = ("period", "from", "to", "ordering")
LIMIT = 100
SORT_COLUMNS = (("name", "Bot"), ("owner_name", "Owner"), *((n, label) for n, label, _ in BOARD_COLUMNS))


def board_query(params) -> tuple[dict, list[str]]:
    """The leaderboard's query read as the API reads it (unknown parameters ignored: a page's
    address may carry others); an invalid one is dropped and named in the messages."""
    raw = {k: params.get(k) for k in QUERY_KEYS if params.get(k) not in (None, "")}
    form = LeaderboardQuerySerializer(data=raw)
    if form.is_valid():
        return dict(form.validated_data), []
    kept = {k: v for k, v in raw.items() if k not in form.errors}
    again = LeaderboardQuerySerializer(data=kept)
    valid = again.is_valid()
    return (dict(again.validated_data) if valid else {"ordering": DEFAULT_ORDERING}), errors_text(form.errors)


def board_of(query: dict, *, now) -> tuple[dict, str | None, list[str]]:
    """The API's leaderboard body for ``query``; a period it refuses (a backwards range, a name
    and a range at once) falls back to the whole run, with the API's message. Also the reason
    the summary's average win rate is null (its serializer keeps the value only)."""
    today = now.astimezone(UTC).date()
    messages = []
    try:
        period = period_resolve(query.get("period"), today=today, first=query.get("from"),
                                last=query.get("to"))
    except PeriodError as error:
        messages.append(str(error))
        period = period_resolve("all", today=today)
    board = board_build(period, now=now, ordering=query.get("ordering", DEFAULT_ORDERING),
                        symbols=list(ArenaSettings.load().default_symbols or []))
    return (board_json(board, limit=LIMIT, offset=0, context={}), board.summary.average_win_rate.reason,
            messages)


def _rows(body: dict) -> list[dict]:
    return [{"rank": row["rank"], "bot": row["bot"], "cells": cells(row)} for row in body["results"]]


def _summary(summary: dict, win_rate_reason: str | None) -> dict:
    return {**summary, "win_rate": cell({**summary, "reasons": {"average_win_rate": win_rate_reason}},
                                        "average_win_rate", "pct"),
            "pnl": cell(summary, "total_pnl", "signed_money")}


def _benchmarks(benchmarks: list[dict]) -> list[dict]:
    return [{**b, "return": cell({"total_return": b["total_return"],
                                  "reasons": {"total_return": b["reason"]}}, "total_return", "signed_pct")}
            for b in benchmarks]


def leaderboard(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated and not spectators_welcome():
        return redirect_to_login(request.get_full_path())
    query, messages = board_query(request.GET)
    body, win_rate_reason, more = board_of(query, now=timezone.now())
    messages += more
    period = body["period"]["name"]
    params = {"period": period if period not in ("custom", "all") else None,  # the whole run: the default
              "from": query.get("from") if period == "custom" else None,
              "to": query.get("to") if period == "custom" else None,
              "ordering": body["ordering"] if body["ordering"] != DEFAULT_ORDERING else None}
    sort_params = {k: v for k, v in params.items() if k != "ordering"}
    context = {
        "board": body, "rows": _rows(body),
        "first_day": parse_date(body["period"]["first_day"] or ""),
        "last_day": parse_date(body["period"]["last_day"]),
        "summary": _summary(body["summary"], win_rate_reason),
        "benchmarks": _benchmarks(body["benchmarks"]), "messages_": messages,
        "tabs": period_tabs(period, params), "custom": period == "custom",
        "headings": sort_links(body["ordering"], sort_params, SORT_COLUMNS),
        "from_value": query.get("from") or "", "to_value": query.get("to") or "",
        "refresh_url": request.path + query_string(params),
        "shown": len(body["results"]), "limit": LIMIT,
    }
    return page(request, "web/boards/leaderboard.html", context, fragment="web/boards/_board.html",
                status=400 if messages else 200)
