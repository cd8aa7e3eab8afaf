"""/api/leaderboard/: listed bots ranked over a period from their rollups, with a summary and
benchmarks from stored candles; public; every bad query a 400."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from arena.models import ArenaSettings
from bots.services import bot_create, bot_reset, provider_create
from ledger.periods import period_figures
from ledger.rollup_models import RUN_FIRST, BotDay
from tests.arena.api_helpers import client_for, error_of
from trading.models import Candle, Market
from trading.services import position_close, position_open, positions_mark
from trading.services.snapshots import snapshots_take

D = Decimal
# Mid-afternoon UTC: the day period holds the morning's history and not yesterday's.
NOW = datetime(2026, 5, 20, 15, 0, tzinfo=UTC)
TODAY_START = datetime(2026, 5, 20, tzinfo=UTC)
URL = "/api/leaderboard/"


def board(query: str = "", client=None) -> dict:
    with time_machine.travel(NOW, tick=False):
        response = (client or client_for()).get(URL + query)
    assert response.status_code == 200, response.content
    return response.json()


def price_set(symbol: str, price: str, at: datetime) -> None:
    Market.objects.filter(symbol=symbol).update(last_price=D(price), mark_price=D(price))
    positions_mark(prices={symbol: D(price)}, now=at)


@pytest.fixture
def arena(db, user, other_user, provider):
    """Two owners' bots over two days: "Up" wins on BTC, "Down" loses on it, "Idle" only
    takes snapshots; plus an unlisted bot and a deleted one, which the board must not show."""
    user.display_name = "Alice T."
    user.save()
    Market.objects.create(symbol="BTCUSDT", last_price=D("60000"), mark_price=D("60000"))
    other_provider = provider_create(owner=other_user, name="s", kind="scripted", model="contrarian")
    start = NOW - timedelta(days=1, hours=6)  # yesterday, 09:00
    bots = {
        "Up": bot_create(owner=user, name="Up", prompt="p", provider=provider, created_at=start),
        "Down": bot_create(owner=other_user, name="Down", prompt="p", provider=other_provider,
                           created_at=start),
        "Idle": bot_create(owner=user, name="Idle", prompt="p", provider=provider, created_at=start),
        "Hidden": bot_create(owner=user, name="Hidden", prompt="p", provider=provider, created_at=start),
        "Gone": bot_create(owner=user, name="Gone", prompt="p", provider=provider, created_at=start),
    }
    bots["Hidden"].is_listed = False
    bots["Hidden"].save()
    bots["Gone"].is_active = False
    bots["Gone"].save()
    ids = [b.pk for b in bots.values()]
    snapshots_take(now=start, bot_ids=ids)
    up = position_open(bot=bots["Up"], symbol="BTCUSDT", side="LONG", margin=D("1000"), leverage=5,
                       now=start + timedelta(minutes=1))
    down = position_open(bot=bots["Down"], symbol="BTCUSDT", side="SHORT", margin=D("1000"), leverage=5,
                         now=start + timedelta(minutes=1))
    price_set("BTCUSDT", "61200", start + timedelta(hours=2))
    snapshots_take(now=start + timedelta(hours=3), bot_ids=ids)
    # Today: the up bot closes its winner, the down bot closes its loser.
    price_set("BTCUSDT", "62400", TODAY_START + timedelta(hours=2))
    snapshots_take(now=TODAY_START + timedelta(hours=3), bot_ids=ids)
    position_close(position=up.position, reason="decision", now=TODAY_START + timedelta(hours=4))
    position_close(position=down.position, reason="decision", now=TODAY_START + timedelta(hours=4))
    snapshots_take(now=TODAY_START + timedelta(hours=5), bot_ids=ids)
    return bots


def row_of(body: dict, name: str) -> dict:
    (row,) = [r for r in body["results"] if r["bot"]["name"] == name]
    return row


def test_anyone_sees_the_listed_bots_ranked_by_return(arena):
    body = board()
    assert [r["bot"]["name"] for r in body["results"]] == ["Up", "Idle", "Down"]
    assert [r["rank"] for r in body["results"]] == [1, 2, 3]
    up = row_of(body, "Up")
    assert up["bot"]["owner_name"] == "Alice T." and "username" not in up["bot"]
    assert row_of(body, "Down")["bot"]["owner_name"] == f"Trader {arena['Down'].owner_id}"
    assert up["bot"]["model"] == "momentum" and up["bot"]["mode"] == "paper"
    assert body["period"]["name"] == "all" and body["ordering"] == "-total_return"


def test_a_row_is_the_period_figures_of_the_bots_days(arena):
    body = board()
    for name in ("Up", "Down", "Idle"):
        bot = arena[name]
        expected = period_figures(list(BotDay.objects.filter(bot=bot, run_start=RUN_FIRST).order_by("day")))
        row = row_of(body, name)
        assert row["trades"] == expected.trades
        assert D(row["pnl"]) == expected.pnl.value
        assert row["total_return"] == pytest.approx(expected.total_return.value, rel=1e-12)
        assert row["max_drawdown"] == pytest.approx(expected.max_drawdown.value, rel=1e-12)
        assert row["sources"]["snapshots"] == 4 and row["sources"]["returns"] == 3
        assert row["sources"]["first_at"].startswith("2026-05-19T09:00")
    up = row_of(body, "Up")
    assert up["trades"] == 1 and up["wins"] == 1 and up["win_rate"] == 1.0
    assert D(up["pnl"]) > 0 and D(row_of(body, "Down")["pnl"]) < 0
    assert up["profit_factor"] is None and up["reasons"]["profit_factor"] == "no losing trades"
    idle = row_of(body, "Idle")
    assert idle["trades"] == 0 and idle["win_rate"] is None and idle["reasons"]["win_rate"] == "no trades"
    assert idle["sharpe"] is None and idle["reasons"]["sharpe"]


def test_the_day_period_counts_today_since_midnight_only(arena):
    whole, today = board(), board("?period=day")
    assert today["period"]["first_day"] == today["period"]["last_day"] == "2026-05-20"
    assert today["period"]["start"].startswith("2026-05-20T00:00")
    up_all, up_day = row_of(whole, "Up"), row_of(today, "Up")
    # Today's series starts at yesterday's last snapshot: two of today's, two returns.
    assert up_day["sources"]["snapshots"] == 2 and up_day["sources"]["returns"] == 2
    assert up_day["sources"]["first_at"].startswith("2026-05-19T12:00")
    assert D(up_day["pnl"]) < D(up_all["pnl"]), "yesterday's gain is not today's"
    assert up_day["trades"] == up_all["trades"] == 1, "the close was today"


def test_a_custom_range_of_yesterday_has_no_close(arena):
    body = board("?from=2026-05-19&to=2026-05-19")
    assert body["period"] | {"start": None, "end": None} == {
        "name": "custom", "first_day": "2026-05-19", "last_day": "2026-05-19", "start": None, "end": None}
    assert row_of(body, "Up")["trades"] == 0 and D(row_of(body, "Up")["pnl"]) > 0


def test_any_column_sorts_and_undefined_values_go_last_without_a_rank(arena):
    by_name = board("?ordering=name")
    assert [r["bot"]["name"] for r in by_name["results"]] == ["Down", "Idle", "Up"]
    by_trades = board("?ordering=-trades")
    assert [r["rank"] for r in by_trades["results"]] == [1, 1, 3], "equal values share a rank"
    by_rate = board("?ordering=-win_rate")
    assert [(r["bot"]["name"], r["rank"]) for r in by_rate["results"]] == [
        ("Up", 1), ("Down", 2), ("Idle", None)]
    ascending = board("?ordering=win_rate")
    assert [r["bot"]["name"] for r in ascending["results"]] == ["Down", "Up", "Idle"]


def test_the_summary_counts_the_board(arena):
    summary = board()["summary"]
    assert summary["active_bots"] == 3 and summary["traders"] == 2 and summary["trades"] == 2
    assert summary["average_win_rate"] == pytest.approx(0.5)
    rows = board()["results"]
    assert D(summary["total_pnl"]) == sum(D(r["pnl"]) for r in rows)


def _candles(symbol: str, closes: list[str], start: datetime) -> None:
    for i, close in enumerate(closes):
        price = D(close)
        Candle.objects.create(symbol=symbol, interval="1h", open_time=start + timedelta(hours=i), open=price,
                              high=price, low=price, close=price, volume=D("1"),
                              fetched_at=start + timedelta(hours=i + 1))


def test_benchmarks_hold_btc_and_an_equal_weight_basket_from_stored_candles(arena):
    ArenaSettings.objects.update(default_symbols=["BTCUSDT", "ETHUSDT", "SOLUSDT"])
    _candles("BTCUSDT", ["60000", "61000", "63000"], TODAY_START)
    _candles("ETHUSDT", ["3000", "2900", "2700"], TODAY_START)
    btc, basket = board("?period=day")["benchmarks"]
    assert btc["name"] == "BTC buy-and-hold" and btc["symbols"] == ["BTCUSDT"]
    assert btc["total_return"] == pytest.approx(63000 / 60000 - 1) and btc["reason"] is None
    assert btc["start_at"].startswith("2026-05-20T00:00") and btc["end_at"].startswith("2026-05-20T03:00")
    assert basket["total_return"] == pytest.approx(((63000 / 60000 - 1) + (2700 / 3000 - 1)) / 2)
    assert [h["symbol"] for h in basket["holds"]] == ["BTCUSDT", "ETHUSDT"], "SOL has no candles: left out"


def test_a_benchmark_without_candles_is_null_with_the_reason(arena):
    btc, basket = board()["benchmarks"]
    assert btc["total_return"] is None and btc["reason"] == "no stored candles of BTCUSDT in the period"
    assert basket["total_return"] is None and basket["holds"] == []


def test_a_reset_bot_is_ranked_on_its_new_run(arena):
    bot_reset(bot=arena["Up"], now=TODAY_START + timedelta(hours=6))
    snapshots_take(now=TODAY_START + timedelta(hours=7), bot_ids=[arena["Up"].pk])
    up = row_of(board(), "Up")
    assert up["trades"] == 0, "the old run's close is not in the new run"
    assert up["sources"]["snapshots"] == 1 and up["pnl"] is None
    assert up["reasons"]["pnl"] == "needs at least two snapshots"
    assert up["bot"]["stats_reset_at"].startswith("2026-05-20T06:00")
    assert BotDay.objects.filter(bot=arena["Up"], run_start=RUN_FIRST).exists(), "the old run stays"


@pytest.mark.parametrize(("query", "field"), [
    ("?period=year", "period"),
    ("?from=2026-05-20&to=2026-05-01", "from"),
    ("?period=week&from=2026-05-01", "period"),
    ("?ordering=-password", "ordering"),
    ("?from=yesterday", "from"),
    ("?limit=0", "limit"),
    ("?colour=blue", "colour"),
])
def test_a_bad_query_is_a_400_naming_the_parameter(arena, query, field):
    with time_machine.travel(NOW, tick=False):
        response = client_for().get(URL + query)
    assert response.status_code == 400, response.content
    assert field in error_of(response)["fields"], error_of(response)


def test_limit_and_offset_page_the_rows_and_count_them_all(arena):
    body = board("?limit=1&offset=1")
    assert body["count"] == 3 and [r["bot"]["name"] for r in body["results"]] == ["Idle"]


def test_its_queries_do_not_grow_with_snapshots_trades_or_bots(arena, user, provider):
    def queries() -> int:
        cache.clear()  # the benchmarks' candles are read again, not kept from the last call
        with CaptureQueriesContext(connection) as captured, time_machine.travel(NOW, tick=False):
            assert client_for().get(URL + "?period=week").status_code == 200
        return len(captured)

    before = queries()
    more = [bot_create(owner=user, name=f"More {i}", prompt="p", provider=provider) for i in range(3)]
    for minutes in range(10, 60, 10):
        snapshots_take(now=TODAY_START + timedelta(hours=5, minutes=minutes),
                       bot_ids=[b.pk for b in more] + [arena["Up"].pk])
    position_open(bot=more[0], symbol="BTCUSDT", side="LONG", margin=D("10"), leverage=2,
                  now=TODAY_START + timedelta(hours=6))
    assert queries() == before
