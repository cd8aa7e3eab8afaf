"""Property-based: random opens, closes, price paths, funding and trigger checks keep
every ledger invariant after every step, on the real database. Orders go through the
broker path as a turn sends them (a decision's client order ids, the paper broker or a
venue that refuses), and retries of an order already recorded change nothing."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
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

from arena.models import User
from bots.models import Decision
from bots.services import bot_create, bot_reset, provider_create
from ledger.aggregates import MoneySum
from ledger.models import Entry
from trading import perps
from trading.brokers import REJECTED, Fill, Order
from trading.brokers.paper import PaperBroker
from trading.models import Market, Position, Trade
from trading.services import funding_apply, position_close, position_open, positions_mark, triggers_check

D = Decimal
SYMBOLS = {"BTCUSDT": D("60000"), "ETHUSDT": D("3000"), "DOGEUSDT": D("0.15")}
START = datetime(2026, 3, 1, 0, 30, tzinfo=UTC)


def total(queryset, field: str = "amount") -> Decimal:
    return queryset.aggregate(s=MoneySum(field))["s"] or D("0")


class Refusing(PaperBroker):
    """A venue that refuses every order: nothing may be recorded."""

    def place(self, order: Order) -> Fill:
        return Fill(order.client_order_id, REJECTED, reason="insufficient margin at the venue")


def book() -> tuple[int, int, int, Decimal]:
    return (Position.objects.count(), Trade.objects.count(), Entry.objects.count(),
            total(Entry.objects.all()))


class Engine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # Each example runs in a savepoint that teardown rolls back.
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        owner = User.objects.create_user(username="prop")
        provider = provider_create(owner=owner, name="s", kind="scripted", model="m")
        self.bot = bot_create(owner=owner, name="prop", prompt="p", provider=provider)
        self.prices = dict(SYMBOLS)
        for symbol, price in self.prices.items():
            Market.objects.create(symbol=symbol, last_price=price, mark_price=price)
        self.now = START
        self.last = None  # the last order sent with a decision: (open or close, its arguments)

    def decision(self) -> Decision:
        return Decision.objects.create(bot=self.bot, created_at=self.now, prompt="p", raw_response="r",
                                       actions=[], notes=[], success=True)

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    def tick(self) -> datetime:
        self.now += timedelta(minutes=37)
        return self.now

    @rule(
        symbol=st.sampled_from(sorted(SYMBOLS)),
        side=st.sampled_from(["LONG", "SHORT"]),
        margin=st.decimals(min_value=10, max_value=6000, places=2),
        leverage=st.integers(min_value=1, max_value=150),
        stop=st.none() | st.decimals(min_value=D("0.005"), max_value=D("0.2"), places=3),
        take=st.none() | st.decimals(min_value=D("0.005"), max_value=D("0.3"), places=3),
        refused=st.booleans(),
        index=st.integers(min_value=1, max_value=3),
    )
    def open(self, symbol, side, margin, leverage, stop, take, refused, index):
        price = self.prices[symbol]
        sign = 1 if side == "LONG" else -1
        asked = {
            "bot": self.bot, "symbol": symbol, "side": side, "margin": margin, "leverage": leverage,
            "stop_loss": None if stop is None else price * (1 - sign * stop),
            "take_profit": None if take is None else price * (1 + sign * take),
            "now": self.tick(), "decision": self.decision(), "action_index": index,
        }
        if refused:
            before = book()
            result = position_open(**asked, broker=Refusing(slippage_bps=D("5"), taker_fee_rate=D("0.0005")))
            assert result.position is None and book() == before, "a refused order records nothing"
            return
        if position_open(**asked).position is not None:
            self.last = (position_open, asked)

    @precondition(lambda self: Position.objects.filter(status="open").exists())
    @rule(data=st.data())
    def close(self, data):
        ids = list(Position.objects.filter(status="open").order_by("id").values_list("id", flat=True))
        asked = {"position": data.draw(st.sampled_from(ids)), "reason": "decision", "now": self.tick(),
                 "decision": self.decision(), "action_index": data.draw(st.integers(1, 3))}
        if position_close(**asked).closed:
            self.last = (position_close, asked)

    @precondition(lambda self: self.last is not None)
    @rule()
    def retry(self):
        """The same order again (a redelivered task, a retry after a timeout): recorded once."""
        service, asked = self.last
        before = book()
        result = service(**asked)
        assert result.notes[-1].endswith("was already recorded"), result.notes
        assert book() == before

    @rule(symbol=st.sampled_from(sorted(SYMBOLS)), change=st.decimals(min_value=D("-0.3"), max_value=D("0.3"),
                                                                       places=4))
    def move(self, symbol, change):
        previous = self.prices[symbol]
        current = (previous * (1 + change)).quantize(D("0.00001"))
        self.prices[symbol] = current
        Market.objects.filter(symbol=symbol).update(last_price=current, mark_price=current)
        now = self.tick()
        triggers_check(ranges={symbol: perps.Bar.move(previous, current)}, now=now)
        positions_mark(prices={symbol: current}, now=now)

    @rule(rate=st.decimals(min_value=D("-0.003"), max_value=D("0.003"), places=5))
    def funding(self, rate):
        funding_time = perps.last_funding_time(self.tick())
        funding_apply(funding_time=funding_time, rates=dict.fromkeys(SYMBOLS, rate), marks=dict(self.prices))

    @rule()
    def reset(self):
        bot_reset(bot=self.bot, now=self.tick())

    @invariant()
    def balance_is_the_sum_of_entries_and_never_negative(self):
        account = type(self.bot.account).objects.get(pk=self.bot.account.pk)
        assert account.balance == total(account.entries.all())
        assert account.balance >= 0

    @invariant()
    def money_is_conserved(self):
        """Cash + locked margin = deposits + realized PnL − opening fees + funding + adjustments."""
        entries = Entry.objects.filter(account__bot=self.bot)
        balance = type(self.bot.account).objects.get(pk=self.bot.account.pk).balance
        held = total(Position.objects.filter(status="open"), "margin")
        realized = total(Position.objects.filter(status="closed"), "realized_pnl")
        opening_fees = total(Trade.objects.filter(kind="OPEN"), "fee")
        funding = total(entries.filter(kind="funding"))
        adjustments = total(entries.filter(kind__in=["deposit", "adjustment"]))
        assert balance + held == adjustments + realized - opening_fees + funding

    @invariant()
    def total_value_is_cash_plus_margin_plus_unrealized(self):
        opened = list(Position.objects.filter(status="open"))
        for position in opened:
            if position.mark_price is not None:
                expected = perps.unrealized_pnl(position.side, position.entry_price, position.mark_price,
                                                position.quantity)
                assert abs(position.unrealized_pnl - expected) <= D("0.00000001")

    @invariant()
    def fees_and_realized_pnl_match_the_trades(self):
        entries = Entry.objects.filter(account__bot=self.bot)
        assert -total(entries.filter(kind="fee")) == total(Trade.objects.all(), "fee")
        closing = dict(Trade.objects.filter(kind="CLOSE").values_list("position_id", "pnl"))
        realized = dict(Position.objects.filter(status="closed").values_list("id", "realized_pnl"))
        assert closing == realized

    @invariant()
    def every_position_has_exactly_its_trades_and_margin(self):
        trades: dict[int, list[str]] = {}
        for position_id, kind in Trade.objects.order_by("kind").values_list("position_id", "kind"):
            trades.setdefault(position_id, []).append(kind)
        locked = dict(
            Entry.objects.filter(kind__in=["margin_lock", "margin_release"])
            .values("position_id").annotate(s=MoneySum("amount")).values_list("position_id", "s")
        )
        for position_id, status, margin in Position.objects.values_list("id", "status", "margin"):
            assert trades[position_id] == (["OPEN"] if status == "open" else ["CLOSE", "OPEN"])
            assert -locked[position_id] == (margin if status == "open" else 0)


@pytest.mark.django_db
def test_engine_invariants_hold_under_random_operations():
    run_state_machine_as_test(
        Engine,
        settings=settings(
            max_examples=20, stateful_step_count=25, deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
