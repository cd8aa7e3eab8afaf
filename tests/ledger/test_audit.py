"""``manage.py audit_ledger``: silent on a consistent ledger, and names the record
for every kind of corruption a raw SQL write or a bare restore could leave."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from bots.models import Bot
from bots.services import bot_create
from ledger.audit import check_account_balances
from ledger.models import Account, Entry, Snapshot
from ledger.services import entry_post
from tests.schema import drop_constraints
from trading.models import Position, Trade

pytestmark = pytest.mark.django_db

D = Decimal


# Building a ledger the way the engine writes it ---------------------------------------


def open_position(
    bot: Bot, *, symbol: str = "BTCUSDT", side: str = "LONG", margin: str = "100",
    leverage: int = 5, price: str = "50000", fee: str = "0.25", legacy_id: str | None = None,
) -> Position:
    """An open position with its OPEN trade, margin lock and fee entries."""
    quantity = D(margin) * leverage / D(price)
    position = Position.objects.create(
        bot=bot, symbol=symbol, side=side, margin=D(margin), leverage=leverage,
        quantity=quantity, entry_price=D(price), legacy_id=legacy_id,
    )
    trade = Trade.objects.create(
        bot=bot, position=position, kind="OPEN", side=side, symbol=symbol, price=D(price),
        quantity=quantity, margin=D(margin), leverage=leverage, fee=D(fee),
    )
    entry_post(account=bot.account, kind="margin_lock", amount=-D(margin), position=position, trade=trade)
    entry_post(account=bot.account, kind="fee", amount=-D(fee), position=position, trade=trade)
    return position


def close_position(position: Position, *, price: str, gross_pnl: str, fee: str) -> Trade:
    """Close ``position``: CLOSE trade, then margin_release, realized_pnl and fee entries."""
    realized = D(gross_pnl) - D(fee)
    Position.objects.filter(pk=position.pk).update(
        status="closed", closed_at=timezone.now(), exit_price=D(price),
        realized_pnl=realized, close_reason="decision",
    )
    trade = Trade.objects.create(
        bot=position.bot, position=position, kind="CLOSE", side=position.side, symbol=position.symbol,
        price=D(price), quantity=position.quantity, fee=D(fee), pnl=realized, reason="decision",
    )
    account = position.bot.account
    entry_post(account=account, kind="margin_release", amount=position.margin, position=position, trade=trade)
    entry_post(account=account, kind="realized_pnl", amount=D(gross_pnl), position=position, trade=trade)
    entry_post(account=account, kind="fee", amount=-D(fee), position=position, trade=trade)
    return trade


@pytest.fixture
def ledger(bot, user, provider) -> dict:
    """Two bots with a closed and an open position, a snapshot, and legacy records
    (a closed position without trades, a fill without a position) that are fine."""
    rival = bot_create(owner=user, name="Rival", prompt="p", provider=provider)
    closed = open_position(bot)
    close_trade = close_position(closed, price="51000", gross_pnl="10", fee="0.255")
    still_open = open_position(bot, symbol="ETHUSDT", side="SHORT", margin="200", price="2500", fee="0.5")
    rival_open = open_position(rival, symbol="SOLUSDT", margin="50", leverage=2, price="100", fee="0.05")
    legacy = Position.objects.create(
        bot=rival, symbol="XRPUSDT", side="LONG", status="closed", margin=D("10"), leverage=1,
        quantity=D("20"), entry_price=D("0.5"), exit_price=D("0.6"), closed_at=timezone.now(),
        realized_pnl=D("2"), close_reason="decision", legacy_id="legacy-pos-1",
    )
    # Legacy entry fills carry pnl = -fee and may have lost their position.
    Trade.objects.create(
        bot=rival, kind="OPEN", side="LONG", symbol="DOGEUSDT", price=D("0.1"), quantity=D("100"),
        fee=D("0.005"), pnl=D("-0.005"), legacy_id="legacy-trade-1",
    )
    bot.account.refresh_from_db()
    Snapshot.objects.create(
        bot=bot, balance=bot.account.balance, margin=D("200"), unrealized_pnl=D("-3.5"),
        total_value=bot.account.balance + D("200") - D("3.5"), realized_pnl=D("9.745"),
        trade_count=1, win_rate=D("1"),
    )
    return {
        "bot": bot, "rival": rival, "closed": closed, "close_trade": close_trade,
        "open": still_open, "rival_open": rival_open, "legacy": legacy,
    }


def audit(*args: str) -> tuple[int, str]:
    """Run the command; return its exit status and everything it printed."""
    out = StringIO()
    try:
        call_command("audit_ledger", *args, stdout=out)
    except SystemExit as exc:
        return int(exc.code), out.getvalue()
    return 0, out.getvalue()


def lines(output: str, check: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(f"{check}: ")]


@contextmanager
def check_constraints_off(table: str, *names: str) -> Iterator[None]:
    """Let raw SQL write rows the named CHECK constraints would refuse, as a
    restore without constraints would. On PostgreSQL the constraints are dropped
    inside the test's transaction, so its rollback brings them back."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA ignore_check_constraints = ON")
    else:
        drop_constraints(table, *names)
    try:
        yield
    finally:
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA ignore_check_constraints = OFF")


