"""Benchmark of the legacy import (``migrate_arena_state``): rows per second and peak memory.

Builds synthetic legacy arenas at 1x, 10x and 100x the audited legacy size (1x = a
2.7 MB arena_state blob and ~18,000 snapshot rows; ``--quick``: 1x and 10x) and
imports each into a fresh SQLite database in a subprocess of its own, which reports
its wall time and its peak resident memory (VmHWM; ``ru_maxrss`` off Linux). A k-times arena has
6·√k bots, each with √k times the history of a 1x bot, so both the number of bots
and the length of each bot's history grow.

    python bench/migrate.py --quick

The last line printed is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MINUTE_MS = 60_000
START_MS = 1_761_955_200_000  # 2025-11-01T00:00:00Z
SYMBOLS = [("BTCUSDT", 60000.0), ("ETHUSDT", 3000.0), ("SOLUSDT", 150.0), ("BNBUSDT", 600.0),
           ("DOGEUSDT", 0.15), ("XRPUSDT", 0.6)]
PROMPT = ("You are a disciplined momentum trader. Total value: 10000.00. Open positions: none. "
          "Market data follows. ") * 18  # a rendered prompt of about 1.7 kB, as the legacy kept


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


class BotHistory:
    """One legacy paper bot: ``pairs`` round trips, a snapshot every 10 minutes."""

    def __init__(self, index: int, scale: float) -> None:
        self.id = f"bot_{index:04d}"
        self.index = index
        self.pairs = int(820 * scale)
        self.snapshots = int(3000 * scale)
        self.orders: list[dict] = []
        self.trades: list[tuple] = []
        self.positions: list[tuple] = []
        self.balance = 10000.0
        self.realized = 0.0
        self.open: dict | None = None

    def trade(self) -> None:
        for i in range(self.pairs):
            symbol, price = SYMBOLS[i % len(SYMBOLS)]
            side = "LONG" if i % 3 else "SHORT"
            margin, leverage = 100.0 + (i % 7) * 50, 1 + i % 20
            opened, closed = START_MS + i * 40 * MINUTE_MS, START_MS + (i * 40 + 30) * MINUTE_MS
            exit_price = price * (1.01 if i % 2 else 0.99)
            quantity = margin * leverage / price
            gross = (exit_price - price) * quantity * (1 if side == "LONG" else -1)
            fee = margin * 0.03
            tag = f"{self.index:03x}{i:05x}"  # ids are unique across bots, as the tables' keys were
            pos_id, entry_id = f"pos_{opened}_{tag}", f"order_{opened}_{tag}"
            exit_id = f"order_{closed}_{tag}"
            last = i == self.pairs - 1
            self.orders.append({"id": entry_id, "symbol": symbol, "type": side, "size": margin,
                                "leverage": leverage, "pnl": -fee, "fee": fee, "timestamp": opened,
                                "entryPrice": price, "exitPrice": 0})
            self.balance -= margin
            dual = i >= self.pairs // 2  # the tables were written only in the later "dual write" era
            if dual:
                self.positions.append((pos_id, self.id, symbol, side, price, margin, leverage,
                                       "open" if last else "closed", iso(opened),
                                       None if last else iso(closed)))
                self.trades.append((entry_id, self.id, pos_id, symbol, side, "OPEN", price, None, margin,
                                    leverage, -fee, fee, iso(opened + 2)))
            if last:
                self.open = {"id": pos_id, "symbol": symbol, "type": side, "entryPrice": price,
                             "size": margin, "leverage": leverage, "liquidationPrice": price / 2,
                             "stopLoss": None, "takeProfit": None, "pnl": 0}
                break
            net = gross - fee
            self.balance += margin + net
            self.realized += net
            self.orders.append({"id": exit_id, "symbol": symbol, "type": side, "size": margin,
                                "leverage": leverage, "pnl": net, "fee": fee, "timestamp": closed,
                                "entryPrice": price, "exitPrice": exit_price})
            if dual:
                self.trades.append((exit_id, self.id, pos_id, symbol, side, "CLOSE", price, exit_price,
                                    margin, leverage, net, fee, iso(closed + 2)))

    def blob(self) -> dict:
        logs = [{"timestamp": START_MS + (self.pairs - k) * 10 * MINUTE_MS, "decisions": [],
                 "prompt": PROMPT, "notes": ["HOLD: no action taken"]} for k in range(50)]
        points = [{"timestamp": self.snapshot_ms(self.snapshots - 300 + k), "value": self.balance}
                  for k in range(300)]
        return {"id": self.id, "userId": "0" * 32, "provider_id": 1, "history_summary": None, "name": self.id,
                "prompt": "Trade. {{marketData}}", "provider": "gemini", "providerName": "Gemini",
                "avatarUrl": None, "tradingMode": "paper", "initialBalance": 10000,
                "portfolio": {"balance": self.balance, "pnl": 0, "totalValue": self.balance,
                              "positions": [self.open] if self.open else []},
                "orders": self.orders[::-1], "botLogs": logs, "valueHistory": points,
                "realizedPnl": self.realized, "tradeCount": self.pairs - 1, "winRate": 0.5,
                "symbolCooldowns": {"BTCUSDT": START_MS}, "isLoading": False, "isPaused": False}

    def snapshot_ms(self, k: int) -> int:
        return START_MS + k * 10 * MINUTE_MS + 2000

    def decision_rows(self):
        for k in range(self.pairs * 2):
            yield (self.id, "template", "[]", '["HOLD: no action taken"]', 1,
                   iso(START_MS + (self.pairs * 2 - 1 - k) * 10 * MINUTE_MS + 5))

    def snapshot_rows(self):
        for k in range(self.snapshots):
            yield (self.id, self.balance, 0.0, self.realized, self.balance, self.pairs - 1, 0.5,
                   iso(self.snapshot_ms(k)))


def build(path: Path, size: int) -> dict:
    """A synthetic legacy arena.db ``size`` times the audited size; returns its shape."""
    from tests.arena.legacy_factory import SCHEMA, bcrypt_hash

    bots, scale = round(6 * math.sqrt(size)), math.sqrt(size)
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    db.execute("INSERT INTO users (id, username, password_hash, role) VALUES (?, 'bench', ?, 'user')",
               ("0" * 32, bcrypt_hash("bench-password")))
    db.execute("INSERT INTO llm_providers (user_id, name, provider_type, api_endpoint, model_name) VALUES "
               "(?, 'Gemini', 'gemini', 'https://generativelanguage.googleapis.com/v1beta', "
               "'gemini-2.5-flash')",
               ("0" * 32,))
    parts, shape = [], {"bots": bots, "snapshots": 0, "orders": 0}
    for index in range(bots):
        bot = BotHistory(index, scale)
        bot.trade()
        db.execute("INSERT INTO bots (id, user_id, name, prompt, provider_id, trading_mode) VALUES "
                   "(?, ?, ?, 'Trade.', 1, 'paper')", (bot.id, "0" * 32, bot.id))
        db.executemany("INSERT INTO trades (id, bot_id, position_id, symbol, trade_type, action, "
                       "entry_price, exit_price, size, leverage, pnl, fee, executed_at) "
                       "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                       bot.trades)
        db.executemany("INSERT INTO positions (id, bot_id, symbol, position_type, entry_price, size, "
                       "leverage, status, opened_at, closed_at) VALUES (?,?,?,?,?,?,?,?,?,?)", bot.positions)
        db.executemany("INSERT INTO bot_decisions (bot_id, prompt_sent, decisions_json, notes_json, "
                       "execution_success, timestamp) VALUES (?,?,?,?,?,?)", bot.decision_rows())
        db.executemany("INSERT INTO bot_state_snapshots (bot_id, balance, unrealized_pnl, realized_pnl, "
                       "total_value, trade_count, win_rate, timestamp) VALUES (?,?,?,?,?,?,?,?)",
                       bot.snapshot_rows())
        parts.append(json.dumps(bot.blob()))
        shape["snapshots"] += bot.snapshots
        shape["orders"] += len(bot.orders)
    state = '{"bots": [' + ", ".join(parts) + '], "marketData": []}'
    db.execute("INSERT INTO arena_state (id, state, updated_at) VALUES (1, ?, ?)", (state, None))
    db.commit()
    db.close()
    shape["blob_bytes"] = len(state.encode())
    return shape


def child(legacy: str, database_url: str) -> None:
    """Import ``legacy`` into a fresh database; print seconds, rows and peak memory."""
    # Production settings (DEBUG off: no query log), with throwaway keys.
    os.environ.update({"DEBUG": "0", "DATABASE_URL": database_url, "LOG_LEVEL": "warning",
                       "DJANGO_SETTINGS_MODULE": "arena.settings", "SECRET_KEY": "bench-" + "k3y-" * 16,
                       "ENCRYPTION_KEY": "bXlfYmVuY2hfZW5jcnlwdGlvbl9rZXlfMzJfYnl0ZXM="})
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from arena.legacy.importer import Options, migrate

    started = time.perf_counter()
    report = migrate(Options(path=legacy))
    seconds = time.perf_counter() - started
    rows = sum(report.created.values())
    print(json.dumps({"seconds": round(seconds, 2), "rows": rows, "proof_ok": report.proof_ok,
                      "peak_rss_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """This process's peak resident memory. Linux's VmHWM belongs to the process image
    itself; ``ru_maxrss`` also counts what the parent held when it forked this child
    (the generated arena), so it is only the fallback."""
    try:
        status = Path("/proc/self/status").read_text()
        return round(int(status.split("VmHWM:")[1].split()[0]) / 1024, 1)
    except (OSError, IndexError, ValueError):
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run(size: int, workdir: Path) -> dict:
    legacy = workdir / f"arena-{size}x.db"
    started = time.perf_counter()
    shape = build(legacy, size)
    built = time.perf_counter() - started
    env = {**os.environ, "ARENA_VAR_DIR": str(workdir / f"var-{size}")}
    url = f"sqlite:///{workdir / f'import-{size}x.sqlite3'}"
    done = subprocess.run([sys.executable, __file__, "--child", str(legacy), url], env=env, check=True,
                          capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result.update(size=f"{size}x", build_seconds=round(built, 1), rows_per_second=round(
        result["rows"] / result["seconds"]), **shape)
    print(f"{size:>4}x: {shape['bots']} bots, blob {shape['blob_bytes'] / 1e6:.1f} MB, "
          f"{shape['snapshots']:,} snapshot rows -> {result['rows']:,} rows in {result['seconds']} s "
          f"({result['rows_per_second']:,} rows/s), peak {result['peak_rss_mb']} MB, "
          f"proof {'ok' if result['proof_ok'] else 'FAILED'}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1x and 10x only (under a minute)")
    parser.add_argument("--child", nargs=2, metavar=("LEGACY", "DATABASE_URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    sizes = [1, 10] if args.quick else [1, 10, 100]
    with tempfile.TemporaryDirectory(prefix="arena-bench-migrate-") as tmp:
        results = [run(size, Path(tmp)) for size in sizes]
    print(json.dumps({
        "benchmark": "migrate",
        "database": "sqlite",
        "quick": args.quick,
        "results": {r["size"]: {k: r[k] for k in ("bots", "blob_bytes", "snapshots", "rows", "seconds",
                                                  "rows_per_second", "peak_rss_mb", "proof_ok")}
                    for r in results},
    }))


if __name__ == "__main__":
    main()
