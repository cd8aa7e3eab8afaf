"""Daily rollups kept by the writers equal a recomputation from the history, after any
sequence of snapshots, fills, price moves, funding, deposits, decisions and resets (days
and runs crossed), on the real database; and a period read from them is the period's
snapshots and trades."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from arena.models import Turn, User
from arena.rollups import rollups_rebuild
from arena.turns.execute import ModelCall, decision_record_failure
from bots.services import bot_create, bot_reset, provider_create
from ledger import metrics
from ledger.models import Entry, Snapshot
from ledger.periods import Period, period_figures, period_inputs
from ledger.rollup_models import RUN_FIRST, BotDay
from ledger.rollups import FLOW_KINDS
from ledger.services import entry_post
from trading import perps
from trading.models import Market, Position
from trading.services import funding_apply, position_close, position_open, positions_mark
from trading.services.snapshots import snapshots_take

D = Decimal
SYMBOLS = {"BTCUSDT": D("60000"), "ETHUSDT": D("3000")}
START = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)  # near midnight: steps cross days
FIELDS = [f.name for f in BotDay._meta.fields if f.name not in ("id",)]


def rows(bot_id: int) -> list[tuple]:
    found = []
    for row in BotDay.objects.filter(bot_id=bot_id).order_by("run_start", "day").values(*FIELDS):
        found.append(tuple(round(v, 12) if isinstance(v, float) else v for v in row.values()))
    return found


def raw_figures(bot, run: datetime) -> dict:
    """The run's figures computed by ``ledger.metrics`` from its raw rows."""
    snaps = list(Snapshot.objects.filter(bot=bot, taken_at__gte=run).order_by("taken_at")
                 .values_list("taken_at", "total_value"))
    flows = list(Entry.objects.filter(account__bot=bot, kind__in=FLOW_KINDS)
                 .values_list("created_at", "amount"))
    points = [metrics.Point(at, float(value), float(sum(
        (a for t, a in flows if i and snaps[i - 1][0] < t <= at), D(0))))
        for i, (at, value) in enumerate(snaps)]
    closed = Position.objects.filter(bot=bot, status="closed", closed_at__gt=run)
    trades = [metrics.ClosedTrade(pnl=p.realized_pnl, fee=D(0), opened_at=p.opened_at, closed_at=p.closed_at,
                                  side=p.side, leverage=p.leverage, margin=p.margin) for p in closed]
    mean = metrics.series.MEAN
    return {
        "total_return": metrics.total_return(points), "max_drawdown": metrics.max_drawdown(points),
        "annual_return": metrics.annual_return(points, spacing=mean),
        "volatility": metrics.volatility(points, spacing=mean),
        "sharpe": metrics.sharpe(points, spacing=mean), "sortino": metrics.sortino(points, spacing=mean),
        "calmar": metrics.calmar(points, spacing=mean),
        "win_rate": metrics.win_rate(trades), "profit_factor": metrics.profit_factor(trades),
        "expectancy": metrics.expectancy(trades), "average_win": metrics.average_win(trades),
        "average_loss": metrics.average_loss(trades), "biggest_win": metrics.biggest_win(trades),
        "biggest_loss": metrics.biggest_loss(trades), "average_leverage": metrics.average_leverage(trades),
        "average_hold_seconds": metrics.average_hold_seconds(trades),
    }


