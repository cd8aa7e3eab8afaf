"""A real bot against the fake exchange (tests/fakes/exchange.py) over real HTTP on loopback.

``World`` holds one arena clock that every side reads — the turn's ``now``, the fake
exchange's server time and the market rows — so the fills, the income records and the
rows the arena writes line up, and a test moves time and prices with ``world.at`` and
``world.price``. The bot's model is the fake OpenAI-wire server; what it answers is set
per turn with ``world.answer``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from arena.turns.run import turn_run
from ledger.models import Account
from tests.arena.fake_llm import FakeLLM, Reply, openai_bot
from tests.fakes.exchange import FakeExchange
from trading.models import Market, Position, Reconciliation
from trading.services.real import wallet_verify
from trading.services.reconcile import reconcile_bot
from trading.services.wallets import wallet_attach, wallet_create

START = datetime(2026, 5, 20, 8, 0, 0, tzinfo=UTC)
D = Decimal
START_BALANCE = D("10000")  # the fake exchange's own
SYMBOLS = {"BTCUSDT": ("0.10", "0.001", D("60000")), "ETHUSDT": ("0.01", "0.001", D("3000"))}


@dataclass
class World:
    exchange: FakeExchange
    llm: FakeLLM
    user: Any
    now: datetime = START
    bot: Any = None
    wallet: Any = None
    turns: list = field(default_factory=list)

    def clock(self) -> float:
        return self.now.timestamp()

    def at(self, seconds: float) -> datetime:
        """Move the one clock forward."""
        self.now = self.now + timedelta(seconds=seconds)
        return self.now

    def price(self, symbol: str, price: Decimal | str) -> None:
        """The market moves: on the exchange (its stops and liquidations fire) and in the
        arena's market rows (what the prompt and the order checks read)."""
        price = D(str(price))
        self.exchange.set_price(symbol, price)
        Market.objects.filter(symbol=symbol).update(
            last_price=price, mark_price=price, updated_at=self.now, is_stale=False
        )

    def answer(self, *actions: dict) -> None:
        self.llm.script(self.bot.provider.model, Reply(text=json.dumps(list(actions))))

    def turn(self, *actions: dict, seconds: float = 300) -> Any:
        """One forced turn of the bot at the next moment, the model answering ``actions``."""
        self.at(seconds)
        for symbol in SYMBOLS:
            Market.objects.filter(symbol=symbol).update(updated_at=self.now)
        if actions:
            self.answer(*actions)
        report = turn_run(bot_ids=[self.bot.pk], forced=True, now=self.now, refresh=False)
        self.turns.append(report)
        return report

    def reconcile(self, seconds: float = 60) -> Reconciliation:
        self.at(seconds)
        return reconcile_bot(bot=self.bot, trigger=Reconciliation.Trigger.API, now=self.now)

    # --- what each side holds ---------------------------------------------------------

    def journal_wallet(self) -> Decimal:
        """The journal's wallet balance: cash plus the margin held in open positions."""
        cash = Account.objects.get(bot=self.bot).balance
        held = Position.objects.filter(bot=self.bot, status="open").aggregate(m=Sum("margin"))["m"] or D(0)
        return cash + held

    def exchange_wallet(self) -> Decimal:
        return self.exchange.balance

    def agree_to_the_cent(self) -> None:
        gap = abs(self.exchange_wallet() - self.journal_wallet())
        assert gap < D("0.01"), f"exchange {self.exchange_wallet()} vs journal {self.journal_wallet()}"
        ours = {p.symbol: (p.side, p.quantity) for p in Position.objects.filter(bot=self.bot, status="open")}
        theirs = {
            s: ("LONG" if p.amount > 0 else "SHORT", abs(p.amount))
            for s, p in self.exchange.positions.items()
            if p.amount
        }
        assert ours == theirs


def world_make(
    *,
    user: Any,
    exchange: FakeExchange,
    llm: FakeLLM,
    settings: Any,
    exchange_name: str = "binance",
    balance: Decimal = START_BALANCE,
    **bot_options: Any,
) -> World:
    """A verified real bot of ``user`` trading on ``exchange``, the markets set to its prices."""
    settings.REAL_TRADING_ENABLED = True
    world = World(exchange=exchange, llm=llm, user=user)
    exchange.clock = world.clock
    for symbol, (tick, step, price) in SYMBOLS.items():
        Market.objects.update_or_create(
            symbol=symbol,
            defaults={
                "base_asset": symbol.removesuffix("USDT"),
                "last_price": price,
                "mark_price": price,
                "tick_size": D(tick),
                "step_size": D(step),
                "updated_at": world.now,
                "is_stale": False,
            },
        )
    world.bot = openai_bot(
        owner=user,
        fake=llm,
        model="real-model",
        mode="real",
        initial_balance=balance,
        symbols=list(SYMBOLS),
        created_at=START,
        **bot_options,
    )
    wallet = wallet_create(
        owner=user,
        exchange=exchange_name,
        api_key=exchange.api_key,
        api_secret=exchange.api_secret,
        base_url=exchange.base_url,
        label="fake venue",
    )
    wallet = wallet_attach(wallet=wallet, bot=world.bot)
    world.wallet = wallet_verify(wallet=wallet, now=timezone.now())
    return world


LONG_BTC = {
    "action": "LONG",
    "symbol": "BTCUSDT",
    "size": 600,
    "leverage": 5,
    "stop_loss": 58000,
    "take_profit": 63000,
}
