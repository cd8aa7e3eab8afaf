"""Arena history of any size for the benchmarks (bench/api.py): many owners and bots, every
symbol, closed positions each with its OPEN and CLOSE trade and their journal entries,
decisions with payloads of realistic size (the prompt sent, the raw reply, actions with
reasoning; a few failed calls), each in a turn of all the bots with its bot turn, snapshots,
hourly candles, and the leaderboard rollups (``ledger.BotDay``) the writers would have
kept — spread over ``days`` ending at ``now``.

The figures are those of a live arena, so the leaderboard and analytics have something to
compute: each bot's snapshot values are a seeded random walk of its own drift and
volatility (Sharpe, drawdown and the rest are defined and differ between bots); positions
of random symbol, side, margin and leverage win and lose by a random move of their
notional around the bot's edge, and pay a taker fee on each fill. The snapshots are not
the journal replayed (a history that grows into its past could not keep them so): each
holds its value as balance, with no margin or unrealised PnL, as the audit's snapshot
check wants.

Rows are bulk-inserted in chunks (the services would take hours for millions of rows).
The journal stays consistent, as ``manage.py audit_ledger`` checks it: a position's margin
is locked on its OPEN trade and released on its CLOSE, each fill's fee is an entry naming
it, the close realises the gross PnL, the position and the CLOSE trade record the PnL net
of the closing fee, every entry's ``balance_after`` continues its account's running total
in id order, and the account's balance ends equal to the sum of its entries. The rollups
are computed in memory with ``ledger.rollups``' arithmetic as the rows are generated
(bench/botdays.py) and bulk-created, not rebuilt from the database.

``History.grow(factor)`` adds rows to the same bots over the same days — ``factor`` times
the positions, decisions and snapshots in all, the new snapshots filling in each bot's walk
on a grid ``factor`` times finer — and rewrites the rollups: bots × days stays the same.
Deterministic for a seed.
"""
from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from itertools import islice

D = Decimal
SYMBOLS = {"BTCUSDT": D("60000"), "ETHUSDT": D("3000"), "SOLUSDT": D("150"), "BNBUSDT": D("600"),
           "DOGEUSDT": D("0.15"), "XRPUSDT": D("0.6")}
CHUNK = 5_000
INITIAL_BALANCE = D("100000")
TAKER_FEE = D("0.0005")
MONEY_STEP, PRICE_STEP, QUANTITY_STEP = D("0.00000001"), D("0.000001"), D("0.00000001")
LEVERAGES = (1, 2, 3, 5, 10, 20)
FAILURE = "provider call failed: read timed out after 30s"


@dataclass(frozen=True)
class Shape:
    owners: int = 10
    bots_per_owner: int = 2
    trades: int = 20_000  # two per closed position
    decisions: int = 10_000
    snapshots: int = 10_000  # spread evenly over the bots, all taken at the same moments
    days: int = 365
    prompt_chars: int = 4_000  # a rendered prompt: instructions, markets, positions, history
    reply_chars: int = 800
    failed_share: float = 0.02  # decisions whose provider call failed
    seed: int = 7


def _text(rng: random.Random, chars: int) -> str:
    words = ("price", "funding", "momentum", "BTCUSDT", "support", "resistance", "volume", "stop", "target",
             "risk", "leverage", "trend", "breakout", "0.0125", "61234.5", "long", "short", "hold")
    out, size = [], 0
    while size < chars:
        word = rng.choice(words)
        out.append(word)
        size += len(word) + 1
    return " ".join(out)[:chars]


def _chunks(rows: Iterable, size: int = CHUNK) -> Iterator[list]:
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch


@dataclass(frozen=True)
class Trader:
    """A bot's character: its value walk's daily drift and volatility, its edge per trade."""

    drift: float
    volatility: float
    edge: float


