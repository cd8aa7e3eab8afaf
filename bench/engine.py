"""Benchmark of the paper engine's persistence.

1. The cost of persisting one turn's changes (10 bots each close a position,
   open another and record a decision), in ms and in SQL statements per bot-turn,
   with 1k trades of history, at audit size (100k trades) and at 10x audit size
   (1M) — ``--quick``: 1k, 10k, 100k. It must stay flat as history grows
   (``persist_ratio_large_vs_small``: 10x audit size over audit size).
2. In the same run, the legacy pattern: serialise the whole arena state (2.7 MiB,
   the audited legacy size, and 10x that) into one JSON document and rewrite its
   row after each turn (``legacy_over_ours_*``: legacy ms / our ms per turn).
3. Throughput of open, close, mark and trigger checks over 1,000 open positions.

Runs against a new SQLite file by default. A postgres:// ``DATABASE_URL`` (alias
``BENCH_DATABASE_URL``) names a server: the bench creates a scratch database beside
the named one, and drops it at the end (see bench/djangoenv.py). Timings are the
median of several turns after a warm-up, without the query log; SQL is counted in
one separate turn. The last line printed is one JSON object.

    python bench/engine.py --quick
"""
from __future__ import annotations

import argparse
import contextlib
import json
import random
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import djangoenv  # noqa: E402  (bench/djangoenv.py, beside this file)
from history import settle  # noqa: E402  (bench/history.py)

D = Decimal
PRICES = {"BTCUSDT": D("60000"), "ETHUSDT": D("3000"), "SOLUSDT": D("150"),
          "BNBUSDT": D("600"), "DOGEUSDT": D("0.15"), "XRPUSDT": D("0.6")}
LEGACY_BLOB_BYTES = int(2.7 * 1024 * 1024)  # the audited legacy arena_state
BOTS_PER_TURN = 10


class SqlCounter:
    """Counts the statements Django sends while it is active, by kind.

    ``execute_wrapper`` sees every statement, SAVEPOINTs and SQLite's BEGIN included;
    COMMIT and ROLLBACK go through the driver, so they are counted by wrapping
    ``connection.commit``/``rollback``; psycopg's implicit BEGIN is one per transaction.
    """

    def __init__(self, connection) -> None:
        self.connection = connection
        self.kinds: dict[str, int] = {}

    def __call__(self, execute, sql, params, many, context):
        self._count(sql.split(None, 1)[0].upper() if sql.strip() else "?")
        return execute(sql, params, many, context)

    def _count(self, kind: str) -> None:
        self.kinds[kind] = self.kinds.get(kind, 0) + 1

    def _ending(self, kind: str, end):
        def wrapped():
            if self.connection.vendor == "postgresql":
                self._count("BEGIN")  # sent by psycopg before the transaction's first statement
            self._count(kind)
            return end()
        return wrapped

    @contextlib.contextmanager
    def active(self):
        connection = self.connection
        connection.commit = self._ending("COMMIT", connection.commit)
        connection.rollback = self._ending("ROLLBACK", connection.rollback)
        try:
            with connection.execute_wrapper(self):
                yield self
        finally:
            del connection.commit, connection.rollback  # back to the class's methods

    @property
    def total(self) -> int:
        return sum(self.kinds.values())


def make_bots(count: int, prefix: str):
    from arena.models import User
    from bots.services import bot_create, provider_create

    owner, _ = User.objects.get_or_create(username=f"bench-{prefix}")
    provider = provider_create(owner=owner, name=f"scripted-{prefix}", kind="scripted", model="momentum")
    return [
        bot_create(owner=owner, name=f"{prefix}-{i}", prompt="bench", provider=provider,
                   initial_balance=D("1000000"))
        for i in range(count)
    ]


