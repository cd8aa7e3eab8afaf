"""``manage.py simulate``: the pure schedule (``arena.simulate``) and the command on the demo arena.

Runs are a few simulated hours at most. Their start is a fixed hour of the day before
yesterday (UTC): always in the past, and always the same hour of day, so every run of
the suite schedules the same events (the 16:00 UTC funding, the hour boundaries).
"""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Max, Q
from django.utils import timezone

from arena import simulate
from arena.models import BotTurn, Turn
from arena.simulate import Clock, Plan, PlanError, Step
from bots.models import Bot, Decision, LLMProvider
from bots.services import bot_create
from ledger.models import Account, Entry, Event, Snapshot
from trading.feeds.simulated import SimulatedFeed
from trading.models import Candle, Market, Position, Trade

UTC_NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
PROGRESS = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC  ", re.MULTILINE)


def past(hour: int, minute: int = 0) -> datetime:
    """``hour:minute`` UTC on the day before yesterday."""
    today = timezone.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=2, hours=-hour, minutes=-minute)


def run(*args: str) -> str:
    out = StringIO()
    call_command("simulate", *args, stdout=out)
    return out.getvalue()


def demo() -> dict[str, Bot]:
    call_command("seed_demo", stdout=StringIO())
    return {bot.name: bot for bot in Bot.objects.order_by("id")}


def plan(start: datetime, end: datetime, *, refresh: int = 60, turn: int = 300, snapshot: int = 600) -> Plan:
    return Plan(start=start, end=end, refresh=timedelta(seconds=refresh), turn=timedelta(seconds=turn),
                snapshot=timedelta(seconds=snapshot))


# --- the schedule ---------------------------------------------------------------------


def test_instants_are_multiples_of_the_interval_from_the_start_up_to_but_not_including_the_end():
    every = timedelta(minutes=5)
    assert simulate.instants(UTC_NOON, UTC_NOON + 3 * every, every) == [UTC_NOON, UTC_NOON + every,
                                                                       UTC_NOON + 2 * every]
    # An unaligned start waits for the next multiple, as the live schedule's slots do.
    off = UTC_NOON + timedelta(seconds=7)
    assert simulate.instants(off, UTC_NOON + 11 * MINUTE, every) == [UTC_NOON + every, UTC_NOON + 2 * every]
    assert simulate.instants(off, UTC_NOON + every, every) == []


def test_steps_refresh_at_every_instant_and_put_turns_snapshots_funding_and_hours_on_their_grids():
    start = datetime(2026, 3, 2, 15, 50, tzinfo=UTC)
    result = list(simulate.steps(plan(start, start + 20 * MINUTE)))
    assert [s.at for s in result] == [start + i * MINUTE for i in range(20)]
    assert [s.at.strftime("%H:%M") for s in result if s.turn] == ["15:50", "15:55", "16:00", "16:05"]
    assert [s.at.strftime("%H:%M") for s in result if s.snapshot] == ["15:50", "16:00"]
    assert [s.at.strftime("%H:%M") for s in result if s.funding] == ["16:00"]  # 00:00, 08:00, 16:00 UTC
    assert [s.at.strftime("%H:%M") for s in result if s.hour] == ["15:50", "16:00"]
    assert result[10] == Step(at=start + 10 * MINUTE, funding=True, turn=True, snapshot=True, hour=True)


def test_a_turn_between_coarse_refreshes_gets_a_step_of_its_own():
    steps = list(simulate.steps(plan(UTC_NOON, UTC_NOON + 20 * MINUTE, refresh=600, turn=300, snapshot=3600)))
    assert [(s.at - UTC_NOON, s.turn) for s in steps] == [
        (timedelta(0), True), (5 * MINUTE, True), (10 * MINUTE, True), (15 * MINUTE, True)]
    assert [s.snapshot for s in steps] == [True, False, False, False]


def test_two_runs_that_meet_schedule_every_event_exactly_once():
    middle, end = UTC_NOON + 37 * MINUTE, UTC_NOON + 90 * MINUTE
    whole = [s.at for s in simulate.steps(plan(UTC_NOON, end))]
    halves = [s.at for s in simulate.steps(plan(UTC_NOON, middle))] + \
             [s.at for s in simulate.steps(plan(middle, end))]
    assert halves == whole