class History:
    """A history being written: what it holds so far, and what growing it needs (each
    bot's value walk, running balances and rollup sums)."""

    def __init__(self, shape: Shape, *, now: datetime) -> None:
        self.shape, self.now = shape, now
        self.rng = random.Random(shape.seed)
        self.start = now - timedelta(days=shape.days)
        self.span_us = shape.days * 86_400 * 10**6
        self.bots: list[int] = []
        self.owners: list[int] = []
        self.traders: dict[int, Trader] = {}
        self.accounts: dict[int, int] = {}  # bot id -> account id
        self.balances: dict[int, Decimal] = {}  # bot id -> the account's running balance
        self.walks: dict[int, list[float]] = {}  # bot id -> log values at the snapshot moments
        self.grid = 0  # snapshots per bot
        self.closes: dict[int, list[int]] = {}  # bot id -> [closes, wins]
        self.counts = {"positions": 0, "trades": 0, "entries": 0, "decisions": 0, "turns": 0, "bot_turns": 0,
                       "snapshots": 0, "candles": 0, "bot_days": 0}
        self.activity = None  # botdays.Activity, once the bots exist
        self.series: dict = {}  # (bot id, day) -> the value series' part of its rollup row

    # --- the public steps ---------------------------------------------------------------

    def build(self) -> History:
        """Write the shape's history: users, bots, markets and candles, then its rows."""
        import botdays

        from ledger.rollups import runs_of

        self._bots()
        self._candles()
        self.activity = botdays.Activity(runs_of(self.bots))
        per_bot = max(1, self.shape.snapshots // len(self.bots))
        self.grid = per_bot
        for bot_id in self.bots:
            trader = self.traders[bot_id]
            first = math.log(float(INITIAL_BALANCE))
            self.walks[bot_id] = [first, *botdays.walk(self.rng, first, per_bot - 1, **self._step(trader))]
        self._positions(self.shape.trades // 2)
        self._decisions(self.shape.decisions)
        self._snapshots(new=lambda k: True)
        self._finish()
        return self

    def grow(self, factor: int) -> History:
        """``factor`` times the positions, decisions and snapshots, over the same bots and days."""
        import botdays

        if factor < 2:
            raise ValueError(f"growing by {factor} adds nothing")
        self._positions(self.counts["positions"] * (factor - 1))
        self._decisions(self.counts["decisions"] * (factor - 1))
        self.grid *= factor
        for bot_id in self.bots:
            self.walks[bot_id] = botdays.refine(self.rng, self.walks[bot_id], factor,
                                                **self._step(self.traders[bot_id]))
        self._snapshots(new=lambda k: k % factor != 0)
        self._finish()
        return self

    def summary(self) -> dict:
        return {"bots": list(self.bots), "owners": len(self.owners), **self.counts}

    # --- the parts ----------------------------------------------------------------------

    def _at(self, i: int, count: int) -> datetime:
        """The i-th of ``count`` moments spread evenly from the start (exact microseconds, so
        a grid ``factor`` times finer holds the coarse one's moments exactly)."""
        return self.start + timedelta(microseconds=self.span_us * i // count)

    def _step(self, trader: Trader) -> dict[str, float]:
        dt = self.shape.days / self.grid  # in days
        return {"drift": trader.drift * dt, "sd": trader.volatility * math.sqrt(dt)}

    def _bots(self) -> None:
        from arena.models import User
        from bots.services import bot_create, provider_create
        from trading.models import Market

        for symbol, price in SYMBOLS.items():
            Market.objects.update_or_create(symbol=symbol, defaults={"last_price": price, "mark_price": price,
                                                                     "updated_at": self.now})
        rng = self.rng
        for o in range(self.shape.owners):
            owner = User.objects.create_user(username=f"owner{o}", password=f"owner{o}-pass-123",
                                             display_name=f"Owner {o}")
            self.owners.append(owner.pk)
            provider = provider_create(owner=owner, name="scripted", kind="scripted", model="momentum")
            for b in range(self.shape.bots_per_owner):
                bot = bot_create(owner=owner, name=f"bot {o}-{b}", prompt=_text(rng, 600), provider=provider,
                                 initial_balance=INITIAL_BALANCE, created_at=self.start)
                self.bots.append(bot.pk)
                self.accounts[bot.pk] = bot.account.pk
                self.balances[bot.pk] = bot.account.balance
                self.closes[bot.pk] = [0, 0]
                self.traders[bot.pk] = Trader(drift=rng.uniform(-0.004, 0.006),
                                              volatility=rng.uniform(0.01, 0.04),
                                              edge=rng.uniform(-0.0015, 0.0025))

    def _candles(self) -> None:
        """Hourly candles of every symbol over the days: what the leaderboard's benchmarks read."""
        from trading.models import Candle

        first = self.start.replace(minute=0, second=0, microsecond=0)
        hours = int((self.now - first).total_seconds() // 3600) + 1
        rows = []
        for symbol, base in SYMBOLS.items():
            price = float(base)
            for h in range(hours):
                close = price * math.exp(self.rng.gauss(0, 0.007))
                top, bottom = max(price, close) * (1 + abs(self.rng.gauss(0, 0.002))), \
                    min(price, close) * (1 - abs(self.rng.gauss(0, 0.002)))
                rows.append(Candle(symbol=symbol, interval="1h", open_time=first + timedelta(hours=h),
                                   open=_price(price), high=_price(top), low=_price(bottom),
                                   close=_price(close), volume=D(f"{self.rng.uniform(10, 5000):.4f}"),
                                   fetched_at=self.now))
                price = close
        Candle.objects.bulk_create(rows, batch_size=2000)
        self.counts["candles"] += len(rows)

    def _positions(self, count: int) -> None:
        """``count`` closed positions with their trades and journal entries, round the bots."""
        from ledger.models import Entry
        from trading.models import Position, Trade

        for batch in _chunks(range(count)):
            positions = [self._position(i % len(self.bots), self._at(i, count), Position) for i in batch]
            Position.objects.bulk_create(positions, batch_size=1000)
            trades = []
            for p in positions:
                trades.append(Trade(bot_id=p.bot_id, position=p, kind="OPEN", side=p.side, symbol=p.symbol,
                                    price=p.entry_price, quantity=p.quantity, margin=p.margin,
                                    leverage=p.leverage, fee=p.open_fee, executed_at=p.opened_at))
                trades.append(Trade(bot_id=p.bot_id, position=p, kind="CLOSE", side=p.side, symbol=p.symbol,
                                    price=p.exit_price, quantity=p.quantity, margin=p.margin,
                                    leverage=p.leverage, fee=p.close_fee, pnl=p.realized_pnl,
                                    reason=p.close_reason, executed_at=p.closed_at))
            Trade.objects.bulk_create(trades, batch_size=2000)
            entries = []
            for p, opening, closing in zip(positions, trades[0::2], trades[1::2], strict=True):
                postings = [("margin_lock", -p.margin, opening, p.opened_at),
                            ("fee", -p.open_fee, opening, p.opened_at),
                            ("margin_release", p.margin, closing, p.closed_at),
                            ("realized_pnl", p.gross, closing, p.closed_at),
                            ("fee", -p.close_fee, closing, p.closed_at)]
                for kind, amount, trade, at in postings:
                    if amount == 0:
                        continue  # a close at the entry price realises nothing: no entry
                    self.balances[p.bot_id] += amount
                    entries.append(Entry(account_id=self.accounts[p.bot_id], kind=kind, amount=amount,
                                         balance_after=self.balances[p.bot_id], position=p, trade=trade,
                                         created_at=at))
                self.activity.fill(p.bot_id, p.opened_at, fee=p.open_fee)
                self.activity.fill(p.bot_id, p.closed_at, fee=p.close_fee)
                self.activity.close(p.bot_id, p.closed_at, pnl=p.realized_pnl, opened_at=p.opened_at,
                                    leverage=p.leverage, margin=p.margin)
            Entry.objects.bulk_create(entries, batch_size=2000)
            self.counts["positions"] += len(positions)
            self.counts["trades"] += len(trades)
            self.counts["entries"] += len(entries)

    def _position(self, b: int, opened: datetime, model: type):
        """One closed position of bot number ``b`` opened at ``opened``, with its fees and
        gross PnL as attributes (the position records the PnL net of the closing fee)."""
        rng, bot_id = self.rng, self.bots[b]
        symbol = rng.choice(list(SYMBOLS))
        side = rng.choice(("LONG", "SHORT"))
        leverage = rng.choice(LEVERAGES)
        margin = D(rng.randint(2_000, 50_000)) / 100
        entry = _price(float(SYMBOLS[symbol]) * math.exp(rng.gauss(0, 0.05)))
        quantity = (margin * leverage / entry).quantize(QUANTITY_STEP, ROUND_DOWN)
        move = max(rng.gauss(self.traders[bot_id].edge, 0.01), -0.5 / leverage)  # never to liquidation
        exit_price = _price(float(entry) * (1 + (move if side == "LONG" else -move)))
        gross = ((exit_price - entry) * quantity * (1 if side == "LONG" else -1)).quantize(MONEY_STEP)
        open_fee = _fee(entry, quantity)
        close_fee = _fee(exit_price, quantity)
        closed = min(opened + timedelta(seconds=rng.randint(300, 8 * 3600)), self.now)
        position = model(bot_id=bot_id, symbol=symbol, side=side, status="closed", margin=margin,
                         leverage=leverage, quantity=quantity, entry_price=entry, exit_price=exit_price,
                         mark_price=exit_price, realized_pnl=gross - close_fee,
                         close_reason=_reason(rng, gross), opened_at=opened, closed_at=closed,
                         marked_at=closed)
        position.gross, position.open_fee, position.close_fee = gross, open_fee, close_fee
        tally = self.closes[bot_id]
        tally[0] += 1
        tally[1] += position.realized_pnl > 0
        return position

    def _decisions(self, count: int) -> None:
        """``count`` decisions round the bots, each bot's in the same turn as the others'
        (one turn per round, its bot turns finished with the decision)."""
        from arena.models import BotTurn, Turn
        from bots.models import Decision

        rng, symbols = self.rng, list(SYMBOLS)
        reply = '{"actions": [{"action": "%s", "symbol": "%s", "reasoning": "%s"}]}'
        turns: dict[int, int] = {}  # round -> the turn's id
        for batch in _chunks(range(count)):
            rounds = sorted({i // len(self.bots) for i in batch} - turns.keys())
            made = Turn.objects.bulk_create([
                Turn(started_at=self._at(r * len(self.bots), count), status="finished",
                     finished_at=self._at(r * len(self.bots), count) + timedelta(seconds=40))
                for r in rounds], batch_size=1000)
            turns.update({r: t.pk for r, t in zip(rounds, made, strict=True)})
            self.counts["turns"] += len(made)
            prompt = _text(rng, self.shape.prompt_chars)
            reasoning = _text(rng, max(0, self.shape.reply_chars - 80))
            rows = []
            for i in batch:
                bot_id, at = self.bots[i % len(self.bots)], self._at(i, count)
                if rng.random() < self.shape.failed_share:
                    rows.append(Decision(bot_id=bot_id, created_at=at, prompt=prompt, success=False,
                                         error=FAILURE, model="momentum", notes=[FAILURE], latency_ms=30_000))
                else:
                    action, symbol = rng.choice(("LONG", "SHORT", "CLOSE", "HOLD")), symbols[i % len(symbols)]
                    tokens_in = self.shape.prompt_chars // 4 + rng.randint(-200, 200)
                    tokens_out = self.shape.reply_chars // 4 + rng.randint(-60, 60)
                    rows.append(Decision(
                        bot_id=bot_id, created_at=at, prompt=prompt,
                        raw_response=reply % (action, symbol, reasoning), success=True, model="momentum",
                        actions=[{"action": action, "symbol": symbol, "margin": "100", "leverage": 5,
                                  "reasoning": reasoning}],
                        notes=["opened" if action in ("LONG", "SHORT") else action.lower()],
                        tokens_in=tokens_in, tokens_out=tokens_out, latency_ms=rng.randint(400, 4_000),
                        cost=(D(tokens_in * 15 + tokens_out * 60) / 10**8).quantize(MONEY_STEP)))
                r = rows[-1]
                self.activity.decision(bot_id, at, tokens_in=r.tokens_in, tokens_out=r.tokens_out,
                                       cost=r.cost, latency_ms=r.latency_ms)
            for i, row in zip(batch, rows, strict=True):
                row.turn_id = turns[i // len(self.bots)]
            Decision.objects.bulk_create(rows, batch_size=1000)
            self.counts["decisions"] += len(rows)
            bot_turns = [BotTurn(turn_id=d.turn_id, bot_id=d.bot_id, decision_id=d.pk,
                                 started_at=d.created_at, status="finished" if d.success else "failed",
                                 reason=d.error,
                                 finished_at=d.created_at + timedelta(milliseconds=d.latency_ms or 0))
                         for d in rows]
            BotTurn.objects.bulk_create(bot_turns, batch_size=2000)
            self.counts["bot_turns"] += len(bot_turns)

    def _snapshots(self, *, new) -> None:
        """Write the snapshots at the grid's moments ``k`` that ``new(k)`` says are not yet
        written, and replay each bot's whole series into its rollup days."""
        import botdays

        from ledger.models import Snapshot

        self.series = {}
        for bot_id in self.bots:
            closes, wins = self.closes[bot_id]
            win_rate = (D(wins) / closes).quantize(D("0.000001")) if closes else D(0)
            points = [(self._at(k, self.grid), botdays.money_of(x)) for k, x in enumerate(self.walks[bot_id])]
            rows = (Snapshot(bot_id=bot_id, taken_at=at, balance=value, total_value=value,
                             realized_pnl=value - INITIAL_BALANCE, trade_count=closes * k // self.grid,
                             win_rate=win_rate)
                    for k, (at, value) in enumerate(points) if new(k))
            for batch in _chunks(rows):
                Snapshot.objects.bulk_create(batch, batch_size=2000)
                self.counts["snapshots"] += len(batch)
            run_start = self.activity.runs[bot_id]
            for day, row in botdays.series_days(bot_id, run_start, points).items():
                self.series[(bot_id, day)] = row

    def _finish(self) -> None:
        """Write the rollups and the accounts' balances (each the sum of its entries)."""
        import botdays

        from ledger.models import Account
        from ledger.rollup_models import BotDay

        rows = botdays.days_merged(self.series, self.activity.rows)
        BotDay.objects.filter(bot_id__in=self.bots).delete()
        BotDay.objects.bulk_create(rows, batch_size=500)
        self.counts["bot_days"] = len(rows)
        for bot_id, balance in self.balances.items():
            Account.objects.filter(pk=self.accounts[bot_id]).update(balance=balance)


def _reason(rng: random.Random, gross: Decimal) -> str:
    """Most closes are the model's; the rest hit a take-profit (a gain) or a stop-loss."""
    if rng.random() < 0.6:
        return "decision"
    return "take_profit" if gross > 0 else "stop_loss"


def _price(value: float) -> Decimal:
    return D(repr(value)).quantize(PRICE_STEP)


def _fee(price: Decimal, quantity: Decimal) -> Decimal:
    return max((price * quantity * TAKER_FEE).quantize(MONEY_STEP, ROUND_DOWN), MONEY_STEP)


def history_build(shape: Shape, *, now: datetime) -> History:
    """Write ``shape``'s history ending at ``now``; ``.summary()`` has the bots and counts."""
    return History(shape, now=now).build()


def settle() -> None:
    """After a bulk load, measure in steady state: SQLite checkpoints its write-ahead log;
    PostgreSQL vacuums (so autovacuum does not wake mid-measurement to set the visibility map
    of a million fresh rows, and index-only scans stay index-only) and refreshes its planner
    statistics. VACUUM cannot run in a transaction: call this outside ``atomic``."""
    from django.db import connection

    with connection.cursor() as cursor:
        sqlite = connection.vendor == "sqlite"
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)" if sqlite else "VACUUM ANALYZE")