class Rollups(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.atomic = transaction.atomic()  # each example in a savepoint that teardown rolls back
        self.atomic.__enter__()
        owner = User.objects.create_user(username="roll")
        provider = provider_create(owner=owner, name="s", kind="scripted", model="m")
        self.bot = bot_create(owner=owner, name="roll", prompt="p", provider=provider)
        self.prices = dict(SYMBOLS)
        for symbol, price in self.prices.items():
            Market.objects.create(symbol=symbol, last_price=price, mark_price=price)
        self.now = START

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    def tick(self, minutes: int = 47) -> datetime:
        self.now += timedelta(minutes=minutes)
        return self.now

    @rule(minutes=st.integers(min_value=1, max_value=900))
    def snapshot(self, minutes):
        snapshots_take(now=self.tick(minutes), bot_ids=[self.bot.pk])

    @rule(symbol=st.sampled_from(sorted(SYMBOLS)), side=st.sampled_from(["LONG", "SHORT"]),
          margin=st.decimals(min_value=50, max_value=3000, places=2), leverage=st.integers(1, 20))
    def open(self, symbol, side, margin, leverage):
        position_open(bot=self.bot, symbol=symbol, side=side, margin=margin, leverage=leverage,
                      now=self.tick())

    @precondition(lambda self: Position.objects.filter(status="open").exists())
    @rule(data=st.data())
    def close(self, data):
        ids = list(Position.objects.filter(status="open").order_by("id").values_list("id", flat=True))
        position_close(position=data.draw(st.sampled_from(ids)), reason="decision", now=self.tick())

    @rule(symbol=st.sampled_from(sorted(SYMBOLS)),
          change=st.decimals(min_value=D("-0.05"), max_value=D("0.05"), places=4))
    def move(self, symbol, change):
        self.prices[symbol] = (self.prices[symbol] * (1 + change)).quantize(D("0.01"))
        Market.objects.filter(symbol=symbol).update(last_price=self.prices[symbol],
                                                    mark_price=self.prices[symbol])
        positions_mark(prices={symbol: self.prices[symbol]}, now=self.tick())

    @rule(rate=st.decimals(min_value=D("-0.003"), max_value=D("0.003"), places=5))
    def funding(self, rate):
        now = self.tick()
        funding_apply(funding_time=perps.last_funding_time(now), rates=dict.fromkeys(SYMBOLS, rate),
                      marks=dict(self.prices), now=now)

    @rule(amount=st.decimals(min_value=-500, max_value=2000, places=2).filter(lambda a: a != 0))
    def deposit(self, amount):
        account = type(self.bot.account).objects.get(pk=self.bot.account.pk)
        if account.balance + amount >= 0:
            entry_post(account=account, kind=Entry.Kind.ADJUSTMENT, amount=amount, memo="admin",
                       created_at=self.tick())

    @rule(tokens=st.integers(0, 5000), cost=st.decimals(min_value=0, max_value=1, places=6))
    def decision(self, tokens, cost):
        turn = Turn.objects.create(started_at=self.tick(), forced=True)
        decision_record_failure(bot=self.bot, turn=turn, now=self.now, error="refused",
                                call=ModelCall(prompt="p", tokens_in=tokens, tokens_out=tokens // 10,
                                               latency_ms=tokens // 3, cost=cost))

    @rule()
    def reset(self):
        bot_reset(bot=self.bot, now=self.tick())
        self.bot.refresh_from_db()

    @invariant()
    def a_runs_figures_from_its_days_are_the_metrics_of_its_snapshots_and_trades(self):
        run = self.bot.stats_reset_at or RUN_FIRST
        figures = period_figures(list(BotDay.objects.filter(bot=self.bot, run_start=run).order_by("day")))
        summed = period_figures(period_inputs({self.bot.pk: run}, Period("all", None, date(2100, 1, 1)))[
            self.bot.pk])
        assert summed == figures, "the database's sums are the days' sums"
        expected = raw_figures(self.bot, run)
        for name, want in expected.items():
            got = getattr(figures, name)
            assert (got.value is None) == (want.value is None), (name, got, want)
            if want.value is None:
                assert got.reason == want.reason, (name, got, want)
            else:
                assert float(got.value) == pytest.approx(float(want.value), rel=1e-9, abs=1e-9), (
                    name, got, want)

    @invariant()
    def the_rollups_are_what_a_rebuild_computes(self):
        kept = rows(self.bot.pk)
        rollups_rebuild(bot_ids=[self.bot.pk])
        assert rows(self.bot.pk) == kept


@pytest.mark.django_db
def test_rollups_kept_by_the_writers_equal_a_rebuild_from_the_history():
    run_state_machine_as_test(Rollups, settings=settings(
        max_examples=15, stateful_step_count=20, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))


@pytest.mark.django_db
def test_a_reset_starts_a_new_run_and_the_old_runs_days_stay(user, provider):
    bot = bot_create(owner=user, name="r", prompt="p", provider=provider)
    for symbol, price in SYMBOLS.items():
        Market.objects.create(symbol=symbol, last_price=price, mark_price=price)
    snapshots_take(now=START, bot_ids=[bot.pk])
    position_open(bot=bot, symbol="BTCUSDT", side="LONG", margin=D("100"), leverage=2,
                  now=START + timedelta(minutes=5))
    snapshots_take(now=START + timedelta(minutes=10), bot_ids=[bot.pk])
    reset_at = START + timedelta(minutes=20)
    bot_reset(bot=bot, now=reset_at)
    snapshots_take(now=START + timedelta(minutes=30), bot_ids=[bot.pk])
    old, new = BotDay.objects.filter(bot=bot).order_by("run_start")
    assert (old.run_start, new.run_start) == (RUN_FIRST, reset_at)
    assert (old.snapshots, old.returns, old.closes) == (2, 1, 1), "the reset's close ends the old run"
    assert old.fees > 0 and old.index_end < 1.0, "the fee is a loss of the old run"
    assert (new.snapshots, new.returns, new.index_end, new.closes) == (1, 0, 1.0, 0), "a new baseline"