def raw(sql: str, *params: object) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# A consistent ledger ------------------------------------------------------------------


def test_consistent_ledger_is_clean(ledger):
    status, output = audit()

    assert status == 0, output
    assert output.strip() == (
        "ledger clean: 2 accounts, 11 entries, 4 positions, 5 trades checked"
    )


def test_balances_of_the_clean_ledger_are_what_the_engine_would_leave(ledger):
    # Guards the fixture itself: a fixture the audit agrees with only because
    # both are wrong the same way would make every clean assertion worthless.
    account = Account.objects.get(bot=ledger["bot"])
    expected = D("10000") - D("0.25") + D("9.745") - D("200") - D("0.5")
    assert account.balance == expected
    assert account.entries.order_by("-id").first().balance_after == expected


@pytest.mark.django_db(transaction=True)
def test_clean_outside_a_transaction_uses_its_own_snapshot(bot):
    # No test transaction here: the command opens (and ends) its own read snapshot.
    open_position(bot)
    status, output = audit()
    assert status == 0, output
    assert "ledger clean: 1 accounts, 3 entries, 1 positions, 1 trades checked" in output
    assert not connection.in_atomic_block


def test_checks_are_plain_functions(ledger):
    account = ledger["bot"].account
    assert list(check_account_balances()) == []
    raw("UPDATE ledger_account SET balance = balance + 1 WHERE id = %s", account.pk)
    [violation] = list(check_account_balances(bot_id=ledger["bot"].pk))
    assert f"account {account.pk} of bot {ledger['bot'].pk} 'Momo'" in violation


# One test per kind of violation -------------------------------------------------------


def test_balance_not_sum_of_entries(ledger):
    bot = ledger["bot"]
    raw("UPDATE ledger_account SET balance = balance - 7 WHERE bot_id = %s", bot.pk)

    status, output = audit()

    assert status == 1
    [line] = lines(output, "account_balance")
    assert f"account {bot.account.pk} of bot {bot.pk} 'Momo'" in line
    assert "balance 9801.99500000 != sum of its 8 entries 9808.99500000" in line
    # The running total no longer ends at the balance either.
    assert len(lines(output, "latest_balance_after")) == 1
    assert output.splitlines()[-1] == "2 violations"


def test_account_without_entries_must_have_zero_balance(user, provider):
    bare = Bot.objects.create(
        owner=user, name="Bare", prompt="p", provider=provider, initial_balance=D("1")
    )
    account = Account.objects.create(bot=bare, balance=D("5"))

    status, output = audit()

    assert status == 1
    assert lines(output, "account_balance") == [
        f"account_balance: account {account.pk} of bot {bare.pk} 'Bare': has no entries "
        "but a balance of 5.00000000"
    ]


