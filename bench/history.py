"""A year of arena history, of any size, for the benchmarks (shared by bench/api.py and the
others): many owners and bots, every symbol, closed positions each with its OPEN and CLOSE
trade and its four journal entries, decisions with payloads of realistic size (the prompt
sent, the raw reply, actions with reasoning), and snapshots — spread over ``days``.

Rows are bulk-inserted in chunks (the services would take hours for millions of rows); the
journal stays consistent: each closed position locks and releases its margin, pays its fee
and realises a profit of the same size, so every account's balance still equals the sum of
its entries. Deterministic for a seed.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

D = Decimal
SYMBOLS = {"BTCUSDT": D("60000"), "ETHUSDT": D("3000"), "SOLUSDT": D("150"), "BNBUSDT": D("600"),
           "DOGEUSDT": D("0.15"), "XRPUSDT": D("0.6")}
CHUNK = 5_000


@dataclass(frozen=True)
class Shape:
    owners: int = 10
    bots_per_owner: int = 2
    trades: int = 20_000  # two per closed position
    decisions: int = 10_000
    snapshots: int = 10_000
    days: int = 365
    prompt_chars: int = 4_000  # a rendered prompt: instructions, markets, positions, history
    reply_chars: int = 800
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


def history_build(shape: Shape, *, now: datetime) -> dict:
    """Write ``shape``'s history ending at ``now``; returns the bots (ids by owner) and counts."""
    from arena.models import User
    from bots.models import Decision
    from bots.services import bot_create, provider_create
    from ledger.models import Entry, Snapshot
    from trading.models import Market, Position, Trade

    rng = random.Random(shape.seed)
    for symbol, price in SYMBOLS.items():
        Market.objects.update_or_create(symbol=symbol, defaults={"last_price": price, "mark_price": price,
                                                                 "updated_at": now})
    bots = []
    for o in range(shape.owners):
        owner = User.objects.create_user(username=f"owner{o}", password=f"owner{o}-pass-123",
                                         display_name=f"Owner {o}")
        provider = provider_create(owner=owner, name="scripted", kind="scripted", model="momentum")
        for b in range(shape.bots_per_owner):
            bots.append(bot_create(owner=owner, name=f"bot {o}-{b}", prompt=_text(rng, 600),
                                   provider=provider, initial_balance=D("100000"),
                                   created_at=now - timedelta(days=shape.days)))
    accounts = {bot.pk: bot.account for bot in bots}
    start = now - timedelta(days=shape.days)
    span = timedelta(days=shape.days).total_seconds()
    symbols = list(SYMBOLS)

    positions_wanted = shape.trades // 2
    done = 0
    while done < positions_wanted:
        batch = min(CHUNK, positions_wanted - done)
        rows = []
        for i in range(done, done + batch):
            bot = bots[i % len(bots)]
            symbol = symbols[(i // len(bots)) % len(symbols)]
            side = "LONG" if i % 2 else "SHORT"
            price = SYMBOLS[symbol]
            opened = start + timedelta(seconds=span * i / positions_wanted)
            rows.append(Position(
                bot=bot, symbol=symbol, side=side, status="closed", margin=D("100"), leverage=5,
                quantity=(D("500") / price).quantize(D("0.00000001")), entry_price=price, exit_price=price,
                realized_pnl=D("0.25"), close_reason="decision", opened_at=opened,
                closed_at=opened + timedelta(minutes=30), legacy_id=f"h{i}",
            ))
        Position.objects.bulk_create(rows, batch_size=1000)
        trades, entries = [], []
        for p in rows:
            trades.append(Trade(bot_id=p.bot_id, position=p, kind="OPEN", side=p.side, symbol=p.symbol,
                                price=p.entry_price, quantity=p.quantity, margin=p.margin,
                                leverage=p.leverage, fee=D("0.25"), executed_at=p.opened_at))
            trades.append(Trade(bot_id=p.bot_id, position=p, kind="CLOSE", side=p.side, symbol=p.symbol,
                                price=p.exit_price, quantity=p.quantity, fee=D("0.25"), pnl=D("0.25"),
                                reason="decision", executed_at=p.closed_at))
        Trade.objects.bulk_create(trades, batch_size=2000)
        for p, opening, closing in zip(rows, trades[0::2], trades[1::2], strict=True):
            account = accounts[p.bot_id]
            b = account.balance
            entries += [
                Entry(account=account, kind="margin_lock", amount=-p.margin, balance_after=b - p.margin,
                      position=p, trade=opening, created_at=p.opened_at),
                Entry(account=account, kind="fee", amount=D("-0.25"), balance_after=b - p.margin - D("0.25"),
                      trade=opening, created_at=p.opened_at),
                Entry(account=account, kind="margin_release", amount=p.margin, balance_after=b - D("0.25"),
                      position=p, trade=closing, created_at=p.closed_at),
                Entry(account=account, kind="realized_pnl", amount=D("0.25"), balance_after=b,
                      position=p, trade=closing, created_at=p.closed_at),
            ]
        Entry.objects.bulk_create(entries, batch_size=2000)
        done += batch

    reply = '{"actions": [{"action": "LONG", "symbol": "BTCUSDT", "reasoning": "%s"}]}'
    done = 0
    while done < shape.decisions:
        batch = min(CHUNK, shape.decisions - done)
        prompt = _text(rng, shape.prompt_chars)
        reasoning = _text(rng, max(0, shape.reply_chars - 80))
        Decision.objects.bulk_create([
            Decision(
                bot=bots[i % len(bots)], created_at=start + timedelta(seconds=span * i / shape.decisions),
                prompt=prompt, raw_response=reply % reasoning, success=True, model="momentum",
                actions=[{"action": "LONG", "symbol": symbols[i % len(symbols)], "margin": "100",
                          "leverage": 5, "reasoning": reasoning}],
                notes=["opened"], tokens_in=shape.prompt_chars // 4, tokens_out=shape.reply_chars // 4,
                latency_ms=900, cost=D("0.0004"),
            )
            for i in range(done, done + batch)
        ], batch_size=1000)
        done += batch

    done = 0
    while done < shape.snapshots:
        batch = min(CHUNK, shape.snapshots - done)
        Snapshot.objects.bulk_create([
            Snapshot(bot=bots[i % len(bots)], taken_at=start + timedelta(seconds=span * i / shape.snapshots),
                     balance=D("100000"), total_value=D("100000"), trade_count=i // len(bots),
                     win_rate=D("0.5"))
            for i in range(done, done + batch)
        ], batch_size=2000)
        done += batch
    return {"bots": [bot.pk for bot in bots], "owners": shape.owners, "positions": positions_wanted,
            "trades": positions_wanted * 2, "entries": positions_wanted * 4, "decisions": shape.decisions,
            "snapshots": shape.snapshots}


def settle() -> None:
    """After a bulk load, measure in steady state: SQLite checkpoints its write-ahead log,
    PostgreSQL refreshes its planner statistics."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)" if connection.vendor == "sqlite" else "ANALYZE")
