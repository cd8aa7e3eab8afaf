"""/api/analytics/: every route through the API client. Scoped to the caller's bots (another
user's bot is a 404, admins see every bot, anonymous is refused); each bad parameter a 400
naming it; values checked against small histories with explicit times (the range is always
given, so no test depends on the hour); query counts that do not grow with the rows."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bots.models import Decision
from bots.services import bot_create, bot_reset, provider_create
from ledger.models import Entry, Snapshot
from tests.arena.api_helpers import client_for, error_of
from trading import perps
from trading.models import Market, Position, Trade
from trading.services import funding_apply, position_close, position_open, positions_mark
from trading.services.snapshots import snapshots_take

pytestmark = pytest.mark.django_db
D = Decimal
T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
DAY = {"from": "2026-03-02", "to": "2026-03-03"}  # 2026-03-02 00:00 to 2026-03-03 00:00 UTC
BOT_ROUTES = ["performance", "risk-metrics", "runs", "trades"]
RANGED = {"performance", "trades"}  # the bot routes that take from/to
BOTS_ROUTES = ["performance", "comparison", "aggregate/summary", "aggregate/best-worst",
               "aggregate/by-symbol", "llm-usage"]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def get(user, path: str, **params):
    return client_for(user).get(f"/api/analytics/{path}", params)


@pytest.fixture
def market(db):
    return Market.objects.create(symbol="BTCUSDT", base_asset="BTC", last_price=D("60000"),
                                 mark_price=D("60000"), updated_at=T0)


@pytest.fixture
def theirs(other_user):
    provider = provider_create(owner=other_user, name="Theirs", kind="scripted", model="momentum")
    return bot_create(owner=other_user, name="Rival", prompt="p", provider=provider)


def snap(bot, minutes: float, value: str) -> Snapshot:
    return Snapshot.objects.create(bot=bot, taken_at=at(minutes), balance=D(value), total_value=D(value))


def closed(bot, symbol: str, side: str, pnl: str, minutes: float, fees=("1", "1")) -> Position:
    position = Position.objects.create(
        bot=bot, symbol=symbol, side=side, status="closed", margin=D("100"), leverage=3, quantity=D("1"),
        entry_price=D("100"), opened_at=at(minutes - 30), closed_at=at(minutes), exit_price=D("101"),
        realized_pnl=D(pnl), close_reason="decision")
    Trade.objects.create(bot=bot, position=position, kind="OPEN", side=side, symbol=symbol, price=D("100"),
                         quantity=D("1"), fee=D(fees[0]), executed_at=at(minutes - 30))
    Trade.objects.create(bot=bot, position=position, kind="CLOSE", side=side, symbol=symbol, price=D("101"),
                         quantity=D("1"), fee=D(fees[1]), pnl=D(pnl), executed_at=at(minutes))
    return position


# --- who sees what ------------------------------------------------------------------


@pytest.mark.parametrize("route", [f"bots/{{id}}/{r}/" for r in BOT_ROUTES] + [f"{r}/" for r in BOTS_ROUTES])
def test_anonymous_is_refused(bot, route):
    response = client_for().get(f"/api/analytics/{route.format(id=bot.pk)}")
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"


@pytest.mark.parametrize("route", BOT_ROUTES)
def test_another_users_bot_is_a_404_and_an_admin_sees_it(user, admin_user, theirs, route):
    params = DAY if route in RANGED else {}
    response = get(user, f"bots/{theirs.pk}/{route}/", **params)
    assert response.status_code == 404, response.content
    assert error_of(response)["code"] == "not_found"
    assert get(admin_user, f"bots/{theirs.pk}/{route}/", **params).status_code == 200


def test_naming_another_users_bot_among_several_is_a_404(user, bot, theirs):
    for path, param in (("comparison/", "bots"), ("performance/", "bot")):
        response = get(user, path, **{param: f"{bot.pk},{theirs.pk}"}, **DAY)
        assert response.status_code == 404, (path, response.content)
        assert str(theirs.pk) in error_of(response)["message"]


def test_the_routes_across_bots_read_only_your_bots_and_an_admin_every_bot(user, admin_user, bot, theirs):
    closed(bot, "BTCUSDT", "LONG", "10", 60)
    closed(theirs, "ETHUSDT", "LONG", "20", 70)
    mine = get(user, "aggregate/summary/", **DAY).json()
    assert (mine["bots"], mine["trades"], D(mine["pnl"])) == (1, 1, D("10"))
    every = get(admin_user, "aggregate/summary/", **DAY).json()
    assert (every["bots"], every["trades"], D(every["pnl"])) == (2, 2, D("30"))
    assert [r["symbol"] for r in get(user, "aggregate/by-symbol/", **DAY).json()["results"]] == ["BTCUSDT"]
    assert [r["bot"]["id"] for r in get(user, "aggregate/best-worst/", **DAY).json()["best"]] == [bot.pk]
    assert [r["bot"]["id"] for r in get(user, "performance/").json()["results"]] == [bot.pk]
    assert {r["bot"]["id"] for r in get(admin_user, "performance/").json()["results"]} == {bot.pk, theirs.pk}
    assert [b["bot"]["id"] for b in get(user, "comparison/", **DAY).json()["bots"]] == [bot.pk]


# --- bad parameters -------------------------------------------------------------------


@pytest.mark.parametrize(("route", "params", "field"), [
    ("bots/{id}/performance/", {"interval": "7m"}, "interval"),
    ("bots/{id}/performance/", {"from": "2026-03-05", "to": "2026-03-01"}, "from"),
    ("bots/{id}/performance/", {"from": "2026-03-01", "to": "2026-03-05", "interval": "5m"}, "interval"),
    ("bots/{id}/performance/", {"from": "2020-01-01", "to": "2026-03-01"}, "from"),
    ("bots/{id}/performance/", {"run": "2001-01-01T00:00:00Z"}, "run"),
    ("bots/{id}/performance/", {"to": "soon"}, "to"),
    ("bots/{id}/risk-metrics/", {"run": "2001-01-01T00:00:00Z"}, "run"),
    ("bots/{id}/risk-metrics/", {"run": "a while ago"}, "run"),
    ("bots/{id}/trades/", {"from": "2026-03-02T25:00:00Z"}, "from"),
    ("comparison/", {"bots": ",".join(str(i) for i in range(1, 12))}, "bots"),
    ("comparison/", {"bots": "{id},x"}, "bots"),
    ("comparison/", {"bots": "{id}", "interval": "1w"}, "interval"),
    ("comparison/", {"bots": "{id}", "from": "2026-03-01", "to": "2026-03-05", "interval": "5m"},
     "interval"),
    ("performance/", {"bot": "abc"}, "bot"),
    ("performance/", {"period": "year"}, "period"),
    ("performance/", {"period": "day", "from": "2026-03-01"}, "period"),
    ("performance/", {"from": "2010-01-01", "to": "2026-03-01"}, "from"),
    ("aggregate/summary/", {"from": "2026-03-02", "to": "2026-03-01"}, "from"),
    ("llm-usage/", {"colour": "red"}, "colour"),
])
def test_a_bad_parameter_is_a_400_naming_it(user, bot, route, params, field):
    params = {name: value.format(id=bot.pk) for name, value in params.items()}
    response = get(user, route.format(id=bot.pk), **params)
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "invalid"
    assert field in error["fields"], error
    assert f"'{field}'" in error["message"], error


# --- values ---------------------------------------------------------------------------


def test_a_bots_sampled_series_is_its_last_snapshot_at_or_before_each_boundary(user, bot):
    history = ((20, "1000"), (45, "1100"), (60, "880"), (61, "990"), (170, "1100"), (200, "1045"))
    for minutes, value in history:
        snap(bot, minutes, value)
    response = get(user, f"bots/{bot.pk}/performance/", **{"from": iso(T0), "to": iso(at(240)),
                                                            "interval": "1h"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["interval"], body["interval_seconds"], body["from"], body["to"]) == (
        "1h", 3600, iso(T0), iso(at(240)))
    rows = sorted(Snapshot.objects.filter(bot=bot).values_list("taken_at", "total_value"))
    boundaries = [at(60), at(120), at(180), at(240)]  # 00:00 is before the first snapshot: left out
    expected = [max((r for r in rows if r[0] <= b), key=lambda r: r[0]) for b in boundaries]
    assert [p["at"] for p in body["points"]] == [iso(b) for b in boundaries]
    assert [(p["taken_at"], D(p["value"])) for p in body["points"]] == [(iso(t), v) for t, v in expected]
    assert [round(p["drawdown"], 12) for p in body["points"]] == [0, 0, 0, 0.05]
    assert body["total_return"] == pytest.approx(1045 / 880 - 1)
    assert body["max_drawdown_duration"] == {"seconds": 3600.0, "resolution": "1h",
                                             "resolution_seconds": 3600}
    assert body["exposure"]["flat"] == 1.0 and body["exposure"]["positions"] == 0
    assert body["days"]["figures"] is None and body["days"]["reason"] == "the range holds no whole UTC day"


def test_a_bots_whole_days_figures_come_from_its_rollups(user, bot, market):
    snapshots_take(now=at(10), bot_ids=[bot.pk])
    opened = position_open(bot=bot, symbol="BTCUSDT", side="LONG", margin=D("1000"), leverage=2, now=at(20))
    positions_mark(prices={"BTCUSDT": D("63000")}, now=at(30))
    snapshots_take(now=at(40), bot_ids=[bot.pk])
    position_close(position=opened.position.pk, reason="manual", price=D("63000"), now=at(50))
    snapshots_take(now=at(60), bot_ids=[bot.pk])
    snapshots_take(now=at(24 * 60 + 10), bot_ids=[bot.pk])  # the next day: outside the whole day
    body = get(user, f"bots/{bot.pk}/performance/",
               **{"from": "2026-03-02", "to": "2026-03-03T12:00:00Z"}).json()
    days = body["days"]
    assert (days["first_day"], days["last_day"], days["run_start"]) == (
        "2026-03-02", "2026-03-02", "1970-01-01T00:00:00Z")
    values = list(Snapshot.objects.filter(bot=bot).order_by("taken_at").values_list("total_value", flat=True))
    figures = days["figures"]
    assert (D(figures["start_value"]), D(figures["end_value"])) == (values[0], values[2])
    assert figures["total_return"] == pytest.approx(float(values[2] / values[0] - 1))
    assert figures["trades"] == 1 and figures["wins"] == 1 and figures["sources"]["snapshots"] == 3
    fees = sum(Trade.objects.filter(bot=bot).values_list("fee", flat=True), D(0))
    assert D(figures["fees_paid"]) == fees > 0
    assert body["exposure"]["long"] == pytest.approx(30 / (36 * 60)), "00:20–00:50 of 36 hours"


def test_a_comparison_draws_every_bot_on_the_same_boundaries(user, bot, provider):
    late = bot_create(owner=user, name="Late", prompt="p", provider=provider)
    for minutes, value in ((0, "100"), (50, "120"), (100, "90")):
        snap(bot, minutes, value)
    for minutes, value in ((35, "500"), (95, "550")):
        snap(late, minutes, value)
    body = get(user, "comparison/", bots=f"{late.pk},{bot.pk}", interval="15m",
               **{"from": iso(T0), "to": iso(at(120))}).json()
    boundaries = [iso(at(m)) for m in range(0, 121, 15)]
    assert body["boundaries"] == boundaries and body["interval"] == "15m"
    first, second = body["bots"]
    assert (first["bot"]["id"], second["bot"]["id"]) == (late.pk, bot.pk), "in the order asked"
    for row in body["bots"]:
        assert len(row["values"]) == len(row["returns"]) == len(boundaries)
        rows = sorted(Snapshot.objects.filter(bot_id=row["bot"]["id"]).values_list("taken_at", "total_value"))
        for moment, value in zip(range(0, 121, 15), row["values"], strict=True):
            before = [v for t, v in rows if t <= at(moment)]
            assert (D(value) if value is not None else None) == (before[-1] if before else None), moment
    assert first["values"][:3] == [None, None, None] and first["first_at"] == iso(at(45))
    assert first["total_return"] == pytest.approx(0.1) and first["returns"][-1] == pytest.approx(0.1)
    assert second["total_return"] == pytest.approx(-0.1)


@pytest.mark.parametrize("value", ["0", "-0.000000005", "0.000000015", "123.456789125", "-98765.432109876",
                                   "1E+12", "12345678901234567890.123456789", "7"])
def test_a_comparisons_money_renders_as_each_value_alone_would(value):
    from rest_framework import serializers

    from arena.api.analytics.serializers import NullableMoneyList
    from arena.api.figures import MONEY

    field = serializers.DecimalField(**MONEY)
    assert NullableMoneyList().to_representation([None, D(value), D(value)]) == [
        None, field.to_representation(D(value)), field.to_representation(D(value))]


def test_the_comparison_defaults_to_your_active_bots(user, bot, provider):
    gone = bot_create(owner=user, name="Gone", prompt="p", provider=provider)
    gone.is_active = False
    gone.save()
    body = get(user, "comparison/", **DAY).json()
    assert [row["bot"]["id"] for row in body["bots"]] == [bot.pk]
    assert body["interval"] == "5m" and len(body["boundaries"]) == 289


# The current run's periods end today: the clock is set after the history, whatever --clock says.
@time_machine.travel(datetime(2026, 3, 5, 12, 0, tzinfo=UTC), tick=False)
def test_a_reset_bots_old_run_stays_readable(user, bot, market):
    snapshots_take(now=at(10), bot_ids=[bot.pk])
    position_open(bot=bot, symbol="BTCUSDT", side="LONG", margin=D("500"), leverage=2, now=at(20))
    snapshots_take(now=at(30), bot_ids=[bot.pk])
    reset_at = at(24 * 60)
    bot_reset(bot=bot, now=reset_at)
    snapshots_take(now=reset_at + timedelta(minutes=10), bot_ids=[bot.pk])
    runs = get(user, f"bots/{bot.pk}/runs/").json()["results"]
    assert [(r["run_start"], r["ended_at"], r["current"], r["days"]) for r in runs] == [
        ("1970-01-01T00:00:00Z", iso(reset_at), False, 2), (iso(reset_at), None, True, 1)]
    assert runs[0]["figures"]["trades"] == 1 and runs[1]["figures"]["trades"] == 0
    old = get(user, f"bots/{bot.pk}/risk-metrics/", run="1970-01-01T00:00:00Z").json()
    assert (old["run_start"], old["run_ended_at"], old["as_of"]) == (
        "1970-01-01T00:00:00Z", iso(reset_at), "2026-03-03")
    assert old["periods"]["all"]["figures"]["trades"] == 1
    assert old["periods"]["all"]["figures"]["sources"]["snapshots"] == 2
    assert old["periods"]["day"]["first_day"] == old["periods"]["day"]["last_day"] == "2026-03-03"
    assert old["periods"]["week"]["first_day"] == "2026-02-25"
    current = get(user, f"bots/{bot.pk}/risk-metrics/").json()
    assert current["run_start"] == iso(reset_at) and current["run_ended_at"] is None
    assert current["periods"]["all"]["figures"]["sources"]["snapshots"] == 1
    previous = get(user, f"bots/{bot.pk}/performance/", run="1970-01-01T00:00:00Z",
                   **{"from": "2026-03-02", "to": "2026-03-03"}).json()
    assert previous["days"]["figures"]["sources"]["snapshots"] == 2, "the old run's day, by ?run="


def test_a_bots_closed_positions_grouped_bucketed_and_ranked(user, bot):
    first = closed(bot, "BTCUSDT", "LONG", "120", 60)
    closed(bot, "BTCUSDT", "SHORT", "-45", 90)
    closed(bot, "ETHUSDT", "SHORT", "0", 23 * 60 + 59, fees=("0.5", "0.5"))
    closed(bot, "ETHUSDT", "LONG", "700", 24 * 60 + 1)  # after the range
    body = get(user, f"bots/{bot.pk}/trades/", **DAY).json()
    totals = body["totals"]
    assert (totals["trades"], totals["wins"], totals["losses"], D(totals["pnl"]), D(totals["fees"])) == (
        3, 1, 1, D("75"), D("5"))
    assert totals["win_rate"] == pytest.approx(1 / 3)
    assert [(g["symbol"], g["trades"], D(g["pnl"])) for g in body["by_symbol"]] == [
        ("BTCUSDT", 2, D("75")), ("ETHUSDT", 1, D("0"))]
    assert [(g["side"], g["trades"]) for g in body["by_side"]] == [("LONG", 1), ("SHORT", 2)]
    hours = {g["hour"]: g for g in body["by_hour"]}
    assert sorted(hours) == list(range(24))
    assert (hours[1]["trades"], hours[23]["trades"], hours[1]["win_rate"]) == (2, 1, 0.5)
    assert hours[5]["win_rate"] is None and hours[5]["reasons"] == {"win_rate": "no trades"}
    edges = [D(e) for e in body["histogram"]["edges"]]
    assert edges == sorted(edges) and D("0") in edges
    counted = {(b["low"] and D(b["low"]), b["high"] and D(b["high"])): b["count"]
               for b in body["histogram"]["buckets"]}
    assert counted[(D("100"), D("500"))] == 1 and counted[(D("-50"), D("-10"))] == 1
    assert counted[(D("0"), D("10"))] == 1 and sum(counted.values()) == 3
    best = body["best"][0]
    close_trade = Trade.objects.get(position=first, kind="CLOSE")
    assert (best["position_id"], best["symbol"], best["side"], D(best["pnl"]), best["closed_at"]) == (
        first.pk, "BTCUSDT", "LONG", D("120"), iso(at(60)))
    assert (best["close_trade_id"], best["opening_decision_id"]) == (close_trade.pk, None)
    assert [D(r["pnl"]) for r in body["worst"]] == [D("-45"), D("0"), D("120")]


def test_the_summary_across_bots_counts_closes_fees_funding_and_the_models_cost(user, bot, provider, market):
    second = bot_create(owner=user, name="Second", prompt="p", provider=provider)
    closed(bot, "BTCUSDT", "LONG", "50", 60)
    closed(second, "ETHUSDT", "SHORT", "-20", 120, fees=("0.25", "0.75"))
    opened = position_open(bot=second, symbol="BTCUSDT", side="LONG", margin=D("100"), leverage=2,
                           now=at(400))
    funding_time = perps.last_funding_time(at(490))
    funding_apply(funding_time=funding_time, rates={"BTCUSDT": D("0.001")}, marks={"BTCUSDT": D("60000")},
                  now=at(490))
    Decision.objects.create(bot=bot, created_at=at(5), success=True, cost=D("0.012"))
    Decision.objects.create(bot=second, created_at=at(6), success=False, cost=D("0.003"))
    body = get(user, "aggregate/summary/", **DAY).json()
    assert (body["bots"], body["trades"], body["wins"], body["losses"], body["win_rate"]) == (2, 2, 1, 1, 0.5)
    assert D(body["pnl"]) == D("30")
    open_fee = Trade.objects.get(position=opened.position).fee
    assert D(body["fees"]) == D("2") + D("1") + open_fee, "every fill in the range"
    paid = -Entry.objects.get(kind=Entry.Kind.FUNDING).amount
    assert paid > 0 and (D(body["funding_paid"]), D(body["funding_received"])) == (paid, D(0))
    assert D(body["funding"]) == -paid
    assert (D(body["llm_cost"]), body["decisions"]) == (D("0.015"), 2)


def test_llm_usage_per_bot_and_model(user, bot):
    for i, latency in enumerate((1000, 2000, 3000)):
        Decision.objects.create(bot=bot, created_at=at(i), model="gpt", success=bool(i), latency_ms=latency,
                                tokens_in=100, tokens_out=10, cost=D("0.01"))
    body = get(user, "llm-usage/", **DAY).json()
    (row,) = body["results"]
    assert (row["bot"]["id"], row["model"], row["decisions"], row["failures"]) == (bot.pk, "gpt", 3, 1)
    assert (row["tokens_in"], row["tokens_out"], D(row["cost"])) == (300, 30, D("0.03"))
    assert row["latency_mean_ms"] == 2000 and row["latency_p95_ms"] == pytest.approx(2900)
    assert body["models"][0]["model"] == "gpt" and "bot" not in body["models"][0]


def test_the_performance_of_each_bot_over_a_period_or_a_range(user, bot, provider, market):
    other = bot_create(owner=user, name="Other", prompt="p", provider=provider)
    snapshots_take(now=at(10))
    snapshots_take(now=at(70))
    body = get(user, "performance/", **{"from": "2026-03-02", "to": "2026-03-02T23:00:00Z"}).json()
    assert body["period"] == {"name": "custom", "first_day": "2026-03-02", "last_day": "2026-03-02"}
    assert [r["bot"]["id"] for r in body["results"]] == [bot.pk, other.pk]
    assert all(r["figures"]["sources"]["snapshots"] == 2 for r in body["results"])
    narrowed = get(user, "performance/", bot=str(other.pk), period="all").json()
    assert narrowed["period"]["name"] == "all" and narrowed["period"]["first_day"] is None
    assert [r["bot"]["id"] for r in narrowed["results"]] == [other.pk]


# --- cost ------------------------------------------------------------------------------


def grow(bots, start: int, count: int) -> None:
    """``count`` more minutes of history for each bot: a snapshot, a closed position and a
    decision each minute from ``start``."""
    for bot in bots:
        Snapshot.objects.bulk_create(Snapshot(bot=bot, taken_at=at(start + i), balance=D(1000 + i),
                                              total_value=D(1000 + i)) for i in range(count))
        for i in range(0, count, 5):
            closed(bot, ("BTCUSDT", "ETHUSDT")[i % 2], ("LONG", "SHORT")[i % 3 % 2], str(i - count // 2),
                   start + i)
            Decision.objects.create(bot=bot, created_at=at(start + i), model=f"m{i % 3}", success=bool(i % 4),
                                    latency_ms=100 + i, cost=D("0.001"))


@pytest.mark.parametrize("route", [f"bots/{{id}}/{r}/" for r in BOT_ROUTES] + [f"{r}/" for r in BOTS_ROUTES])
def test_queries_do_not_grow_with_the_rows(user, bot, provider, route):
    bots = [bot, bot_create(owner=user, name="Second", prompt="p", provider=provider)]
    path = route.format(id=bot.pk)
    ranged = not route.startswith("bots/") or route.split("/")[2] in RANGED
    params = {"from": "2026-03-01T12:00:00Z", "to": "2026-03-03"} if ranged else {}

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = get(user, path, **params)
        assert response.status_code == 200, response.content
        return len(captured)

    grow(bots, 0, 20)
    few = queries()
    grow(bots, 20, 400)
    assert queries() == few