def test_running_total_broken_in_the_middle(ledger):
    bot = ledger["bot"]
    first, second, third = bot.account.entries.order_by("id")[:3]
    raw("UPDATE ledger_entry SET balance_after = balance_after + 1 WHERE id = %s", second.pk)

    status, output = audit()

    assert status == 1
    found = lines(output, "running_total")
    # The corrupted entry does not follow from the first, and the third does not follow from it.
    assert len(found) == 2
    assert found[0].startswith(f"running_total: entry {second.pk} of account {bot.account.pk} (bot {bot.pk}")
    assert found[1].startswith(f"running_total: entry {third.pk} ")
    assert not lines(output, "account_balance")


def test_newest_balance_after_differs_from_balance(ledger):
    bot = ledger["bot"]
    newest = bot.account.entries.order_by("-id").first()
    raw("UPDATE ledger_entry SET balance_after = balance_after - 2 WHERE id = %s", newest.pk)

    status, output = audit()

    assert status == 1
    [line] = lines(output, "latest_balance_after")
    assert f"account {bot.account.pk} of bot {bot.pk} 'Momo'" in line
    assert f"of its newest entry {newest.pk}" in line


def test_first_entry_must_start_from_zero(user, provider):
    fresh = bot_create(owner=user, name="Fresh", prompt="p", provider=provider)
    deposit = fresh.account.entries.get()
    raw("UPDATE ledger_entry SET balance_after = 9000 WHERE id = %s", deposit.pk)

    status, output = audit()

    assert status == 1
    assert lines(output, "running_total")[0].startswith(f"running_total: entry {deposit.pk} ")
    assert "previous 0.00000000 + amount 10000.00000000" in output


def test_bot_without_account(user, provider, ledger):
    orphan = Bot.objects.create(
        owner=user, name="Orphan", prompt="p", provider=provider, initial_balance=D("100")
    )

    status, output = audit()

    assert status == 1
    assert lines(output, "bot_account") == [f"bot_account: bot {orphan.pk} 'Orphan' has no ledger account"]


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="SQLite cannot drop a column's UNIQUE")
def test_bot_with_two_accounts(ledger):
    bot = ledger["bot"]
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "ledger_account")
    [unique] = [
        name for name, c in constraints.items()
        if c["unique"] and c["columns"] == ["bot_id"] and not c["primary_key"]
    ]
    drop_constraints("ledger_account", unique)
    raw(
        "INSERT INTO ledger_account (bot_id, balance, currency, created_at, updated_at) "
        "VALUES (%s, 0, 'USDT', now(), now())", bot.pk,
    )

    status, output = audit()

    assert status == 1
    assert lines(output, "bot_account") == [f"bot_account: bot {bot.pk} 'Momo' has 2 ledger accounts"]


@pytest.mark.parametrize(
    ("kind", "amount", "problem"),
    [
        ("deposit", "-5", "a deposit entry must add money, amount is -5.00000000"),
        ("margin_release", "-5", "a margin_release entry must add money, amount is -5.00000000"),
        ("fee", "5", "a fee entry must take money, amount is 5.00000000"),
        ("margin_lock", "5", "a margin_lock entry must take money, amount is 5.00000000"),
        ("liquidation", "5", "a liquidation entry must take money, amount is 5.00000000"),
        ("adjustment", "0", "a adjustment entry of zero"),
    ],
)
def test_entry_sign_against_kind(ledger, kind, amount, problem):
    account = ledger["bot"].account
    position = ledger["open"]
    with check_constraints_off(
        "ledger_entry", "ledger_entry_amount_not_zero", "ledger_entry_credit_kinds_positive",
        "ledger_entry_debit_kinds_negative",
    ):
        entry = Entry.objects.create(
            account=account, kind=kind, amount=D(amount), balance_after=account.balance + D(amount),
            position=position,
        )
    raw("UPDATE ledger_account SET balance = balance + %s WHERE id = %s", D(amount), account.pk)

    status, output = audit()

    assert status == 1
    assert lines(output, "entry_kind") == [
        f"entry_kind: entry {entry.pk} of account {account.pk} (bot {ledger['bot'].pk} 'Momo'): {problem}"
    ]
    # The balance and the running total were kept consistent: only the sign is wrong.
    assert not lines(output, "account_balance") and not lines(output, "running_total")