def test_plan_defaults_to_ending_now_and_refuses_the_future():
    now = datetime(2026, 3, 2, 12, 0, 30, tzinfo=UTC)
    made = simulate.plan_build(now=now, span=timedelta(days=1), refresh_seconds=60, turn_seconds=300,
                               snapshot_seconds=600)
    assert (made.start, made.end, made.span) == (now - timedelta(days=1), now, timedelta(days=1))
    assert (made.refresh, made.turn, made.snapshot) == (MINUTE, 5 * MINUTE, 10 * MINUTE)

    def build(**changes):
        args = {"now": now, "span": timedelta(hours=1), "refresh_seconds": 60, "turn_seconds": 300,
                "snapshot_seconds": 600} | changes
        return simulate.plan_build(**args)

    with pytest.raises(PlanError, match="in the future"):
        build(start=now + MINUTE)
    with pytest.raises(PlanError, match="would end at 2026-03-02 12:30:30 UTC, in the future"):
        build(start=now - timedelta(minutes=30))
    assert build(start=now - timedelta(hours=1)).end == now  # ending exactly now is fine
    with pytest.raises(PlanError, match="positive time"):
        build(span=timedelta(0))
    for name in ("refresh_seconds", "turn_seconds", "snapshot_seconds"):
        with pytest.raises(PlanError, match="must be positive"):
            build(**{name: 0})
    with pytest.raises(PlanError, match="timezone-aware"):
        build(start=datetime(2026, 3, 1, 12, 0))


def test_the_span_comes_from_days_or_hours():
    assert simulate.span_of(days=0.5) == timedelta(hours=12)
    assert simulate.span_of(hours=1.5) == timedelta(minutes=90)
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(PlanError, match="--days must be a positive number"):
            simulate.span_of(days=bad)
    with pytest.raises(PlanError, match="--hours must be a positive number"):
        simulate.span_of(hours=0)
    with pytest.raises(PlanError, match="as --days or as --hours"):
        simulate.span_of(days=1, hours=1)
    with pytest.raises(PlanError, match="as --days or as --hours"):
        simulate.span_of()


def test_start_and_bot_ids_are_parsed_strictly():
    assert simulate.parse_instant("2026-03-02T13:00:00Z") == datetime(2026, 3, 2, 13, tzinfo=UTC)
    assert simulate.parse_instant("2026-03-02T15:00+02:00") == datetime(2026, 3, 2, 13, tzinfo=UTC)
    assert simulate.parse_instant("2026-03-02 13:00") == datetime(2026, 3, 2, 13, tzinfo=UTC)
    with pytest.raises(PlanError, match="not an ISO 8601 time"):
        simulate.parse_instant("yesterday")
    assert simulate.parse_ids("3, 5,3") == [3, 5]
    for bad in ("", "3,,5", "x", "0", "-2", "1.5"):
        with pytest.raises(PlanError, match="--bots takes bot ids"):
            simulate.parse_ids(bad)


def test_turn_slots_and_whether_simulated_turns_keep_one_slot_each():
    made = plan(UTC_NOON, UTC_NOON + 15 * MINUTE)
    first = int(UTC_NOON.timestamp()) // 300
    assert simulate.turn_slots(made, 300) == (first, first + 2)  # 12:00, 12:05, 12:10; not 12:15
    assert simulate.turns_keep_slots(timedelta(minutes=10), 300)
    assert simulate.turns_keep_slots(timedelta(minutes=5), 300)
    assert not simulate.turns_keep_slots(timedelta(minutes=1), 300)  # five turns per slot
    assert not simulate.turns_keep_slots(timedelta(minutes=7), 300)


def test_the_clock_reads_what_the_run_set():
    clock = Clock(UTC_NOON)
    feed = SimulatedFeed(seed="clock", clock=clock)
    clock.now = UTC_NOON + timedelta(hours=5)
    ticker = feed.tickers(["BTCUSDT"])["BTCUSDT"]
    assert ticker.last_price == feed.price_at("BTCUSDT", UTC_NOON + timedelta(hours=5))