def grow_history(bot, trades_wanted: int, start_index: int) -> int:
    """Bulk-insert closed positions (an OPEN and a CLOSE trade each) until the trades
    table holds ``trades_wanted`` rows; returns the next free index."""
    from django.utils import timezone

    from trading.models import Position, Trade

    have = Trade.objects.count()
    positions_needed = max(0, (trades_wanted - have) // 2)
    now = timezone.now() - timedelta(days=365)
    index = start_index
    chunk = 5000
    while positions_needed > 0:
        batch = min(chunk, positions_needed)
        positions = Position.objects.bulk_create([
            Position(
                bot=bot, symbol="BTCUSDT", side="LONG", status="closed", margin=D("100"), leverage=5,
                quantity=D("0.008"), entry_price=D("60000"), exit_price=D("60100"),
                realized_pnl=D("0.5"), close_reason="decision",
                opened_at=now + timedelta(seconds=index + i),
                closed_at=now + timedelta(seconds=index + i + 1),
                legacy_id=f"h{index + i}",
            )
            for i in range(batch)
        ], batch_size=1000)
        trades = []
        for p in positions:
            trades.append(Trade(bot=bot, position=p, kind="OPEN", side="LONG", symbol="BTCUSDT",
                                price=D("60000"), quantity=D("0.008"), fee=D("0.24"),
                                executed_at=p.opened_at))
            trades.append(Trade(bot=bot, position=p, kind="CLOSE", side="LONG", symbol="BTCUSDT",
                                price=D("60100"), quantity=D("0.008"), fee=D("0.24"), pnl=D("0.5"),
                                reason="decision", executed_at=p.closed_at))
        Trade.objects.bulk_create(trades, batch_size=2000)
        index += batch
        positions_needed -= batch
    settle()
    return index


def one_turn(bots, turn: int) -> float:
    """Persist one turn for every bot: close its open position, open a new one, record the decision."""
    from bots.models import Decision
    from trading.models import Position
    from trading.selectors import risk_settings
    from trading.services import position_close, position_open

    symbols = list(PRICES)
    started = time.perf_counter()
    settings = risk_settings()  # a turn reads them once for all its bots' actions
    for bot in bots:
        decision = Decision.objects.create(bot=bot, prompt="p", raw_response="[]", success=True)
        index = 0  # the decision's actions, numbered as a turn numbers them (each its own order id)
        for index, position_id in enumerate(
                Position.objects.filter(bot=bot, status="open").values_list("id", flat=True), start=1):
            position_close(position=position_id, reason="decision", decision=decision, action_index=index,
                           settings=settings)
        symbol = symbols[turn % len(symbols)]
        result = position_open(bot=bot, symbol=symbol, side="LONG" if turn % 2 else "SHORT",
                               margin=D("100"), leverage=5, decision=decision, action_index=index + 1,
                               settings=settings)
        assert result.position is not None, result.notes
    return time.perf_counter() - started


def legacy_state(bots: int, blob_bytes: int) -> dict:
    """A legacy-shaped arena_state of about ``blob_bytes`` (the audited size is 2.7 MiB)."""
    rng = random.Random(7)
    state = {"bots": [], "marketData": [
        {"symbol": f"S{i}USDT", "price": rng.random() * 100, "price24hChange": rng.random()}
        for i in range(300)
    ]}
    for b in range(bots):
        state["bots"].append({"id": f"bot_{b}", "name": f"Bot {b}", "prompt": "x" * 2000,
                              "portfolio": {"balance": 10000, "positions": []}, "orders": [],
                              "botLogs": [], "valueHistory": []})
    size = len(json.dumps(state))
    i = 0
    while size < blob_bytes:
        bot = state["bots"][i % bots]
        order = {"id": f"order_{i}_{rng.randrange(10**9)}", "symbol": "BTCUSDT", "type": "LONG",
                 "size": 100, "leverage": 5, "pnl": -3, "fee": 3, "timestamp": 1700000000000 + i,
                 "entryPrice": 60000.0 + i, "exitPrice": 0}
        bot["orders"].insert(0, order)
        size += len(json.dumps(order)) + 2
        i += 1
    return state


def legacy_turn(connection, state: dict, turn: int) -> float:
    started = time.perf_counter()
    for bot in state["bots"]:
        bot["orders"].insert(0, {"id": f"order_t{turn}", "symbol": "ETHUSDT", "type": "SHORT", "size": 100,
                                 "leverage": 5, "pnl": -3, "fee": 3, "timestamp": 1800000000000 + turn,
                                 "entryPrice": 3000.0, "exitPrice": 0})
        bot["portfolio"]["balance"] -= 3
    blob = json.dumps(state)
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE bench_legacy_arena_state SET state = %s, updated_at = %s WHERE id = 1",
                       [blob, int(time.time() * 1000)])
    return time.perf_counter() - started