def test_entry_naming_another_bots_position_and_trade(ledger):
    bot, rival_position = ledger["bot"], ledger["rival_open"]
    rival_trade = rival_position.trades.get()
    entry = entry_post(
        account=bot.account, kind="adjustment", amount=D("1"), position=rival_position, trade=rival_trade,
    )

    status, output = audit()

    assert status == 1
    rival = ledger["rival"].pk
    assert lines(output, "entry_link") == [
        f"entry_link: entry {entry.pk} of account {bot.account.pk} (bot {bot.pk} 'Momo'): "
        f"names position {rival_position.pk} of bot {rival}",
        f"entry_link: entry {entry.pk} of account {bot.account.pk} (bot {bot.pk} 'Momo'): "
        f"names trade {rival_trade.pk} of bot {rival}",
    ]


def test_entry_whose_trade_is_of_another_position(ledger):
    bot = ledger["bot"]
    entry = entry_post(
        account=bot.account, kind="adjustment", amount=D("1"), position=ledger["open"],
        trade=ledger["close_trade"],
    )

    status, output = audit()

    assert status == 1
    [line] = lines(output, "entry_link")
    assert line.endswith(
        f"entry {entry.pk} of account {bot.account.pk} (bot {bot.pk} 'Momo'): names position "
        f"{ledger['open'].pk} but its trade {ledger['close_trade'].pk} is of position {ledger['closed'].pk}"
    )


def test_closed_position_missing_its_close_trade(ledger):
    bot = ledger["bot"]
    position = open_position(bot, symbol="BNBUSDT", margin="60", price="600", fee="0.15")
    Position.objects.filter(pk=position.pk).update(
        status="closed", closed_at=timezone.now(), exit_price=D("610"), close_reason="manual",
    )
    entry_post(account=bot.account, kind="margin_release", amount=D("60"), position=position)

    status, output = audit()

    assert status == 1
    assert lines(output, "position_trades") == [
        f"position_trades: position {position.pk} (bot {bot.pk} 'Momo', closed): "
        "1 OPEN and 0 CLOSE trades, expected 1 and 1"
    ]


def test_open_position_without_any_trade(ledger):
    bot = ledger["bot"]
    position = Position.objects.create(
        bot=bot, symbol="DOGEUSDT", side="LONG", margin=D("10"), leverage=1,
        quantity=D("100"), entry_price=D("0.1"),
    )

    status, output = audit()

    assert status == 1
    assert lines(output, "position_trades") == [
        f"position_trades: position {position.pk} (bot {bot.pk} 'Momo', open): "
        "0 OPEN and 0 CLOSE trades, expected 1 and 0"
    ]


def test_legacy_position_without_trades_is_fine_but_duplicates_are_not(ledger):
    legacy, rival = ledger["legacy"], ledger["rival"]
    assert audit()[0] == 0
    # The partial unique index refuses a second OPEN; a restore may lack it.
    raw('DROP INDEX "trading_trade_one_per_position_kind"')
    for _ in range(2):
        Trade.objects.create(
            bot=rival, position=legacy, kind="OPEN", side="LONG", symbol="XRPUSDT", price=D("0.5"),
            quantity=D("20"), fee=D("0"), legacy_id=None,
        )

    status, output = audit()

    assert status == 1
    assert lines(output, "position_trades") == [
        f"position_trades: position {legacy.pk} (bot {rival.pk} 'Rival', closed, legacy 'legacy-pos-1'): "
        "2 OPEN and 0 CLOSE trades, expected 1 and 1"
    ]


