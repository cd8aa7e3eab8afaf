"""The analytics' pure helpers (parameters, ranges, boundaries, intervals) and its selectors
on small histories with explicit times: the sampled series is the last snapshot at or before
each boundary, in one statement of index seeks; closed positions grouped, bucketed and ranked
as computed by hand; the models' usage with its p95; runs and their periods from rollups."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from arena.analytics.params import (
    AnalyticsError,
    Range,
    ids_parse,
    instant_parse,
    range_resolve,
    run_choose,
)
from arena.analytics.performance import bot_performance, comparison
from arena.analytics.runs import risk_periods, run_as_of, runs_figures, runs_list
from arena.analytics.series import (
    Sample,
    _sample_params,
    _sample_sql,
    boundaries_count,
    boundaries_of,
    interval_choose,
    points_of,
    samples_of,
)
from arena.analytics.trades import closed_in, extremes, groups_by, histogram, total_of
from arena.analytics.usage import usage_of
from bots.models import Decision
from bots.services import bot_create, bot_reset
from ledger.models import Entry, Snapshot
from ledger.rollup_models import RUN_FIRST
from ledger.services import entry_post
from trading.models import Market, Position, Trade
from trading.services import position_open
from trading.services.snapshots import snapshots_take

D = Decimal
T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday, 00:00 UTC


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# --- parameters ----------------------------------------------------------------------


def test_an_instant_is_an_iso_time_or_a_date_at_midnight_utc():
    assert instant_parse("2026-03-02", param="from") == T0
    assert instant_parse("2026-03-02T13:00:00Z", param="from") == T0 + timedelta(hours=13)
    assert instant_parse("2026-03-02T15:00:00+02:00", param="to") == T0 + timedelta(hours=13)
    assert instant_parse("2026-03-02T13:00", param="to") == T0 + timedelta(hours=13), "no offset: UTC"


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "", "1969-12-31", "9999-01-01T00:00Z"])
def test_a_bad_instant_names_its_parameter(text):
    with pytest.raises(AnalyticsError) as caught:
        instant_parse(text, param="to")
    assert caught.value.param == "to"


def test_a_range_defaults_to_the_seven_days_before_its_end_and_its_end_to_now():
    now = at(600)
    assert range_resolve(None, None, now=now) == Range(now - timedelta(days=7), now)
    assert range_resolve(None, T0, now=now) == Range(T0 - timedelta(days=7), T0)
    assert range_resolve(T0, None, now=now) == Range(T0, now)


def test_a_range_that_starts_after_it_ends_is_an_error_naming_from():
    with pytest.raises(AnalyticsError) as caught:
        range_resolve(at(10), at(5), now=at(20))
    assert caught.value.param == "from"


@pytest.mark.parametrize(("start", "end", "days"), [
    (T0, T0 + timedelta(days=2), (date(2026, 3, 2), date(2026, 3, 3))),
    (T0 + timedelta(hours=1), T0 + timedelta(days=2, hours=5), (date(2026, 3, 3), date(2026, 3, 3))),
    (T0 + timedelta(hours=1), T0 + timedelta(hours=30), None),
    (T0, T0 + timedelta(hours=23), None),
])
def test_the_whole_days_of_a_range(start, end, days):
    assert Range(start, end).whole_days() == days


def test_bot_ids_keep_their_order_without_repeats_and_refuse_what_is_not_an_id():
    assert ids_parse("3, 1,3,2", param="bots") == [3, 1, 2]
    for text in ("1,x", "1,,2", "-4", "0", "١"):
        with pytest.raises(AnalyticsError) as caught:
            ids_parse(text, param="bots")
        assert caught.value.param == "bots"
    with pytest.raises(AnalyticsError, match="At most 10"):
        ids_parse(",".join(str(i) for i in range(1, 12)), param="bots", most=10)


def test_a_run_is_one_of_the_bots_runs_or_its_current_one():
    reset = at(90)
    assert run_choose(None, runs=[RUN_FIRST], current=reset) == reset
    assert run_choose("1970-01-01T00:00:00Z", runs=[RUN_FIRST], current=reset) == RUN_FIRST
    assert run_choose(reset.isoformat(), runs=[RUN_FIRST], current=reset) == reset
    with pytest.raises(AnalyticsError) as caught:
        run_choose("2026-03-02T01:00:00Z", runs=[RUN_FIRST], current=reset)
    assert caught.value.param == "run"


# --- boundaries and intervals ----------------------------------------------------------


def test_boundaries_are_the_multiples_of_the_interval_within_the_range_both_ends_included():
    span = Range(at(3), at(60))
    assert boundaries_of(span, 900) == [at(15), at(30), at(45), at(60)]
    assert boundaries_of(Range(at(15), at(15)), 900) == [at(15)]
    assert boundaries_of(Range(at(16), at(29)), 900) == []
    assert boundaries_count(Range(T0, T0 + timedelta(days=7)), 3600) == 7 * 24 + 1


def test_the_default_interval_is_the_finest_giving_at_most_500_points():
    assert interval_choose(Range(T0, T0 + timedelta(hours=24)), None) == "5m"  # 289 points
    assert interval_choose(Range(T0, T0 + timedelta(days=5)), None) == "15m"  # 481
    assert interval_choose(Range(T0, T0 + timedelta(days=7)), None) == "1h"  # 169
    assert interval_choose(Range(T0, T0 + timedelta(days=600)), None) == "1d"  # 601: within 1000
    with pytest.raises(AnalyticsError) as caught:
        interval_choose(Range(T0, T0 + timedelta(days=1200)), None)
    assert caught.value.param == "from"


def test_an_interval_giving_more_than_1000_points_or_unknown_is_an_error_naming_it():
    assert interval_choose(Range(T0, T0 + timedelta(days=3)), "5m") == "5m"  # 865 points
    for wanted, days in (("5m", 4), ("7m", 1)):
        with pytest.raises(AnalyticsError) as caught:
            interval_choose(Range(T0, T0 + timedelta(days=days)), wanted)
        assert caught.value.param == "interval"


# --- the sampled series ----------------------------------------------------------------


@pytest.fixture
def market(db):
    return Market.objects.create(symbol="BTCUSDT", base_asset="BTC", last_price=D("60000"),
                                 mark_price=D("60000"), updated_at=T0)


def snap(bot, minutes: float, value: str) -> Snapshot:
    return Snapshot.objects.create(bot=bot, taken_at=at(minutes), balance=D(value), total_value=D(value))


# PostgreSQL reads each sample's time and value in the seek itself (LATERAL); SQLite seeks the
# ids, then reads the snapshots found by primary key.
SAMPLE_STATEMENTS = 1 if connection.vendor == "postgresql" else 2


def last_at_or_before(rows: list[tuple[datetime, Decimal]], boundary: datetime):
    before = [r for r in rows if r[0] <= boundary]
    return max(before, key=lambda r: r[0]) if before else None


@pytest.mark.django_db
def test_each_sample_is_the_last_snapshot_at_or_before_its_boundary(bot):
    for minutes, value in ((7, "1000"), (14, "1010.5"), (15, "990.12345678"), (31, "1005"), (58, "1020")):
        snap(bot, minutes, value)
    boundaries = boundaries_of(Range(T0, at(75)), 300)
    samples = samples_of([bot.pk], boundaries)[bot.pk]
    rows = list(Snapshot.objects.filter(bot=bot).values_list("taken_at", "total_value"))
    for boundary, sample in zip(boundaries, samples, strict=True):
        expected = last_at_or_before(rows, boundary)
        if expected is None:
            assert sample is None, boundary
        else:
            assert (sample.at, sample.taken_at, sample.value) == (boundary, *expected), boundary
    assert samples[0] is None and samples[1] is None, "00:00 and 00:05 are before the first snapshot"
    assert samples[3].value == D("990.12345678"), "a snapshot exactly at a boundary is taken, exactly"


@pytest.mark.django_db
def test_several_bots_are_sampled_on_the_same_boundaries_in_one_read(bot, user, provider):
    other = bot_create(owner=user, name="Second", prompt="p", provider=provider)
    snap(bot, 1, "100")
    snap(other, 40, "200")
    snap(other, 61, "210")
    boundaries = boundaries_of(Range(T0, at(120)), 1800)
    with CaptureQueriesContext(connection) as queries:
        samples = samples_of([bot.pk, other.pk], boundaries)
    assert len(queries) == SAMPLE_STATEMENTS, "the seeks for every bot (and on SQLite the snapshots found)"
    assert [s and s.value for s in samples[bot.pk]] == [None, D("100"), D("100"), D("100"), D("100")]
    assert [s and s.value for s in samples[other.pk]] == [None, None, D("200"), D("210"), D("210")]


@pytest.mark.django_db
def test_the_sampling_statement_does_not_grow_with_the_snapshots(bot):
    boundaries = boundaries_of(Range(T0, at(600)), 3600)
    for minutes in range(0, 600, 10):
        snap(bot, minutes, "1000")
    with CaptureQueriesContext(connection) as few:
        samples_of([bot.pk], boundaries)
    Snapshot.objects.bulk_create(Snapshot(bot=bot, taken_at=at(m / 10), balance=D(1), total_value=D(1))
                                 for m in range(1, 6000) if m % 100)
    with CaptureQueriesContext(connection) as many:
        samples_of([bot.pk], boundaries)
    assert len(few) == len(many) == SAMPLE_STATEMENTS, "the seeks (and on SQLite the snapshots found)"
    assert few[0]["sql"] == many[0]["sql"], "the same seeks, whatever the rows"


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "sqlite", reason="the plan's wording is SQLite's")
def test_the_sampling_seeks_the_bot_and_time_index(bot):
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + _sample_sql(1, 1), _sample_params([bot.pk], [T0]))
        plan = " | ".join(str(row[-1]) for row in cursor.fetchall())
    assert "COVERING INDEX ledger_snapshot_bot_time_idx" in plan, plan
    assert "SCAN x" not in plan and "SCAN ledger_snapshot" not in plan, plan


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the plan's wording is PostgreSQL's")
def test_the_sampling_seeks_the_bot_and_time_index_on_postgresql(bot):
    with connection.cursor() as cursor:
        # A handful of rows could be read whole: forbid that, and see what the plan can use.
        cursor.execute("SET LOCAL enable_seqscan = off")
        params = _sample_params([bot.pk, bot.pk + 1], [T0, at(5), at(10)])
        cursor.execute("EXPLAIN " + _sample_sql(2, 3), params)
        plan = " | ".join(row[0] for row in cursor.fetchall())
    assert "Index Only Scan Backward using ledger_snapshot_bot_time_idx" in plan, "the value is in the index"
    assert "Seq Scan on ledger_snapshot" not in plan and "Hash" not in plan, plan


def test_points_carry_the_flows_between_their_snapshots():
    samples = [Sample(at(0), at(0), D("100")), Sample(at(5), at(4), D("150")),
               Sample(at(10), at(4), D("150"))]
    flows = [(at(-1), D("7")), (at(2), D("50")), (at(4), D("1"))]
    points = points_of(samples, flows)
    assert [p.flow for p in points] == [0.0, 51.0, 0.0], "the flows of (previous snapshot, own snapshot]"
    assert [p.at for p in points] == [at(0), at(5), at(10)]


@pytest.mark.django_db
def test_a_bots_performance_drawdowns_exposure_and_whole_days(bot, market):
    for minutes, value in ((0, "100"), (60, "120"), (120, "90"), (180, "90"), (240, "120"), (300, "118")):
        snap(bot, minutes, value)
    # A deposit before the last point is not a return: 118 with 10 deposited is 120 → 108, −10 %.
    entry_post(account=bot.account, kind=Entry.Kind.DEPOSIT, amount=D("10"), memo="top-up",
               created_at=at(250))
    Position.objects.create(bot=bot, symbol="BTCUSDT", side="LONG", status="closed", margin=D("10"),
                            leverage=2, quantity=D("0.001"), entry_price=D("60000"), opened_at=at(-30),
                            closed_at=at(150), exit_price=D("60000"), realized_pnl=D("0"))
    Position.objects.create(bot=bot, symbol="BTCUSDT", side="SHORT", margin=D("10"), leverage=2,
                            quantity=D("0.001"), entry_price=D("60000"), opened_at=at(120))
    found = bot_performance(bot.pk, Range(T0, at(300)), "1h", run_start=RUN_FIRST)
    assert [p.value for p in found.points] == [D("100"), D("120"), D("90"), D("90"), D("120"), D("118")]
    assert [round(p.drawdown, 12) for p in found.points] == [0, 0, 0.25, 0.25, 0, 0.1]
    assert found.max_drawdown.value == pytest.approx(0.25)
    assert found.max_drawdown_duration.value == 3 * 3600, "from the 01:00 peak back to it at 04:00"
    assert found.total_return.value == pytest.approx(0.08), "1.2 × 0.75 / 0.75 × 0.9, net of the deposit"
    # Long 00:00–02:00, both 02:00–02:30, short 02:30–05:00, over 5 hours.
    assert found.exposure.long.value == pytest.approx(2 / 5)
    assert found.exposure.both.value == pytest.approx(0.5 / 5)
    assert found.exposure.short.value == pytest.approx(2.5 / 5)
    assert found.exposure.flat.value == 0
    assert found.positions == 2
    assert (found.days.figures, found.days.reason) == (None, "the range holds no whole UTC day")


@pytest.mark.django_db
def test_a_comparison_puts_every_bot_on_the_boundaries_and_returns_from_its_first_point(bot, user, provider):
    other = bot_create(owner=user, name="Late", prompt="p", provider=provider)
    snap(bot, 0, "100")
    snap(bot, 100, "110")
    snap(other, 50, "200")
    snap(other, 110, "150")
    boundaries, rows = comparison([bot.pk, other.pk], Range(T0, at(120)), "1h")
    assert boundaries == [at(0), at(60), at(120)]
    first, second = rows
    assert (first.values, first.first_at) == ([D("100"), D("100"), D("110")], at(0))
    assert second.values == [None, D("200"), D("150")] and second.first_at == at(60)
    assert second.returns[0] is None and second.returns[2] == pytest.approx(-0.25)
    assert first.total_return.value == pytest.approx(0.1)


# --- closed positions --------------------------------------------------------------------


def closed(bot, symbol: str, side: str, pnl: str, minutes: float, *, fees=("1", "1"), decision=None):
    position = Position.objects.create(
        bot=bot, symbol=symbol, side=side, status="closed", margin=D("100"), leverage=3, quantity=D("1"),
        entry_price=D("100"), opened_at=at(minutes - 30), closed_at=at(minutes), exit_price=D("101"),
        realized_pnl=D(pnl), close_reason="decision", opening_decision=decision)
    Trade.objects.create(bot=bot, position=position, kind="OPEN", side=side, symbol=symbol, price=D("100"),
                         quantity=D("1"), fee=D(fees[0]), executed_at=at(minutes - 30), decision=decision)
    close = Trade.objects.create(bot=bot, position=position, kind="CLOSE", side=side, symbol=symbol,
                                 price=D("101"), quantity=D("1"), fee=D(fees[1]), pnl=D(pnl),
                                 executed_at=at(minutes))
    return position, close


@pytest.fixture
def history(bot):
    """Seven positions closed between 01:00 and 09:30 UTC, one before and one after the range."""
    rows = [closed(bot, "BTCUSDT", "LONG", "120.5", 60), closed(bot, "BTCUSDT", "SHORT", "-30", 65),
            closed(bot, "ETHUSDT", "LONG", "0", 130), closed(bot, "ETHUSDT", "LONG", "-1500", 135),
            closed(bot, "SOLUSDT", "SHORT", "9.99", 540), closed(bot, "BTCUSDT", "LONG", "2000", 560),
            closed(bot, "BTCUSDT", "LONG", "-10", 570, fees=("0.25", "0.5"))]
    closed(bot, "BTCUSDT", "LONG", "5", -10)
    closed(bot, "BTCUSDT", "LONG", "5", 24 * 60 + 1)
    return rows


@pytest.mark.django_db
def test_closed_positions_by_symbol_side_and_hour(bot, history):
    rows = closed_in([bot.pk], Range(T0, T0 + timedelta(days=1)))
    by_symbol = {g.key: g for g in groups_by(rows, "symbol")}
    assert list(by_symbol) == ["BTCUSDT", "SOLUSDT", "ETHUSDT"], "best pnl first"
    btc = by_symbol["BTCUSDT"]
    assert (btc.trades, btc.wins, btc.losses, btc.pnl, btc.fees) == (4, 2, 2, D("2080.5"), D("6.75"))
    assert btc.win_rate.value == 0.5
    eth = by_symbol["ETHUSDT"]
    assert (eth.trades, eth.wins, eth.losses, eth.win_rate.value) == (2, 0, 1, 0.0), "a scratch is a trade"
    by_side = groups_by(rows, "side")
    assert [(g.key, g.trades, g.pnl) for g in by_side] == [("LONG", 5, D("610.5")), ("SHORT", 2, D("-20.01"))]
    by_hour = groups_by(rows, "hour")
    assert [g.key for g in by_hour] == list(range(24))
    assert {g.key: g.trades for g in by_hour if g.trades} == {1: 2, 2: 2, 9: 3}
    assert by_hour[5].win_rate.value is None and by_hour[5].win_rate.reason == "no trades"
    total = total_of(by_side)
    assert (total.trades, total.wins, total.losses, total.pnl, total.fees) == (
        7, 3, 3, D("590.49"), D("12.75"))


@pytest.mark.django_db
def test_the_pnl_histogram_has_fixed_edges(bot, history):
    buckets = histogram(closed_in([bot.pk], Range(T0, T0 + timedelta(days=1))))
    counts = {(b.low, b.high): b.count for b in buckets}
    assert buckets[0].low is None and buckets[-1].high is None and len(buckets) == 12
    assert counts[(D("-500"), D("-100"))] == 0
    assert counts[(None, D("-1000"))] == 1  # -1500
    assert counts[(D("-50"), D("-10"))] == 1  # -30; -10 is in [-10, 0)
    assert counts[(D("-10"), D("0"))] == 1
    assert counts[(D("0"), D("10"))] == 2  # 0 and 9.99
    assert counts[(D("100"), D("500"))] == 1  # 120.5
    assert counts[(D("1000"), None)] == 1  # 2000
    assert sum(counts.values()) == 7


@pytest.mark.django_db
def test_the_best_and_worst_five_name_their_position_decision_and_closing_trade(bot, history):
    decision = Decision.objects.create(bot=bot, created_at=at(500), success=True)
    position, close = closed(bot, "XRPUSDT", "SHORT", "3000", 580, decision=decision)
    best, worst = extremes(closed_in([bot.pk], Range(T0, T0 + timedelta(days=1))))
    assert [r.pnl for r in best] == [D("3000"), D("2000"), D("120.5"), D("9.99"), D("0")]
    assert [r.pnl for r in worst] == [D("-1500"), D("-30"), D("-10"), D("0"), D("9.99")]
    top = best[0]
    assert (top.position_id, top.symbol, top.side, top.closed_at) == (
        position.pk, "XRPUSDT", "SHORT", at(580))
    assert (top.opening_decision_id, top.close_trade_id, top.bot_id, top.bot_name) == (
        decision.pk, close.pk, bot.pk, bot.name)


@pytest.mark.django_db
def test_grouping_costs_the_same_queries_for_many_positions(bot, history):
    span = Range(T0, T0 + timedelta(days=1))

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            rows = closed_in([bot.pk], span)
            for by in ("symbol", "side", "hour"):
                groups_by(rows, by)
            histogram(rows)
            extremes(rows)
        return len(queries)

    few = count()
    for i in range(60):
        closed(bot, f"S{i % 7}USDT", "LONG" if i % 2 else "SHORT", str(i - 30), 600 + i)
    assert count() == few == 9


# --- the models' usage ---------------------------------------------------------------------


@pytest.mark.django_db
def test_usage_per_bot_and_model_with_the_p95_of_latency(bot, user, provider):
    other = bot_create(owner=user, name="Other", prompt="p", provider=provider)
    for i, latency in enumerate((100, 200, 300, 400, 500)):
        Decision.objects.create(bot=bot, created_at=at(i), model="m1", success=i != 2, latency_ms=latency,
                                tokens_in=10, tokens_out=2, cost=D("0.001"))
    Decision.objects.create(bot=bot, created_at=at(9), model="m2", success=False)
    Decision.objects.create(bot=other, created_at=at(9), model="m1", success=True, latency_ms=1000)
    Decision.objects.create(bot=bot, created_at=at(-1), model="m1", success=True, latency_ms=99999)
    per_bot, per_model = usage_of([bot.pk, other.pk], Range(T0, at(60)))
    first = next(u for u in per_bot if (u.bot_id, u.model) == (bot.pk, "m1"))
    assert (first.decisions, first.failures, first.tokens_in, first.tokens_out, first.cost) == (
        5, 1, 50, 10, D("0.005"))
    assert first.latency_mean_ms.value == 300
    assert first.latency_p95_ms.value == pytest.approx(480), "0.95 × 4 = 3.8: 400 + 0.8 × 100"
    bare = next(u for u in per_bot if u.model == "m2")
    assert (bare.decisions, bare.failures, bare.cost) == (1, 1, D(0))
    assert bare.latency_p95_ms.value is None
    assert bare.latency_p95_ms.reason == "no decision recorded a latency"
    m1 = next(u for u in per_model if u.model == "m1")
    assert (m1.decisions, m1.bot_id) == (6, None)
    assert m1.latency_p95_ms.value == pytest.approx(875), "[100..500, 1000]: 0.95 × 5 = 4.75"


# --- runs, from rollups --------------------------------------------------------------------


@pytest.mark.django_db
def test_a_reset_ends_a_run_whose_figures_stay_readable(bot, market):
    snapshots_take(now=T0 + timedelta(hours=1), bot_ids=[bot.pk])
    position_open(bot=bot, symbol="BTCUSDT", side="LONG", margin=D("100"), leverage=2,
                  now=T0 + timedelta(hours=2))
    snapshots_take(now=T0 + timedelta(days=1, hours=1), bot_ids=[bot.pk])
    reset_at = T0 + timedelta(days=2)
    bot_reset(bot=bot, now=reset_at)
    snapshots_take(now=reset_at + timedelta(hours=1), bot_ids=[bot.pk])
    runs = runs_list(bot.pk, current=reset_at)
    assert [(r.start, r.ended_at, r.days) for r in runs] == [(RUN_FIRST, reset_at, 3), (reset_at, None, 1)]
    figures = runs_figures(bot.pk, runs)
    assert figures[RUN_FIRST].trades == 1 and figures[RUN_FIRST].sources.snapshots == 2
    assert figures[RUN_FIRST].fees_paid > 0
    assert figures[reset_at].trades == 0 and figures[reset_at].sources.snapshots == 1
    now = T0 + timedelta(days=40)
    old = {p.period.name: p for p in risk_periods(bot.pk, runs[0], now=now)}
    assert run_as_of(runs[0], now=now) == reset_at.date(), "an ended run's periods end when it did"
    assert old["all"].figures.trades == 1 and old["week"].figures.trades == 1
    assert old["day"].figures.trades == 1, "the reset's close is on the run's last day"
    assert old["day"].figures.sources.snapshots == 0
    current = {p.period.name: p for p in risk_periods(bot.pk, runs[1], now=now)}
    assert current["all"].figures.sources.snapshots == 1 and current["day"].figures.sources.snapshots == 0