def throughput(positions: int = 1000) -> dict:
    from trading import perps
    from trading.models import Market, Position
    from trading.services import position_close, position_open, positions_mark, triggers_check

    per_bot = 10
    bots = make_bots(positions // per_bot, "ops")
    plan = [(s, side) for s in PRICES for side in ("LONG", "SHORT")][:per_bot]
    started = time.perf_counter()
    for bot in bots:
        for symbol, side in plan:
            price = PRICES[symbol]
            far = D("0.5") if side == "LONG" else D("1.5")  # stops far away: checks find nothing
            position_open(bot=bot, symbol=symbol, side=side, margin=D("100"), leverage=3,
                          stop_loss=price * far)
    open_s = time.perf_counter() - started
    opened = Position.objects.filter(status="open", bot__in=bots).count()
    assert opened == positions, opened

    marks = {s: p * D("1.001") for s, p in PRICES.items()}
    started = time.perf_counter()
    rounds = 5
    for _ in range(rounds):
        positions_mark(prices=marks)
    mark_s = (time.perf_counter() - started) / rounds

    quiet = {s: perps.Bar.move(p, p * D("1.001")) for s, p in PRICES.items()}
    started = time.perf_counter()
    for _ in range(rounds):
        assert triggers_check(ranges=quiet) == []
    check_s = (time.perf_counter() - started) / rounds

    # Every long's stop fires: half the book closes through the trigger path.
    crash = {s: perps.Bar(open=p, high=p, low=p * D("0.4"), close=p * D("0.45")) for s, p in PRICES.items()}
    for s, p in PRICES.items():
        Market.objects.filter(symbol=s).update(last_price=p * D("0.45"))
    started = time.perf_counter()
    fired = triggers_check(ranges=crash)
    trigger_close_s = time.perf_counter() - started
    for s, p in PRICES.items():
        Market.objects.filter(symbol=s).update(last_price=p)

    remaining = list(Position.objects.filter(status="open", bot__in=bots).values_list("id", flat=True))
    started = time.perf_counter()
    for position_id in remaining:
        position_close(position=position_id, reason="manual")
    close_s = time.perf_counter() - started
    return {
        "open_per_s": round(positions / open_s, 1),
        "close_per_s": round(len(remaining) / close_s, 1),
        "mark_positions_per_s": round(positions / mark_s, 1),
        "trigger_check_positions_per_s": round(positions / check_s, 1),
        "trigger_closes_per_s": round(len(fired) / trigger_close_s, 1),
        "trigger_closes": len(fired),
    }


def measure_turns(bots, sizes: list[int], turns: int) -> tuple[dict, dict]:
    """Per history size: median seconds of one turn of all bots, and the SQL statements
    of one more (counted) turn, by kind."""
    from django.db import connection

    historian = make_bots(1, "history")[0]
    persist, sql = {}, {}
    index, turn = 0, 0
    for size in sizes:
        t0 = time.perf_counter()
        index = grow_history(historian, size, index)
        grown = time.perf_counter() - t0
        for _ in range(2):  # warm caches after the bulk load
            one_turn(bots, turn)
            turn += 1
        timings = []
        for _ in range(turns):
            timings.append(one_turn(bots, turn))
            turn += 1
        persist[size] = statistics.median(timings)
        counter = SqlCounter(connection)
        with counter.active():
            one_turn(bots, turn)
        turn += 1
        sql[size] = counter.kinds
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(counter.kinds.items()))
        print(f"history {size:>9,} trades (loaded in {grown:5.1f}s): one turn of {len(bots)} bots persists "
              f"in {persist[size] * 1000:7.1f} ms (median of {turns}), {counter.total / len(bots):.1f} "
              f"SQL statements per bot-turn ({kinds})", flush=True)
    return persist, sql