# --- the command ------------------------------------------------------------------------


def rows_outside(start: datetime, end: datetime, marks: dict[type, int]) -> dict[str, int]:
    """History rows (new since ``marks``) dated outside ``[start, end)``."""
    dated = {
        Turn: ["started_at", "finished_at", "heartbeat_at"], BotTurn: ["started_at", "finished_at"],
        Decision: ["created_at"], Trade: ["executed_at"], Position: ["opened_at", "closed_at", "marked_at"],
        Snapshot: ["taken_at"], Entry: ["created_at"], Event: ["created_at"], Candle: ["fetched_at"],
        Market: ["updated_at"],
    }
    found = {}
    for model, fields in dated.items():
        rows = model.objects.filter(pk__gt=marks.get(model, 0))
        for name in fields:
            outside = Q(**{f"{name}__lt": start}) | Q(**{f"{name}__gte": end})
            count = rows.filter(outside).count()
            if count:
                found[f"{model.__name__}.{name}"] = count
    return found


def top_ids() -> dict[type, int]:
    return {model: model.objects.aggregate(top=Max("pk"))["top"] or 0 for model in (Entry, Event)}


@pytest.mark.django_db
def test_two_simulated_hours_of_the_demo_arena(settings):
    bots = demo()
    start = past(13)
    end = start + timedelta(hours=2)
    marks = top_ids()  # the demo's deposits and bot events were written now, not simulated
    out = run("--hours", "2", "--start", start.isoformat())

    turns = list(Turn.objects.order_by("started_at"))
    assert [t.started_at for t in turns] == [start + 5 * i * MINUTE for i in range(24)]
    assert all(t.status == "finished" and not t.forced for t in turns)
    assert [t.slot for t in turns] == [int(t.started_at.timestamp()) // 300 for t in turns]
    assert BotTurn.objects.filter(status="finished").count() == 24 * len(bots)
    taken = sorted(set(Snapshot.objects.values_list("taken_at", flat=True)))
    assert taken == [start + 10 * i * MINUTE for i in range(12)]
    assert Snapshot.objects.count() == 12 * len(bots)
    for bot in bots.values():
        assert Decision.objects.filter(bot=bot, success=True).count() == 24, bot.name
        assert not Decision.objects.filter(bot=bot, success=False).exists()

    trades = Trade.objects.all()
    assert trades.filter(kind="OPEN").exists() and trades.filter(kind="CLOSE").exists()
    assert not trades.filter(Q(executed_at__lt=start) | Q(executed_at__gte=end)).exists()
    assert rows_outside(start, end, marks) == {}

    # The feed ran on the simulated clock: the last refresh (one minute before the end)
    # stored exactly the seed's prices of that instant.
    last = end - MINUTE
    feed = SimulatedFeed(seed=str(settings.ARENA_SIM_SEED), speed=settings.ARENA_SIM_SPEED)
    for market in Market.objects.all():
        assert market.updated_at == last
        assert market.last_price == feed.price_at(market.symbol, last), market.symbol

    hours = (start, start + timedelta(hours=1))
    assert PROGRESS.findall(out) == [f"{at:%Y-%m-%d %H:%M} UTC  " for at in hours]  # a line an hour
    assert "turns: 24; decisions: 96 (0 failed)" in out
    assert f"trades: {trades.count()}; positions opened: {Position.objects.count()}, " \
           f"closed: {Position.objects.filter(status='closed').count()} " \
           f"({Position.objects.exclude(close_reason__in=['', 'decision']).count()} by stop-loss" in out
    assert "snapshots: 48" in out
    for bot in bots.values():
        account = Account.objects.get(bot=bot)
        held = Position.objects.filter(bot=bot, status="open")
        value = account.balance + sum((p.margin + p.unrealized_pnl for p in held), Decimal(0))
        assert f"{bot.name} (bot {bot.pk}): {value:.2f} USDT" in out


def fingerprint() -> dict[str, list]:
    return {
        "trades": list(Trade.objects.order_by("id").values_list(
            "bot__name", "kind", "symbol", "side", "price", "quantity", "fee", "executed_at")),
        "prices": list(Market.objects.order_by("symbol").values_list("symbol", "last_price", "mark_price")),
        "snapshots": list(Snapshot.objects.order_by("id").values_list(
            "bot__name", "taken_at", "total_value")),
    }


def fresh_run(start: datetime, seed: str, hours: str = "1") -> dict[str, list]:
    # A fresh database each time (flush resets the id sequences too): the scripted
    # random walk is seeded by bot and turn ids.
    call_command("flush", interactive=False, verbosity=0)
    demo()
    run("--hours", hours, "--start", start.isoformat(), "--seed", seed)
    return fingerprint()


@pytest.mark.django_db(transaction=True)
def test_the_same_seed_gives_the_same_prices_and_trades(settings):
    start = past(9)
    first = fresh_run(start, "replay")
    assert first["trades"] and first["prices"] and first["snapshots"]
    assert fresh_run(start, "replay") == first

    live_seed = settings.ARENA_SIM_SEED
    other = fresh_run(start, "another market", hours="0.5")
    assert settings.ARENA_SIM_SEED == live_seed, "the seed is the run's, not the arena's"
    assert other["prices"] != first["prices"]
    # The bots' candles came from the run's market too (a closed candle closes at the
    # path's price at its end).
    feed = SimulatedFeed(seed="another market", speed=settings.ARENA_SIM_SPEED)
    closed = Candle.objects.filter(interval="1h", open_time__lt=start - timedelta(hours=1))[:20]
    assert len(closed) == 20
    assert all(c.close == feed.price_at(c.symbol, c.open_time + timedelta(hours=1)) for c in closed)


@pytest.mark.django_db
def test_a_bot_with_a_network_provider_is_refused(user, openai_provider):
    demo()
    bot_create(owner=user, name="Vendor Vic", prompt="Trade", provider=openai_provider)
    with pytest.raises(CommandError, match=r"scripted provider.*Vendor Vic \(bot \d+, openai provider"):
        run("--hours", "1", "--start", past(9).isoformat())
    assert not Turn.objects.exists() and not Market.objects.exists(), "nothing ran"


@pytest.mark.django_db
def test_named_bots_only_and_never_a_real_money_one(user, openai_provider):
    bots = demo()
    vendor = bot_create(owner=user, name="Vendor Vic", prompt="Trade", provider=openai_provider)
    Bot.objects.filter(pk=bots["Random Randy"].pk).update(mode="real")
    mike, randy = bots["Momentum Mike"], bots["Random Randy"]
    start = past(9)
    out = run("--hours", "0.5", "--start", start.isoformat(), "--bots", f"{mike.pk},{randy.pk}")

    assert f"skipping Random Randy (bot {randy.pk}): real-money bots are never simulated" in out
    assert set(BotTurn.objects.values_list("bot_id", flat=True)) == {mike.pk}
    assert Decision.objects.filter(bot=mike).count() == 6
    assert not Decision.objects.exclude(bot=mike).exists()
    assert not Trade.objects.exclude(bot=mike).exists()
    assert set(Snapshot.objects.values_list("bot_id", flat=True)) == {mike.pk}
    # Turns that name their bots are forced ones: no slot for the other bots' schedule to meet.
    assert list(Turn.objects.values_list("forced", "slot").distinct()) == [(True, None)]
    assert not BotTurn.objects.filter(bot=vendor).exists()


def a_demo_bot() -> int:
    """A bot that exists (ids are not reused across tests on PostgreSQL)."""
    return Bot.objects.order_by("pk").values_list("pk", flat=True).first()


def future() -> str:
    return (timezone.now() + timedelta(hours=1)).isoformat()


def an_hour_ago() -> str:
    return (timezone.now() - timedelta(hours=1)).isoformat()


@pytest.mark.django_db
@pytest.mark.parametrize(("args", "message"), [
    (lambda: ["--days", "0"], "--days must be a positive number, not 0"),
    (lambda: ["--days", "-1"], "--days must be a positive number, not -1"),
    (lambda: ["--days", "nan"], "--days must be a positive number, not nan"),
    (lambda: ["--hours", "0"], "--hours must be a positive number"),
    (lambda: [], "one of the arguments --days --hours is required"),
    (lambda: ["--days", "1", "--hours", "1"], "not allowed with argument"),
    (lambda: ["--hours", "1", "--start", future()], "is in the future"),
    (lambda: ["--hours", "2", "--start", an_hour_ago()], "in the future"),
    (lambda: ["--hours", "1", "--start", "last tuesday"], "not an ISO 8601 time"),
    (lambda: ["--hours", "1", "--start", past(9).isoformat(), "--bots", f"999999,{a_demo_bot()}"],
     "no active bot with id 999999"),
    (lambda: ["--hours", "1", "--bots", "1,x"], "--bots takes bot ids"),
    (lambda: ["--hours", "1", "--refresh-seconds", "0"], "--refresh-seconds must be positive"),
    (lambda: ["--hours", "1", "--turn-minutes", "0"], "turn interval"),
    (lambda: ["--hours", "1", "--snapshot-minutes", "-5"], "snapshot interval"),
])
def test_bad_arguments_are_refused_with_the_reason(args, message):
    demo()
    with pytest.raises(CommandError, match=re.escape(message)):
        run(*args())
    assert not Turn.objects.exists() and not Market.objects.exists()


@pytest.mark.django_db
def test_no_bot_to_simulate_is_refused():
    with pytest.raises(CommandError, match="no paper bot with a scripted provider"):
        run("--hours", "1", "--start", past(9).isoformat())


@pytest.mark.django_db
def test_history_is_never_interleaved_unless_forced():
    bots = demo()
    start = past(9)
    run("--hours", "0.5", "--start", start.isoformat())
    # The next run may start where this one ended: its span is the next half hour.
    run("--hours", "0.5", "--start", (start + timedelta(minutes=30)).isoformat())
    assert Turn.objects.count() == 12
    before = (Turn.objects.count(), Snapshot.objects.count(), Trade.objects.count())

    overlapping = (start + timedelta(minutes=50)).isoformat()
    refused = r"already history at or after --start .*\d+ snapshots, \d+ bot turns, \d+ decisions"
    with pytest.raises(CommandError, match=refused):
        run("--hours", "0.5", "--start", overlapping)
    assert (Turn.objects.count(), Snapshot.objects.count(), Trade.objects.count()) == before

    # A bot without history is refused too while others' positions opened after the start
    # are open: its refreshes would close them before they were opened.
    scripted = LLMProvider.objects.get(name="Scripted momentum")
    newcomer = bot_create(owner=scripted.owner, name="Newcomer", prompt="Trade", provider=scripted)
    assert Position.objects.filter(status="open", opened_at__gte=start).exists()
    with pytest.raises(CommandError, match=r"\d+ open positions opened since"):
        run("--hours", "0.5", "--start", overlapping, "--bots", str(newcomer.pk))

    out = run("--hours", "0.5", "--start", overlapping, "--force")
    assert "turns: 6; decisions: 30 (0 failed)" in out  # the demo's four bots and the newcomer
    # The first three instants' slots were taken by the earlier run: forced turns instead.
    assert Turn.objects.filter(forced=True).count() == 6
    assert Snapshot.objects.count() == before[1] + 3 * (len(bots) + 1)


@pytest.mark.django_db
def test_funding_is_applied_at_the_funding_time_and_dated_then():
    demo()
    start = past(15, 50)
    marks = top_ids()
    out = run("--hours", "0.5", "--start", start.isoformat())
    funding = Entry.objects.filter(kind="funding")
    assert funding.exists(), "positions open at 16:00 UTC pay or receive funding"
    assert set(funding.values_list("funding_time", "created_at")) == {(past(16), past(16))}
    assert Event.objects.filter(type="funding_applied").count() == funding.count()
    assert f"funding payments: {funding.count()}" in out
    assert rows_outside(start, start + timedelta(minutes=30), marks) == {}
