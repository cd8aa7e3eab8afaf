"""The exchange broker and wallet verification against the fake exchange over real HTTP:
every refusal the exchange can give becomes a clear note and no stray order; the classic
conditional endpoint; a clock that drifted; rate limits; keys that may withdraw."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from tests.arena.fake_llm import FakeLLM, openai_bot
from tests.fakes.exchange import FakeExchange
from tests.trading.real_world import LONG_BTC, world_make
from trading.brokers import FILLED, REJECTED, Order
from trading.models import Position, Trade, Wallet
from trading.services.real import exchange_broker_for, wallet_real_refusal, wallet_verify
from trading.services.wallets import wallet_attach, wallet_create, wallet_update

D = Decimal


@pytest.fixture
def exchange():
    with FakeExchange() as venue:
        yield venue


@pytest.fixture
def world(db, user, settings, exchange):
    with FakeLLM() as llm:
        yield world_make(user=user, exchange=exchange, llm=llm, settings=settings)


def posts(exchange: FakeExchange) -> int:
    return sum(1 for r in exchange.requests if (r.method, r.path) == ("POST", "/fapi/v1/order"))


def order(client_id: str = "arena-m-t1", quantity: str = "0.0105", **options) -> Order:
    return Order(
        client_order_id=client_id,
        symbol=options.pop("symbol", "BTCUSDT"),
        side=options.pop("side", "BUY"),
        quantity=D(quantity),
        price=D(options.pop("price", "60000")),
        leverage=5,
        **options,
    )


@pytest.mark.django_db
def test_quantities_are_rounded_down_to_the_step_and_small_orders_never_sent(world, exchange):
    broker = exchange_broker_for(bot=world.bot)
    fill = broker.place(order(quantity="0.0105"))
    assert fill.status == FILLED and fill.quantity == D("0.010"), "rounded down to the 0.001 step"
    sent = posts(exchange)
    small = broker.place(order("arena-m-t2", quantity="0.001"))  # 60 USDT, under the 100 minimum
    assert small.status == REJECTED and "notional" in small.reason
    assert posts(exchange) == sent, "refused before sending"
    broker.close()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "code, said",
    [
        (-2019, "margin"),
        (-2022, "no position to reduce"),
        (-4061, "hedge mode"),
        (-1111, "recision"),
        (-2015, "API key"),
        (-4164, "notional"),
    ],
)
def test_each_exchange_refusal_is_a_rejected_fill_with_its_reason(world, exchange, code, said):
    exchange.fail_next("POST", "/fapi/v1/order", code=code, msg="refused by the venue")
    broker = exchange_broker_for(bot=world.bot)
    fill = broker.place(order())
    broker.close()
    assert fill.status == REJECTED and said.lower() in fill.reason.lower(), fill.reason
    assert not exchange.positions.get("BTCUSDT") or not exchange.positions["BTCUSDT"].amount


@pytest.mark.django_db
@pytest.mark.parametrize("status", [429, 418])
def test_a_rate_limit_is_honoured_nothing_is_sent_until_it_ends(world, exchange, status):
    exchange.fail_next("POST", "/fapi/v1/order", status=status, retry_after=120)
    broker = exchange_broker_for(bot=world.bot)
    first = broker.place(order())
    sent = len(exchange.requests)
    second = broker.place(order("arena-m-t2"))
    broker.close()
    assert first.status == REJECTED and "120" in first.reason, first.reason
    assert second.status != FILLED and len(exchange.requests) == sent, "blocked without a request"


@pytest.mark.django_db
def test_a_drifted_clock_is_measured_again_and_the_order_goes_once(world, exchange):
    broker = exchange_broker_for(bot=world.bot)
    assert broker.place(order()).status == FILLED
    exchange.server_time_offset_ms = 90_000  # the venue's clock moved on: -1021 until re-synced
    fill = broker.place(order("arena-m-t2"))
    broker.close()
    assert fill.status == FILLED
    assert sum(1 for o in exchange.orders.values() if o["clientOrderId"] == "arena-m-t2") == 1


@pytest.mark.django_db
def test_a_refused_stop_is_said_and_the_filled_entry_still_recorded(world, exchange):
    exchange.fail_next("POST", "/fapi/v1/algoOrder", code=-2021, msg="Order would immediately trigger.")

    report = world.turn(LONG_BTC)

    outcome = report.outcomes[0]
    position = Position.objects.get(bot=world.bot)
    assert position.stop_loss_order_id == "" and position.take_profit_order_id
    assert any("stop-loss order was refused" in note for note in outcome.notes + outcome.rejected), outcome


@pytest.mark.django_db
def test_the_classic_conditional_endpoint_where_the_exchange_wants_it(db, user, settings):
    with FakeExchange(conditional_api="classic") as exchange, FakeLLM() as llm:
        world = world_make(user=user, exchange=exchange, llm=llm, settings=settings, exchange_name="aster")
        world.turn(LONG_BTC)
        kinds = sorted(o["type"] for o in exchange.orders.values() if o["status"] == "NEW")
        assert kinds == ["STOP_MARKET", "TAKE_PROFIT_MARKET"] and not exchange.algo_orders
        world.at(30)
        world.price("BTCUSDT", "57000")
        run = world.reconcile()
        position = Position.objects.get(bot=world.bot)
        assert run.status == "agreed" and position.close_reason == "stop_loss"
        assert [o for o in exchange.orders.values() if o["status"] == "NEW"] == [], "the target cancelled"
        world.agree_to_the_cent()


@pytest.mark.django_db
def test_an_orphan_left_by_a_failed_cancel_is_cancelled_by_the_next_reconciliation(world, exchange):
    world.turn(LONG_BTC)
    exchange.fail_next("DELETE", "/fapi/v1/algoOrder", status=503, code=-1001, msg="Internal error", times=2)
    world.turn({"action": "CLOSE", "symbol": "BTCUSDT"})
    assert len([a for a in exchange.algo_orders.values() if a["algoStatus"] == "NEW"]) == 2

    run = world.reconcile()

    assert sorted(run.summary["cancelled"]) == sorted(
        f"{Trade.objects.get(kind='OPEN').client_order_id}:{k}" for k in ("sl", "tp")
    )
    assert [a for a in exchange.algo_orders.values() if a["algoStatus"] == "NEW"] == []


# --- verification ----------------------------------------------------------------------------


def _wallet(user, exchange, **options) -> Wallet:
    return wallet_create(
        owner=user,
        exchange="binance",
        api_key=options.pop("key", exchange.api_key),
        api_secret=options.pop("secret", exchange.api_secret),
        base_url=exchange.base_url,
        label=options.pop("label", "w"),
    )


@pytest.fixture
def private_ok(db):
    from arena.models import ArenaSettings

    ArenaSettings.objects.filter(pk=ArenaSettings.load().pk).update(outbound_allow_private=True)


@pytest.mark.django_db
def test_verification_reads_the_balance_and_refuses_bad_keys_withdrawals_and_hedge_mode(
    user, exchange, private_ok
):
    wallet = wallet_verify(wallet=_wallet(user, exchange))
    assert (
        wallet.verified_at and wallet.verified_balance == D("10000") and wallet.withdrawals_enabled is False
    )
    assert wallet_real_refusal(wallet) is None and len(wallet.account_fingerprint) == 64

    bad = _wallet(user, exchange, secret="not-the-secret")
    with pytest.raises(ValidationError, match="signed read"):
        wallet_verify(wallet=bad)
    bad.refresh_from_db()
    assert bad.verified_at is None and "-1022" in bad.verify_error, bad.verify_error
    assert "Verify wallet" in wallet_real_refusal(bad)

    exchange.enable_withdrawals = True
    with pytest.raises(ValidationError, match="withdraw"):
        wallet_verify(wallet=wallet)
    exchange.enable_withdrawals, exchange.dual_side = False, True
    with pytest.raises(ValidationError, match="hedge mode"):
        wallet_verify(wallet=wallet)
    exchange.dual_side, exchange.has_restrictions = False, False
    wallet = wallet_verify(wallet=wallet)
    assert wallet.verified_at and wallet.withdrawals_enabled is None, "not reported, not refused"


@pytest.mark.django_db
def test_new_keys_undo_verification_and_one_account_trades_for_one_real_bot(world, exchange, user, settings):
    twin = wallet_verify(wallet=_wallet(user, exchange, label="same account"))
    with FakeLLM() as llm:
        other = openai_bot(owner=user, fake=llm, model="other", mode="real")
    twin = wallet_attach(wallet=twin, bot=other)
    assert "already trades for the real bot" in wallet_real_refusal(twin, bot=other)

    changed = wallet_update(wallet=world.wallet, api_secret=exchange.api_secret)
    assert changed.verified_at is None and "verify the wallet again" in changed.verify_error
    assert "Verify wallet" in wallet_real_refusal(changed, bot=world.bot)


@pytest.mark.django_db
def test_a_duplicate_client_id_is_looked_up_never_sent_again(world, exchange):
    """-4116: the id was taken between the lookup and the send (another worker): the order
    found under it is the answer."""
    broker = exchange_broker_for(bot=world.bot)
    broker.client.set_isolated("BTCUSDT")  # as the other worker did before its order
    exchange.fail_next("GET", "/fapi/v1/order", code=-2013, msg="Order does not exist.")  # the first lookup
    exchange.market(
        symbol="BTCUSDT", side="BUY", quantity=D("0.010"), client_id="arena-m-dup"
    )  # the other worker
    exchange.fail_next("POST", "/fapi/v1/order", code=-4116, msg="ClientOrderId is duplicated.")
    fill = broker.place(order("arena-m-dup", quantity="0.010"))
    broker.close()
    assert fill.status == FILLED and fill.quantity == D("0.010"), fill.reason
    assert sum(1 for o in exchange.orders.values() if o["clientOrderId"] == "arena-m-dup") == 1