def measure_legacy(blob_sizes: list[int], turns: int) -> dict:
    """Per target blob size: the blob's real size and the median seconds of one legacy turn."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_legacy_arena_state (id integer primary key, state text, "
                       "updated_at bigint)")
        cursor.execute("INSERT INTO bench_legacy_arena_state VALUES (1, '{}', 0)")
    legacy = {}
    for target in blob_sizes:
        state = legacy_state(bots=BOTS_PER_TURN, blob_bytes=target)
        blob_bytes = len(json.dumps(state))
        legacy_turn(connection, state, -1)  # warm-up
        seconds = statistics.median(legacy_turn(connection, state, t) for t in range(turns))
        legacy[target] = (blob_bytes, seconds)
        print(f"legacy pattern: rewrite a {blob_bytes / 1e6:5.2f} MB arena_state row per turn: "
              f"{seconds * 1000:7.1f} ms (median of {turns})", flush=True)
    return legacy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller history, fewer turns (about a minute)")
    args = parser.parse_args()
    with djangoenv.scratch_django(prefix="arena-bench-") as vendor:
        run(quick=args.quick, vendor=vendor)


def run(*, quick: bool, vendor: str) -> None:
    from django.utils import timezone

    from arena.models import ArenaSettings
    from trading.models import Market

    arena = ArenaSettings.load()
    arena.cooldown_minutes = 0  # bots re-open the symbol they just closed
    arena.max_open_positions_per_bot = 12  # ten positions per bot in the throughput part
    arena.save()
    for symbol, price in PRICES.items():
        Market.objects.create(symbol=symbol, last_price=price, mark_price=price, updated_at=timezone.now())

    audit = 10_000 if quick else 100_000
    sizes = [1_000, audit, 10 * audit]
    turns = 9 if quick else 21
    bots = make_bots(BOTS_PER_TURN, "turn")
    persist, sql = measure_turns(bots, sizes, turns)
    legacy = measure_legacy([LEGACY_BLOB_BYTES, 10 * LEGACY_BLOB_BYTES], turns)
    (blob_bytes, legacy_audit), (blob_bytes_10x, legacy_10x) = legacy.values()

    ops = throughput(1000)
    print("over 1,000 open positions: " + ", ".join(f"{k} {v}" for k, v in ops.items()), flush=True)

    small, large = persist[audit], persist[10 * audit]
    print(json.dumps({
        "benchmark": "engine",
        "database": vendor,
        "quick": quick,
        "history_sizes": sizes,
        "audit_history_trades": audit,
        "ms_per_bot_turn_small": round(small * 1000 / BOTS_PER_TURN, 3),
        "ms_per_bot_turn_large": round(large * 1000 / BOTS_PER_TURN, 3),
        "sql_per_bot_turn": round(sum(sql[10 * audit].values()) / BOTS_PER_TURN, 2),
        "sql_per_bot_turn_by_history": {str(k): round(sum(v.values()) / BOTS_PER_TURN, 2)
                                        for k, v in sql.items()},
        "sql_per_turn_by_kind": sql[10 * audit],
        "persist_turn_ms": {str(k): round(v * 1000, 2) for k, v in persist.items()},
        "persist_ratio_large_vs_small": round(large / small, 3),
        "legacy_blob_bytes": blob_bytes,
        "legacy_turn_ms": round(legacy_audit * 1000, 2),
        "legacy_blob_bytes_10x": blob_bytes_10x,
        "legacy_turn_ms_10x": round(legacy_10x * 1000, 2),
        "legacy_over_ours": round(legacy_audit / small, 3),
        "legacy_over_ours_audit": round(legacy_audit / small, 3),
        "legacy_over_ours_10x": round(legacy_10x / large, 3),
        **ops,
    }))


if __name__ == "__main__":
    main()