@pytest.mark.parametrize(("field", "value"), [("side", "SHORT"), ("symbol", "ETHUSDT")])
def test_trade_not_matching_its_position(ledger, field, value):
    closed = ledger["closed"]
    close_trade = ledger["close_trade"]
    raw(f"UPDATE trading_trade SET {field} = %s WHERE id = %s", value, close_trade.pk)

    status, output = audit()

    assert status == 1
    [line] = lines(output, "trade_position")
    assert line.startswith(f"trade_position: trade {close_trade.pk} (bot {ledger['bot'].pk} 'Momo', ")
    assert f"does not match its position {closed.pk} (bot {ledger['bot'].pk}, LONG BTCUSDT)" in line


def test_trade_of_another_bot_than_its_position(ledger):
    rival = ledger["rival"]
    trade = Trade.objects.create(
        bot=rival, position=ledger["open"], kind="CLOSE", side="SHORT", symbol="ETHUSDT",
        price=D("2400"), quantity=D("0.4"), fee=D("0"),
    )

    status, output = audit()

    assert status == 1
    assert any(
        line.startswith(f"trade_position: trade {trade.pk} (bot {rival.pk} 'Rival'")
        and f"position {ledger['open'].pk} (bot {ledger['bot'].pk}" in line
        for line in lines(output, "trade_position")
    )


def test_close_pnl_differs_from_realized_pnl(ledger):
    trade = ledger["close_trade"]
    raw("UPDATE trading_trade SET pnl = 11 WHERE id = %s", trade.pk)

    status, output = audit()

    assert status == 1
    assert lines(output, "trade_position") == [
        f"trade_position: trade {trade.pk} (bot {ledger['bot'].pk} 'Momo'): CLOSE pnl 11.00000000 != "
        f"realized_pnl 9.74500000 of position {ledger['closed'].pk}"
    ]


def test_native_trade_without_position(ledger):
    bot = ledger["bot"]
    trade = Trade.objects.create(
        bot=bot, kind="OPEN", side="LONG", symbol="BTCUSDT", price=D("1"), quantity=D("1"),
    )

    status, output = audit()

    assert status == 1
    assert lines(output, "trade_position") == [
        f"trade_position: trade {trade.pk} (bot {bot.pk} 'Momo') has no position and is not a legacy fill"
    ]


def test_position_numbers_not_positive(ledger):
    position = ledger["open"]
    with check_constraints_off(
        "trading_position", "trading_position_margin_positive", "trading_position_leverage_range",
    ):
        raw("UPDATE trading_position SET margin = -200, leverage = 0 WHERE id = %s", position.pk)

    status, output = audit()

    assert status == 1
    assert lines(output, "position_numbers") == [
        f"position_numbers: position {position.pk} (bot {ledger['bot'].pk} 'Momo'): "
        "margin -200.00000000 must be positive; leverage 0 must be at least 1"
    ]


def test_trade_numbers_not_positive(ledger):
    trade = ledger["close_trade"]
    with check_constraints_off(
        "trading_trade", "trading_trade_price_positive", "trading_trade_quantity_positive",
        "trading_trade_fee_not_negative",
    ):
        raw("UPDATE trading_trade SET price = 0, quantity = -1, fee = -1 WHERE id = %s", trade.pk)

    status, output = audit()

    assert status == 1
    [line] = lines(output, "trade_numbers")
    assert line.startswith(f"trade_numbers: trade {trade.pk} (bot {ledger['bot'].pk} 'Momo'): ")
    assert "price 0" in line and "quantity -1" in line and "fee -1" in line


def test_open_position_margin_lock_differs_from_margin(ledger):
    position = ledger["open"]
    raw("UPDATE trading_position SET margin = 250 WHERE id = %s", position.pk)

    status, output = audit()

    assert status == 1
    assert lines(output, "margin_lock") == [
        f"margin_lock: position {position.pk} (bot {ledger['bot'].pk} 'Momo', open, margin 250.00000000): "
        "margin entries sum to -200.00000000, expected -250.00000000"
    ]


