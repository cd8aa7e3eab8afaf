"""The broker seam: the paper broker's fills, derived client order ids, fills recorded once per
id (also from two processes at once), and whatever a broker says is what the engine records."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone

from bots.models import Decision
from ledger.models import Account, Entry
from trading.brokers import (
    BUY,
    FILLED,
    REJECTED,
    SELL,
    UNKNOWN,
    Fill,
    Order,
    OrderIdError,
    Protection,
    order_id_check,
    order_id_for_close,
    order_id_for_decision,
    protection_order_id,
)
from trading.brokers.paper import PaperBroker
from trading.models import Position, Trade
from trading.selectors import risk_settings
from trading.services import PositionError, broker_for, position_close, position_open

D = Decimal
ROOT = Path(__file__).resolve().parents[2]


def order(side: str = BUY, price: str = "100", quantity: str = "2", tick: str | None = "0.01") -> Order:
    return Order(client_order_id="arena-d1-1", symbol="SOLUSDT", side=side, quantity=D(quantity),
                 price=D(price), tick_size=D(tick) if tick else None)


def test_the_paper_broker_fills_against_the_trader_at_the_tick_with_the_taker_fee():
    broker = PaperBroker(slippage_bps=D("10"), taker_fee_rate=D("0.0005"))
    buy, sell = broker.place(order(BUY, "100.004")), broker.place(order(SELL, "100.004"))
    assert (buy.status, buy.price, buy.quantity) == (FILLED, D("100.11"), D("2"))  # 100.104 up
    assert (sell.status, sell.price) == (FILLED, D("99.90"))  # 99.903996 down
    assert buy.fee == D("100.11") * 2 * D("0.0005") and buy.filled
    assert broker.lookup("arena-d1-1") is None, "no venue holds paper orders"


def test_the_paper_broker_rejects_a_sell_that_rounds_to_nothing():
    fill = PaperBroker(slippage_bps=D("10"), taker_fee_rate=D("0.0005")).place(
        order(SELL, "0.004", tick="0.01"))
    assert fill.status == REJECTED and not fill.filled and "rounds to" in fill.reason


def test_client_order_ids_are_derived_and_fit_binance_rules(settings):
    assert order_id_for_decision(decision_id=123456789, index=3) == "arena-d123456789-3"
    assert order_id_for_close(position_id=42, reason="stop_loss") == "arena-p42-sl"
    assert order_id_for_close(position_id=42, reason="liquidation") == "arena-p42-liq"
    settings.ARENA_ORDER_PREFIX = "zz9"
    longest = order_id_for_decision(decision_id=10**18, index=99)
    assert longest.startswith("zz9-d") and len(longest) <= 36
    for bad in ("", "x" * 37, "has space", "semi;colon", "ünï"):
        with pytest.raises(OrderIdError):
            order_id_check(bad)
    with pytest.raises(ValueError, match="neither BUY nor SELL"):
        Order(client_order_id="a", symbol="X", side="LONG", quantity=D(1), price=D(1))


def a_decision(bot) -> Decision:
    return Decision.objects.create(bot=bot, created_at=timezone.now(), prompt="p", raw_response="r",
                                   actions=[], notes=[], success=True)


def book(bot) -> tuple[int, int, int, Decimal]:
    account = Account.objects.get(bot=bot)
    return (Position.objects.filter(bot=bot).count(), Trade.objects.filter(bot=bot).count(),
            Entry.objects.filter(account=account).count(), account.balance)


@pytest.mark.django_db
def test_the_same_order_is_recorded_once_however_often_it_is_asked_for(bot, markets):
    decision = a_decision(bot)
    first = position_open(bot=bot, symbol="ETHUSDT", side="LONG", margin=D("100"), leverage=5,
                          decision=decision, action_index=1)
    after_open = book(bot)
    again = position_open(bot=bot, symbol="ETHUSDT", side="LONG", margin=D("100"), leverage=5,
                          decision=decision, action_index=1)

    assert again.position.pk == first.position.pk
    assert again.notes == [f"order arena-d{decision.pk}-1 was already recorded"]
    assert book(bot) == after_open, "one position, one trade, one set of entries"
    trade = Trade.objects.get(position=first.position, kind="OPEN")
    assert trade.client_order_id == f"arena-d{decision.pk}-1"

    closing = a_decision(bot)
    closed = position_close(position=first.position.pk, reason="decision", decision=closing, action_index=2)
    after_close = book(bot)
    repeat = position_close(position=first.position.pk, reason="decision", decision=closing, action_index=2)
    assert repeat.trade.pk == closed.trade.pk and book(bot) == after_close
    assert closed.trade.client_order_id == f"arena-d{closing.pk}-2"


@pytest.mark.django_db
def test_a_trigger_close_gets_an_id_from_the_position_and_its_reason(bot, markets):
    position = position_open(bot=bot, symbol="ETHUSDT", side="LONG", margin=D("100"), leverage=5,
                             stop_loss=D("2900")).position
    result = position_close(position=position.pk, reason="stop_loss", price=D("2900"))
    assert result.trade.client_order_id == f"arena-p{position.pk}-sl"
    assert Trade.objects.get(position=position, kind="OPEN").client_order_id.startswith("arena-m")


@dataclass
class Venue:
    """A broker that answers as told, and remembers what it was sent."""

    answer: str = FILLED
    price: Decimal = D("3010.5")
    sent: list[Order] = field(default_factory=list)
    cancelled: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    name: str = "venue"

    def place(self, order: Order) -> Fill:
        self.sent.append(order)
        if self.answer != FILLED:
            return Fill(order.client_order_id, self.answer, reason="the venue said so")
        return Fill(order.client_order_id, FILLED, price=self.price, quantity=order.quantity, fee=D("0.75"),
                    exchange_order_id=str(8389764 + len(self.sent)), trade_ids=("1", "2"))

    def lookup(self, client_order_id: str, symbol: str = "") -> Fill | None:
        return None

    def protect(self, *, entry: Order, stop_loss, take_profit) -> tuple[Protection, ...]:
        levels = (("stop_loss", stop_loss), ("take_profit", take_profit))
        return tuple(Protection(kind, level, protection_order_id(entry.client_order_id, kind), f"{kind}-{n}")
                     for n, (kind, level) in enumerate(levels) if level is not None)

    def unprotect(self, *, symbol: str, exchange_order_ids: tuple[str, ...]) -> None:
        self.cancelled.append((symbol, exchange_order_ids))


@pytest.mark.django_db
def test_the_engine_records_what_the_broker_filled(bot, markets):
    venue = Venue()
    result = position_open(bot=bot, symbol="ETHUSDT", side="LONG", margin=D("100"), leverage=5,
                           stop_loss=D("2900"), take_profit=D("3300"), broker=venue)

    [sent] = venue.sent
    assert (sent.side, sent.symbol, sent.reduce_only, sent.price) == (BUY, "ETHUSDT", False, D("3000"))
    trade = Trade.objects.get(position=result.position)
    assert (trade.price, trade.fee, trade.exchange_order_id) == (D("3010.5"), D("0.75"), "8389765")
    assert result.position.entry_price == D("3010.5")
    assert result.position.liquidation_price < D("3010.5"), "from the venue's price, not the plan's"

    venue.price = D("3100")
    closed = position_close(position=result.position.pk, reason="manual", broker=venue)
    assert venue.sent[-1].side == SELL and venue.sent[-1].reduce_only
    assert venue.sent[-1].client_order_id == f"arena-p{result.position.pk}-man"
    assert closed.trade.price == D("3100") and closed.trade.exchange_order_id == "8389766"
    position = Position.objects.get(pk=result.position.pk)
    assert (position.stop_loss_order_id, position.take_profit_order_id) == ("stop_loss-0", "take_profit-1")
    assert venue.cancelled == [("ETHUSDT", ("stop_loss-0", "take_profit-1"))], "no orphaned protection"


def test_protection_orders_get_ids_beside_their_entry_and_paper_needs_none():
    assert protection_order_id("arena-d7-1", "stop_loss") == "arena-d7-1:sl"
    assert protection_order_id("arena-d7-1", "take_profit") == "arena-d7-1:tp"
    paper = PaperBroker(slippage_bps=D("1"), taker_fee_rate=D("0.0005"))
    assert paper.protect(entry=order(), stop_loss=D("90"), take_profit=D("120")) == ()
    with pytest.raises(ValueError, match="no venue orders"):
        paper.unprotect(symbol="SOLUSDT", exchange_order_ids=("1",))


@pytest.mark.django_db
@pytest.mark.parametrize("answer", [REJECTED, UNKNOWN])
def test_an_order_not_filled_writes_nothing_and_says_why(bot, markets, answer):
    before = book(bot)
    result = position_open(bot=bot, symbol="ETHUSDT", side="LONG", margin=D("100"), leverage=5,
                           broker=Venue(answer=answer))
    assert result.position is None
    assert result.notes[-1] == f"ETHUSDT: the order was {answer}: the venue said so"
    assert book(bot) == before


@pytest.mark.django_db
def test_an_order_id_a_close_used_is_refused_for_an_open(bot, markets):
    position = position_open(bot=bot, symbol="ETHUSDT", side="LONG", margin=D("100"), leverage=5).position
    decision = a_decision(bot)
    position_close(position=position.pk, reason="decision", decision=decision, action_index=1)
    before = book(bot)
    with pytest.raises(PositionError, match=r"already recorded as a CLOSE trade, not a OPEN"):
        position_open(bot=bot, symbol="SOLUSDT", side="LONG", margin=D("100"), leverage=5,
                      decision=decision, action_index=1)
    assert book(bot) == before


@dataclass
class Racer(Venue):
    """A venue during whose fill another worker records the very same order."""

    record: Callable[[], None] = lambda: None

    def place(self, order: Order) -> Fill:
        fill = super().place(order)
        self.record()
        return fill


@pytest.mark.django_db
def test_an_order_another_worker_recorded_while_it_was_placed_is_recorded_once(bot, markets):
    decision = a_decision(bot)
    asked = {"bot": bot, "symbol": "ETHUSDT", "side": "LONG", "margin": D("100"), "leverage": 5,
             "decision": decision, "action_index": 1}
    other = Racer(record=lambda: position_open(**asked))  # the other worker, through the paper broker
    result = position_open(**asked, broker=other)
    [position] = Position.objects.filter(bot=bot)
    assert result.position.pk == position.pk and result.notes[-1].endswith("was already recorded")
    assert Trade.objects.filter(bot=bot).count() == 1


@pytest.mark.django_db
def test_a_duplicate_found_only_by_the_unique_order_id_rolls_back_and_returns_the_recorded(bot, markets):
    decision = a_decision(bot)
    order_id = order_id_for_decision(decision_id=decision.pk, index=1)
    theirs = {}

    def record_without_touching_the_account() -> None:
        # As a worker whose commit the plan did not see yet: the trade exists, the account
        # looks as the plan saw it, so only the unique client order id can tell.
        theirs["position"] = Position.objects.create(
            bot=bot, symbol="ETHUSDT", side="LONG", margin=D("100"), leverage=5, quantity=D("0.1"),
            entry_price=D("3000"), opened_at=timezone.now())
        Trade.objects.create(bot=bot, position=theirs["position"], kind="OPEN", side="LONG", symbol="ETHUSDT",
                             price=D("3000"), quantity=D("0.1"), executed_at=timezone.now(),
                             client_order_id=order_id)

    positions, trades, entries, balance = book(bot)
    result = position_open(bot=bot, symbol="SOLUSDT", side="LONG", margin=D("100"), leverage=5,
                           decision=decision, action_index=1,
                           broker=Racer(record=record_without_touching_the_account))
    assert result.position.pk == theirs["position"].pk
    assert result.notes == [f"order {order_id} was already recorded"]
    assert book(bot) == (positions + 1, trades + 1, entries, balance), "only the other worker's rows"
    assert not Position.objects.filter(bot=bot, symbol="SOLUSDT").exists(), "ours rolled back"


@pytest.mark.django_db
def test_the_broker_is_chosen_by_the_bot_mode(bot, markets):
    settings = risk_settings()
    paper = broker_for(mode="paper", settings=settings)
    assert paper == PaperBroker(slippage_bps=settings.slippage_bps, taker_fee_rate=settings.taker_fee_rate)
    with pytest.raises(PositionError, match="name the bot"):
        broker_for(mode="real", settings=settings)
    with pytest.raises(PositionError, match="needs a wallet"):
        broker_for(mode="real", settings=settings, bot=bot)
    bot.mode = "real"
    result = position_open(bot=bot, symbol="ETHUSDT", side="LONG", margin=D("100"), leverage=5)
    assert result.position is None and "never traded on paper" in result.notes[0], result.notes


OPEN = """
import json, sys
from decimal import Decimal
import django
django.setup()
from bots.models import Bot, Decision
from trading.services import position_open
bot = Bot.objects.get(pk=int(sys.argv[1]))
result = position_open(bot=bot, symbol="ETHUSDT", side="LONG", margin=Decimal("100"), leverage=5,
                       decision=Decision.objects.get(pk=int(sys.argv[2])), action_index=1)
print(json.dumps({"position": result.position.pk if result.position else None, "notes": result.notes}))
"""


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_two_processes_recording_the_same_order_record_it_once(bot, markets):
    decision = a_decision(bot)
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": database_url(),
           "DJANGO_SETTINGS_MODULE": "arena.settings"}
    with transaction.atomic():  # hold the account so both queue behind it, then race
        Account.objects.select_for_update().get(bot=bot)
        if connection.vendor == "sqlite":
            Account.objects.filter(bot=bot).update(currency="USDT")  # take SQLite's write lock
        workers = [subprocess.Popen([sys.executable, "-c", OPEN, str(bot.pk), str(decision.pk)], cwd=ROOT,
                                    env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                   for _ in range(2)]
        time.sleep(2)  # both reach the lock (not asserted: the result is the same either way)
    outcomes = []
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
        outcomes.append(json.loads(out.strip().splitlines()[-1]))
    assert len({o["position"] for o in outcomes}) == 1, "both name the same position"
    repeated = [bool(o["notes"]) and "already recorded" in o["notes"][-1] for o in outcomes]
    assert sorted(repeated) == [False, True]
    assert Trade.objects.filter(bot=bot).count() == 1 and Position.objects.filter(bot=bot).count() == 1
