"""A real bot trades against the fake exchange through full turns: opens with protection,
stops and targets fired by the exchange, closes in the exchange's own UI, liquidations,
funding, transfers, dropped responses — and after each reconciliation the exchange and the
arena's tables agree to the cent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from ledger.models import Entry
from tests.arena.fake_llm import FakeLLM
from tests.fakes.exchange import FakeExchange
from tests.trading.real_world import LONG_BTC, World, world_make
from trading.models import Discrepancy, ExchangeIncome, Position, Reconciliation, Trade
from trading.services.reconcile import discrepancy_resolve

D = Decimal


@pytest.fixture
def world(db, user, settings):
    with FakeExchange() as exchange, FakeLLM() as llm:
        yield world_make(user=user, exchange=exchange, llm=llm, settings=settings)


def orders_sent(world: World, client_id: str) -> int:
    return sum(1 for o in world.exchange.orders.values() if o["clientOrderId"] == client_id)


def open_position(world: World) -> Position:
    report = world.turn(LONG_BTC)
    assert report.outcomes[0].error == "", report.outcomes[0]
    return Position.objects.get(bot=world.bot, status="open")


@pytest.mark.django_db
def test_a_turn_opens_on_the_exchange_with_its_figures_and_protection(world):
    position = open_position(world)

    held = world.exchange.positions["BTCUSDT"]
    assert (position.side, position.quantity, position.entry_price) == ("LONG", held.amount, held.entry_price)
    assert position.margin == held.margin, "the isolated margin the exchange holds"
    trade = Trade.objects.get(position=position, kind="OPEN")
    (fill,) = [t for t in world.exchange.trades if str(t["orderId"]) == trade.exchange_order_id]
    assert trade.fee == abs(D(fill["commission"])) and trade.exchange_trade_ids == [str(fill["id"])]
    algos = {a["clientAlgoId"]: a for a in world.exchange.algo_orders.values()}
    assert set(algos) == {f"{trade.client_order_id}:sl", f"{trade.client_order_id}:tp"}
    assert {a["orderType"] for a in algos.values()} == {"STOP_MARKET", "TAKE_PROFIT_MARKET"}
    assert position.stop_loss_order_id == str(algos[f"{trade.client_order_id}:sl"]["algoId"])
    run = world.reconcile()
    assert run.status == "agreed", run.summary
    world.agree_to_the_cent()


@pytest.mark.django_db
def test_the_exchange_stop_fires_and_reconciliation_closes_it_with_the_exchange_pnl(world):
    position = open_position(world)
    world.at(30)
    world.price("BTCUSDT", "57900")  # through the stop at 58000: the exchange fills at the trigger

    run = world.reconcile()

    position.refresh_from_db()
    assert run.status == "agreed", run.summary
    assert (position.status, position.close_reason, position.exit_price) == (
        "closed",
        "stop_loss",
        D("58000"),
    )
    close = Trade.objects.get(position=position, kind="CLOSE")
    fills = [t for t in world.exchange.trades if str(t["orderId"]) == close.exchange_order_id]
    assert close.pnl == sum(D(t["realizedPnl"]) for t in fills) - sum(abs(D(t["commission"])) for t in fills)
    open_algos = [a for a in world.exchange.algo_orders.values() if a["algoStatus"] == "NEW"]
    assert open_algos == [], "the take-profit left behind was cancelled"
    assert run.summary["closed"] == [
        {
            "position": position.pk,
            "symbol": "BTCUSDT",
            "reason": "stop_loss",
            "price": f"{close.price.normalize():f}",
            "pnl": str(close.pnl),
        }
    ]
    world.agree_to_the_cent()
    assert world.reconcile().status == "agreed" and Trade.objects.filter(bot=world.bot).count() == 2


@pytest.mark.django_db
def test_take_profit_manual_close_and_liquidation_each_close_with_their_reason(world):
    position = open_position(world)
    world.at(10)
    world.price("BTCUSDT", "63100")
    world.reconcile()
    position.refresh_from_db()
    assert position.close_reason == "take_profit"
    world.agree_to_the_cent()

    position = open_position(world)
    world.exchange.close_on_exchange("BTCUSDT")  # someone closes it in the exchange's UI
    world.reconcile()
    position.refresh_from_db()
    assert position.close_reason == "manual" and position.status == "closed"
    world.agree_to_the_cent()

    world.answer({**LONG_BTC, "stop_loss": None, "take_profit": None})
    position = open_position(world)
    world.exchange.liquidate("BTCUSDT")
    run = world.reconcile()
    position.refresh_from_db()
    assert position.close_reason == "liquidation" and position.realized_pnl == -position.margin
    assert run.status == "agreed", run.summary
    world.agree_to_the_cent()


@pytest.mark.django_db
def test_a_close_decision_closes_on_the_exchange_and_cancels_both_protection_orders(world):
    position = open_position(world)
    report = world.turn({"action": "CLOSE", "symbol": "BTCUSDT"})
    assert report.outcomes[0].executed, report.outcomes[0]
    position.refresh_from_db()
    assert position.status == "closed" and position.close_reason == "decision"
    assert "BTCUSDT" not in world.exchange.positions or not world.exchange.positions["BTCUSDT"].amount
    assert [a for a in world.exchange.algo_orders.values() if a["algoStatus"] == "NEW"] == []
    assert world.reconcile().status == "agreed"
    world.agree_to_the_cent()


@pytest.mark.django_db
@pytest.mark.parametrize("fault", ["drop", "timeout-after-execute"])
def test_an_order_whose_answer_is_lost_is_looked_up_never_sent_twice(world, fault):
    if fault == "drop":
        world.exchange.drop_next("POST", "/fapi/v1/order")
    else:
        world.exchange.fail_after_execute("POST", "/fapi/v1/order")

    position = open_position(world)

    trade = Trade.objects.get(position=position, kind="OPEN")
    assert orders_sent(world, trade.client_order_id) == 1
    assert world.reconcile().status == "agreed"
    world.agree_to_the_cent()


@pytest.mark.django_db
def test_a_retried_action_or_a_resent_order_meets_the_order_already_sent(world):
    from bots.models import Decision
    from trading.brokers import Order
    from trading.services import position_open
    from trading.services.real import exchange_broker_for

    position = open_position(world)
    decision = Decision.objects.get(bot=world.bot)
    posts = sum(1 for r in world.exchange.requests if (r.method, r.path) == ("POST", "/fapi/v1/order"))

    again = position_open(
        bot=world.bot,
        symbol="BTCUSDT",
        side="LONG",
        margin=D("600"),
        leverage=5,
        decision=decision,
        action_index=1,
        now=world.at(5),
    )

    assert again.position == position and again.notes == [
        f"order arena-d{decision.pk}-1 was already recorded"
    ]
    broker = exchange_broker_for(bot=world.bot)
    order = Order(
        client_order_id="arena-m-resent",
        symbol="BTCUSDT",
        side="BUY",
        quantity=D("0.01"),
        price=D("60000"),
        leverage=5,
    )
    first, second = broker.place(order), broker.place(order)
    broker.close()
    assert second.exchange_order_id == first.exchange_order_id and second.trade_ids == first.trade_ids
    assert orders_sent(world, "arena-m-resent") == 1
    assert (
        sum(1 for r in world.exchange.requests if (r.method, r.path) == ("POST", "/fapi/v1/order"))
        == posts + 1
    )


@pytest.mark.django_db
def test_funding_and_transfers_are_journalled_from_the_exchange_records(world):
    position = open_position(world)
    world.at(60)
    world.exchange.fund("BTCUSDT", "0.0001")
    world.exchange.transfer("250")
    world.exchange.transfer("-100")

    run = world.reconcile()

    assert run.status == "agreed", run.summary
    funding = Entry.objects.get(account__bot=world.bot, kind="funding")
    assert funding.position_id == position.pk and funding.amount == -(
        position.quantity * D("60000") * D("0.0001")
    )
    kinds = sorted(ExchangeIncome.objects.filter(bot=world.bot).values_list("income_type", flat=True))
    assert kinds.count("TRANSFER") == 2 and "FUNDING_FEE" in kinds
    assert Entry.objects.filter(account__bot=world.bot, kind="deposit", amount=D("250")).exists()
    world.agree_to_the_cent()
    again = world.reconcile()
    assert (
        again.status == "agreed" and Entry.objects.filter(account__bot=world.bot, kind="funding").count() == 1
    )


@pytest.mark.django_db
def test_a_position_opened_by_hand_on_the_exchange_is_flagged_never_imported(world):
    world.exchange.open_on_exchange("ETHUSDT", "BUY", "0.5", leverage=3)

    run = world.reconcile()

    assert run.status == "differences"
    flag = Discrepancy.objects.get(bot=world.bot)
    assert flag.kind == "unknown_position" and "did not open" in flag.detail
    assert not Position.objects.filter(bot=world.bot).exists()
    assert run.summary["deferred"] == 1, "the fill's commission waits: a write may be on its way"
    quiet = world.reconcile(seconds=10)
    assert quiet.summary["flagged"] == [] and quiet.status == "differences", (
        "raised once; open until resolved"
    )

    later = world.reconcile(seconds=180)  # the fill's commission, once no write can be on its way

    (income,) = Discrepancy.objects.filter(pk__in=later.summary["flagged"])
    assert income.kind == "income" and "did not record" in income.detail and income.entry.kind == "adjustment"
    assert income.entry.amount == income.amount < 0
    assert abs(world.exchange_wallet() - world.journal_wallet()) < D("0.01")
    assert Discrepancy.objects.filter(bot=world.bot, resolved_at__isnull=True).count() == 2
    for flag in Discrepancy.objects.filter(bot=world.bot):
        with pytest.raises(ValidationError):
            discrepancy_resolve(discrepancy=flag, actor=world.user, resolution="  ")
        discrepancy_resolve(
            discrepancy=flag, actor=world.user, resolution="my manual ETH trade", now=world.now
        )
    with pytest.raises(ValidationError, match="already resolved"):
        discrepancy_resolve(discrepancy=flag, actor=world.user, resolution="again")
    assert world.reconcile().status == "agreed", "nothing left unexplained once the owner said what it was"
    from ledger.models import Change

    said = Change.objects.filter(object_type="trading.Discrepancy", action="resolved")
    assert said.count() == 2 and said.first().changes["resolution"][1] == "my manual ETH trade"


@pytest.mark.django_db
def test_an_order_filled_but_never_recorded_is_imported_under_the_turns_own_id(world):
    """A worker killed between the exchange's fill and the write: the next reconciliation
    brings the position in, once, with its decision."""
    from trading.brokers import Order, order_id_for_decision
    from trading.services.real import exchange_broker_for

    world.turn({"action": "HOLD"})
    from bots.models import Decision

    decision = Decision.objects.get(bot=world.bot)
    Decision.objects.filter(pk=decision.pk).update(actions=[LONG_BTC])
    broker = exchange_broker_for(bot=world.bot)
    client_id = order_id_for_decision(decision_id=decision.pk, index=1)
    fill = broker.place(
        Order(
            client_order_id=client_id,
            symbol="BTCUSDT",
            side="BUY",
            quantity=D("0.05"),
            price=D("60000"),
            leverage=5,
        )
    )
    broker.close()
    assert fill.filled

    run = world.reconcile()

    position = Position.objects.get(bot=world.bot)
    assert run.summary["imported"] == [{"position": position.pk, "symbol": "BTCUSDT", "order": client_id}]
    assert position.opening_decision_id == decision.pk and position.quantity == D("0.05")
    assert Trade.objects.get(position=position).client_order_id == client_id
    assert run.status == "agreed", run.summary
    world.agree_to_the_cent()


@pytest.mark.django_db
def test_an_exchange_that_cannot_be_read_fails_the_run_changes_nothing_and_the_bot_is_not_traded(world):
    world.exchange.fail_next(
        "GET", "/fapi/v2/positionRisk", status=503, code=-1001, msg="Internal error", times=5
    )

    report = world.turn(LONG_BTC)

    run = Reconciliation.objects.filter(bot=world.bot).latest("started_at")
    assert run.status == "failed" and "could not be read" in run.error
    assert report.outcomes[0].skipped.startswith("not traded blind")
    assert not world.exchange.orders and not Position.objects.filter(bot=world.bot).exists()


@pytest.mark.django_db
def test_a_bots_limits_refuse_before_anything_is_sent(world):
    world.bot.max_order_notional = D("1000")
    world.bot.save(update_fields=["max_order_notional"])

    report = world.turn(LONG_BTC)

    assert any("over this bot's limit" in note for note in report.outcomes[0].rejected), report.outcomes[0]
    assert not world.exchange.orders


@pytest.mark.django_db
def test_a_manual_close_from_the_arena_goes_to_the_exchange_never_to_paper(world):
    from trading.services import position_close
    from trading.services.real import real_positions_close

    position = open_position(world)
    result = position_close(position=position.pk, reason="manual", now=world.at(20))
    assert result.closed and result.trade.exchange_order_id and result.trade.exchange_trade_ids
    assert not world.exchange.positions.get("BTCUSDT") or not world.exchange.positions["BTCUSDT"].amount
    world.agree_to_the_cent()

    second = open_position(world)
    notes = real_positions_close(bot=world.bot, now=world.at(20))
    second.refresh_from_db()
    assert second.status == "closed" and notes == [
        f"position {second.pk} closed at {second.exit_price.normalize():f}"
    ]
    assert world.reconcile().status == "agreed"
    world.agree_to_the_cent()


@pytest.mark.django_db
def test_real_trading_switched_off_refuses_opens_but_still_closes(world, settings):
    position = open_position(world)
    settings.REAL_TRADING_ENABLED = False

    from trading.services import position_close, position_open

    refused = position_open(bot=world.bot, symbol="ETHUSDT", side="LONG", margin=D("100"), leverage=2)
    assert refused.position is None and "REAL_TRADING_ENABLED is off" in refused.notes[0]
    assert position_close(position=position.pk, reason="manual", now=world.at(5)).closed
    assert world.reconcile().status == "agreed"


@pytest.mark.django_db
def test_the_command_and_the_scheduled_task_reconcile_every_real_bot(world, capsys, monkeypatch):
    from django.core.management import call_command
    from django.utils import timezone

    from arena.tasks import reconcile_real

    open_position(world)
    monkeypatch.setattr(timezone, "now", lambda: world.at(1))
    call_command("reconcile", "--bot", str(world.bot.pk))
    out = capsys.readouterr().out
    assert out.startswith(f"bot {world.bot.pk}: agreed") and "closed 0" in out

    world.exchange.open_on_exchange("ETHUSDT", "BUY", "0.5", leverage=3)
    assert reconcile_real() == {str(world.bot.pk): "differences"}
    with pytest.raises(SystemExit) as exit_:
        call_command("reconcile")
    assert exit_.value.code == 1, "an operator's cron notices the flag"
    assert (
        Reconciliation.objects.filter(bot=world.bot).values_list("trigger", flat=True).distinct().count() >= 3
    )