def test_closed_position_with_margin_still_locked(ledger):
    bot = ledger["bot"]
    position = open_position(bot, symbol="BNBUSDT", margin="60", price="600", fee="0.15")
    close_trade = close_position(position, price="600", gross_pnl="0.3", fee="0.15")
    # An extra lock after the close leaves margin locked on a closed position.
    entry_post(account=bot.account, kind="margin_lock", amount=D("-60"), position=position, trade=close_trade)

    status, output = audit()

    assert status == 1
    assert lines(output, "margin_lock") == [
        f"margin_lock: position {position.pk} (bot {bot.pk} 'Momo', closed, margin 60.00000000): "
        "margin entries sum to -60.00000000, expected 0.00000000"
    ]


def test_fee_entries_differ_from_trade_fee(ledger):
    trade = ledger["close_trade"]
    raw("UPDATE trading_trade SET fee = 0.3 WHERE id = %s", trade.pk)

    status, output = audit()

    assert status == 1
    assert lines(output, "trade_fee") == [
        f"trade_fee: trade {trade.pk} (bot {ledger['bot'].pk} 'Momo'): fee 0.30000000 but its fee "
        "entries sum to -0.25500000"
    ]


def test_snapshot_total_value_and_win_rate(ledger):
    snapshot = Snapshot.objects.get(bot=ledger["bot"])
    with check_constraints_off("ledger_snapshot", "ledger_snapshot_win_rate_range"):
        raw(
            "UPDATE ledger_snapshot SET win_rate = 1.5, total_value = total_value + 0.01 WHERE id = %s",
            snapshot.pk,
        )

    status, output = audit()

    where = f"snapshot: snapshot {snapshot.pk} (bot {ledger['bot'].pk} 'Momo')"
    assert status == 1
    found = lines(output, "snapshot")
    assert found[0] == f"{where}: win_rate 1.500000 is outside [0, 1]"
    assert found[1].startswith(f"{where}: total_value ")
    assert len(found) == 2


def test_snapshot_within_tolerance_is_fine(ledger):
    raw("UPDATE ledger_snapshot SET total_value = total_value + 0.0000005")
    assert audit()[0] == 0


# Options ------------------------------------------------------------------------------


def test_bot_option_limits_the_audit_to_one_bot(ledger):
    bot, rival = ledger["bot"], ledger["rival"]
    raw("UPDATE ledger_account SET balance = balance + 1 WHERE bot_id = %s", rival.pk)

    status, output = audit("--bot", str(bot.pk))
    assert status == 0
    assert output.strip() == "ledger clean: 1 accounts, 8 entries, 2 positions, 3 trades checked"

    status, output = audit("--bot", str(rival.pk))
    assert status == 1
    assert f"bot {rival.pk} 'Rival'" in lines(output, "account_balance")[0]


def test_bot_option_refuses_unknown_bot(ledger):
    with pytest.raises(CommandError, match="no bot with id 999999"):
        call_command("audit_ledger", "--bot", "999999", stdout=StringIO())


def test_limit_caps_printed_violations_but_counts_all(user, provider):
    bots = [bot_create(owner=user, name=f"B{i}", prompt="p", provider=provider) for i in range(3)]
    raw("UPDATE ledger_account SET balance = balance + 1")

    status, output = audit("--limit", "1")

    assert status == 1
    assert len(lines(output, "account_balance")) == 2
    assert lines(output, "account_balance")[1] == "account_balance: … and 2 more"
    assert f"bot {bots[0].pk} 'B0'" in lines(output, "account_balance")[0]
    # Three accounts, each failing two checks.
    assert output.splitlines()[-1] == "6 violations"


def test_every_entry_checked_when_many(ledger):
    # A longer history: the window pass must keep following the running total.
    bot = ledger["bot"]
    start = timezone.now() - timedelta(days=1)
    for i in range(1, 51):
        entry_post(account=bot.account, kind="adjustment", amount=D(i) / 7, created_at=start)
    assert audit()[0] == 0
    newest = bot.account.entries.order_by("-id").first()
    raw("UPDATE ledger_entry SET amount = amount + 1 WHERE id = %s", newest.pk)
    status, output = audit()
    assert status == 1
    assert lines(output, "running_total")[0].startswith(f"running_total: entry {newest.pk} ")
