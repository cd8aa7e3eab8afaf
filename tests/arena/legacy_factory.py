"""Builds legacy arenas (``arena.db`` and the JSON blob) for the import's tests.

``LegacyArena`` plays the legacy server: ``bot.open()`` and ``bot.close()`` move the
blob portfolio's balance the way the legacy paper engine did (margin out on open,
margin + net PnL back on close, the 3 % entry fee recorded but never taken), and
write the matching table rows unless told to leave one source out — which is how
the legacy's incomplete dual writes are reproduced.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import bcrypt

START = datetime(2025, 11, 1, tzinfo=UTC)
FEE_RATE = 0.03

SCHEMA = """
CREATE TABLE users (id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,
  recovery_phrase_hash TEXT, email TEXT UNIQUE, role TEXT NOT NULL DEFAULT 'user',
  created_at TIMESTAMP, updated_at TIMESTAMP, last_login TIMESTAMP, is_active BOOLEAN DEFAULT 1);
CREATE TABLE llm_providers (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT, name TEXT NOT NULL,
  provider_type TEXT NOT NULL, api_endpoint TEXT NOT NULL, model_name TEXT, api_key_encrypted TEXT,
  config_json TEXT, is_active BOOLEAN DEFAULT 1, created_at TIMESTAMP, updated_at TIMESTAMP);
CREATE TABLE bots (id TEXT PRIMARY KEY, user_id TEXT, name TEXT NOT NULL, prompt TEXT NOT NULL,
  provider_id INTEGER NOT NULL, trading_mode TEXT NOT NULL, avatar_image TEXT, is_active BOOLEAN DEFAULT 1,
  is_paused BOOLEAN DEFAULT 0, created_at TIMESTAMP, updated_at TIMESTAMP, trading_symbols TEXT,
  history_summary TEXT);
CREATE TABLE wallets (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT, bot_id TEXT NOT NULL,
  exchange TEXT NOT NULL, api_key_encrypted TEXT NOT NULL, api_secret_encrypted TEXT NOT NULL,
  wallet_address TEXT, is_active BOOLEAN DEFAULT 1, created_at TIMESTAMP, updated_at TIMESTAMP);
CREATE TABLE arena_state (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL, updated_at INTEGER);
CREATE TABLE bot_state_snapshots (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT, bot_id TEXT NOT NULL,
  balance REAL NOT NULL, unrealized_pnl REAL NOT NULL, realized_pnl REAL NOT NULL, total_value REAL NOT NULL,
  trade_count INTEGER NOT NULL, win_rate REAL NOT NULL, timestamp TIMESTAMP);
CREATE TABLE positions (id TEXT PRIMARY KEY, user_id TEXT, bot_id TEXT NOT NULL, symbol TEXT NOT NULL,
  position_type TEXT NOT NULL, entry_price REAL NOT NULL, size REAL NOT NULL, leverage INTEGER DEFAULT 1,
  liquidation_price REAL, stop_loss REAL, take_profit REAL, unrealized_pnl REAL DEFAULT 0,
  status TEXT DEFAULT 'open', opened_at TIMESTAMP, closed_at TIMESTAMP);
CREATE TABLE trades (id TEXT PRIMARY KEY, user_id TEXT, bot_id TEXT NOT NULL, position_id TEXT,
  symbol TEXT NOT NULL, trade_type TEXT NOT NULL, action TEXT NOT NULL, entry_price REAL, exit_price REAL,
  size REAL NOT NULL, leverage INTEGER, pnl REAL, fee REAL, executed_at TIMESTAMP);
CREATE TABLE bot_decisions (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT, bot_id TEXT NOT NULL,
  prompt_sent TEXT NOT NULL, decisions_json TEXT NOT NULL, notes_json TEXT,
  execution_success BOOLEAN NOT NULL, timestamp TIMESTAMP);
CREATE TABLE system_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, data_type TEXT, description TEXT,
  updated_at TIMESTAMP);
"""


def at(minutes: float) -> datetime:
    """A moment ``minutes`` after the factory's start."""
    return START + timedelta(minutes=minutes)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def bcrypt_hash(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()


@dataclass
class LegacyBot:
    arena: LegacyArena
    row: dict[str, Any] | None
    blob: dict[str, Any] | None
    positions: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return (self.row or self.blob or {})["id"]

    def _next(self, width: int) -> str:
        # Legacy ids are unique across bots (they are the tables' primary keys).
        self.arena.counter += 1
        return f"{self.arena.counter:0{width}x}"

    # --- paper trading, the legacy way ------------------------------------------------

    def open(self, symbol: str, side: str, margin: float, leverage: int, price: float, *, minute: float,
             blob: bool = True, table: bool = True, position_row: bool = True) -> str:
        moment = at(minute)
        position_id = f"pos_{ms(moment)}_{self._next(5)}"
        order_id = f"order_{ms(moment)}_{self._next(7)}"
        liquidation = price * (1 - 1 / leverage) if side == "LONG" else price * (1 + 1 / leverage)
        position = {"id": position_id, "symbol": symbol, "type": side, "entryPrice": price, "size": margin,
                    "leverage": leverage, "liquidationPrice": liquidation, "stopLoss": None,
                    "takeProfit": None, "pnl": 0}
        self.positions[position_id] = position
        fee = margin * FEE_RATE
        if self.blob is not None:
            self.blob["portfolio"]["positions"].append(dict(position))
            self.blob["portfolio"]["balance"] -= margin  # the entry fee is never taken (legacy bug)
            if blob:
                self.blob["orders"].insert(0, {
                    "id": order_id, "symbol": symbol, "type": side, "size": margin, "leverage": leverage,
                    "pnl": -fee, "fee": fee, "timestamp": ms(moment), "entryPrice": price, "exitPrice": 0})
        if table:
            if position_row:
                self.arena.positions.append({
                    "id": position_id, "user_id": self.user_id, "bot_id": self.id, "symbol": symbol,
                    "position_type": side, "entry_price": price, "size": margin, "leverage": leverage,
                    "liquidation_price": liquidation, "stop_loss": None, "take_profit": None,
                    "unrealized_pnl": 0, "status": "open", "opened_at": iso(moment), "closed_at": None})
            self.arena.trades.append({
                "id": order_id, "user_id": self.user_id, "bot_id": self.id, "position_id": position_id,
                "symbol": symbol, "trade_type": side, "action": "OPEN", "entry_price": price,
                "exit_price": None, "size": margin, "leverage": leverage, "pnl": -fee, "fee": fee,
                "executed_at": iso(moment + timedelta(milliseconds=2))})
        return position_id

    def close(self, position_id: str, price: float, *, minute: float, blob: bool = True,
              table: bool = True) -> str:
        moment = at(minute)
        position = self.positions.pop(position_id)
        quantity = position["size"] * position["leverage"] / position["entryPrice"]
        gross = (price - position["entryPrice"]) * quantity * (1 if position["type"] == "LONG" else -1)
        fee = position["size"] * FEE_RATE
        net = gross - fee
        order_id = f"order_{ms(moment)}_{self._next(7)}"
        if self.blob is not None:
            self.blob["portfolio"]["positions"] = [
                p for p in self.blob["portfolio"]["positions"] if p["id"] != position_id]
            self.blob["portfolio"]["balance"] += position["size"] + net
            self.blob["realizedPnl"] += net
            self.blob["tradeCount"] += 1
            if blob:
                self.blob["orders"].insert(0, {
                    "id": order_id, "symbol": position["symbol"], "type": position["type"],
                    "size": position["size"], "leverage": position["leverage"], "pnl": net, "fee": fee,
                    "timestamp": ms(moment), "entryPrice": position["entryPrice"], "exitPrice": price})
        if table:
            for row in self.arena.positions:
                if row["id"] == position_id:
                    row.update(status="closed", closed_at=iso(moment))
            self.arena.trades.append({
                "id": order_id, "user_id": self.user_id, "bot_id": self.id, "position_id": position_id,
                "symbol": position["symbol"], "trade_type": position["type"], "action": "CLOSE",
                "entry_price": position["entryPrice"], "exit_price": price, "size": position["size"],
                "leverage": position["leverage"], "pnl": net, "fee": fee,
                "executed_at": iso(moment + timedelta(milliseconds=2))})
        return order_id

    def older_round_trip(self, symbol: str, side: str, margin: float, leverage: int, entry: float,
                         exit: float, *, minute: float) -> tuple[str, str]:
        """An entry and an exit in the older order shape (blob only, no fee field)."""
        quantity = margin * leverage / entry
        gross = (exit - entry) * quantity * (1 if side == "LONG" else -1)
        net = gross - margin * FEE_RATE
        ids = []
        for offset, stage, price, pnl in ((0, "entry", entry, -margin * FEE_RATE), (30, "exit", exit, net)):
            moment = at(minute + offset)
            ids.append(f"order_{ms(moment)}_{self._next(7)}")
            self.blob["orders"].insert(0, {"id": ids[-1], "symbol": symbol, "action": side, "side": stage,
                                           "price": price, "size": margin, "leverage": leverage,
                                           "timestamp": ms(moment), "pnl": pnl})
        self.blob["portfolio"]["balance"] += net
        self.blob["realizedPnl"] += net
        self.blob["tradeCount"] += 1
        return ids[0], ids[1]

    def live_fill(self, trade_id: int, symbol: str, fill_side: str, quote: float, price: float, *,
                  minute: float, pnl: float = 0.0, fee: float = 0.1) -> None:
        self.blob["orders"].insert(0, {
            "id": str(trade_id), "symbol": symbol, "type": fill_side, "size": quote, "leverage": 1,
            "pnl": pnl, "fee": fee, "timestamp": ms(at(minute)), "entryPrice": price, "exitPrice": price})

    # --- decisions, snapshots, cooldowns ------------------------------------------------

    def decide(self, minute: float, decisions: list[dict], notes: list[str] | None = None, *,
               blob: bool = True, table: bool = True, lag_ms: int = 7) -> None:
        moment = at(minute)
        notes = notes if notes is not None else ["HOLD: no action taken"]
        if blob and self.blob is not None:
            self.blob["botLogs"].insert(0, {"timestamp": ms(moment), "decisions": decisions,
                                            "prompt": f"prompt at {minute}", "notes": notes})
        if table:
            self.arena.decisions.append({
                "user_id": self.user_id, "bot_id": self.id, "prompt_sent": "template",
                "decisions_json": json.dumps(decisions), "notes_json": json.dumps(notes),
                "execution_success": 1, "timestamp": iso(moment + timedelta(milliseconds=lag_ms))})

    def snapshot(self, minute: float, *, table: bool = True, point: bool = True) -> None:
        moment = at(minute)
        portfolio = self.blob["portfolio"]
        margin = sum(p["size"] for p in portfolio["positions"])
        total = portfolio["balance"] + margin
        if point:
            self.blob["valueHistory"].append({"timestamp": ms(moment), "value": total})
        if table:
            self.arena.snapshots.append({
                "user_id": self.user_id, "bot_id": self.id, "balance": portfolio["balance"],
                "unrealized_pnl": 0.0, "realized_pnl": self.blob["realizedPnl"], "total_value": total,
                "trade_count": self.blob["tradeCount"], "win_rate": 0.5, "timestamp": iso(moment)})

    @property
    def user_id(self) -> str | None:
        return (self.row or {}).get("user_id") or (self.blob or {}).get("userId")


@dataclass
class LegacyArena:
    users: list[dict[str, Any]] = field(default_factory=list)
    providers: list[dict[str, Any]] = field(default_factory=list)
    bot_rows: list[dict[str, Any]] = field(default_factory=list)
    blob_bots: list[dict[str, Any]] = field(default_factory=list)
    wallets: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, tuple[str, str]] = field(default_factory=lambda: {
        "paper_bot_initial_balance": ("10000", "number"), "live_bot_initial_balance": ("950", "number")})
    trades: list[dict[str, Any]] = field(default_factory=list)
    positions: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    market: list[dict[str, Any]] = field(default_factory=lambda: [{"symbol": "BTCUSDT", "price": 60000,
                                                                   "price24hChange": 1.5}])
    updated_at: datetime | None = None
    counter: int = 0

    def user(self, username: str, *, password: str = "legacy-pass-123", role: str = "user",
             password_hash: str | None = None, active: bool = True) -> dict[str, Any]:
        row = {"id": f"{len(self.users) + 1:032x}", "username": username,
               "password_hash": password_hash if password_hash is not None else bcrypt_hash(password),
               "email": f"{username}@example.org", "role": role, "created_at": iso(START),
               "is_active": 1 if active else 0}
        self.users.append(row)
        return row

    def provider(self, owner: dict | None, *, name: str = "Gemini", type: str = "gemini",
                 endpoint: str = "https://generativelanguage.googleapis.com/v1beta",
                 model: str | None = "gemini-2.5-flash") -> dict[str, Any]:
        row = {"id": len(self.providers) + 1, "user_id": owner["id"] if owner else None, "name": name,
               "provider_type": type, "api_endpoint": endpoint, "model_name": model,
               "api_key_encrypted": "bGVnYWN5LWNpcGhlcnRleHQ=", "config_json": '{"temperature": 0.7}',
               "is_active": 1, "created_at": iso(START)}
        self.providers.append(row)
        return row

    def bot(self, bot_id: str, owner: dict | None, provider: dict, *, name: str | None = None,
            mode: str = "paper", paused: bool = False, active: bool = True, table: bool = True,
            blob: bool = True, balance: float = 10000.0, **row: Any) -> LegacyBot:
        table_row = None
        if table:
            table_row = {"id": bot_id, "user_id": owner["id"] if owner else None, "name": name or bot_id,
                         "prompt": f"You are {bot_id}. {{{{marketData}}}}", "provider_id": provider["id"],
                         "trading_mode": mode, "avatar_image": None, "is_active": 1 if active else 0,
                         "is_paused": 1 if paused else 0, "created_at": iso(START), "trading_symbols": None,
                         "history_summary": None, **row}
            self.bot_rows.append(table_row)
        blob_bot = None
        if blob:
            blob_bot = {"id": bot_id, "userId": owner["id"] if owner else None, "provider_id": provider["id"],
                        "history_summary": None, "name": name or bot_id, "prompt": "p", "provider": "gemini",
                        "providerName": provider["name"], "avatarUrl": None, "tradingMode": mode,
                        "initialBalance": balance,
                        "portfolio": {"balance": balance, "pnl": 0, "totalValue": balance, "positions": []},
                        "orders": [], "botLogs": [], "valueHistory": [], "realizedPnl": 0, "tradeCount": 0,
                        "winRate": 0, "symbolCooldowns": {}, "isLoading": False, "isPaused": paused}
            self.blob_bots.append(blob_bot)
        return LegacyBot(arena=self, row=table_row, blob=blob_bot)

    def wallet(self, owner: dict, bot: LegacyBot, *, exchange: str = "binance") -> dict[str, Any]:
        row = {"id": len(self.wallets) + 1, "user_id": owner["id"], "bot_id": bot.id, "exchange": exchange,
               "api_key_encrypted": "x", "api_secret_encrypted": "y", "wallet_address": "0xabc",
               "is_active": 1, "created_at": iso(START)}
        self.wallets.append(row)
        return row

    # --- writing ------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {"bots": self.blob_bots, "marketData": self.market}

    def state_json(self) -> str:
        return json.dumps(self.state(), default=_plain)

    def write_json(self, path: Path) -> Path:
        path.write_text(self.state_json())
        return path

    def write_db(self, path: Path) -> Path:
        if path.exists():
            path.unlink()
        connection = sqlite3.connect(path)
        connection.executescript(SCHEMA)
        tables = {"users": self.users, "llm_providers": self.providers, "bots": self.bot_rows,
                  "wallets": self.wallets, "trades": self.trades, "positions": self.positions,
                  "bot_decisions": self.decisions, "bot_state_snapshots": self.snapshots}
        for table, rows in tables.items():
            for row in rows:
                columns = ", ".join(row)
                marks = ", ".join("?" for _ in row)
                connection.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values()))
        for key, (value, kind) in self.settings.items():
            connection.execute("INSERT INTO system_settings (key, value, data_type) VALUES (?, ?, ?)",
                               (key, value, kind))
        if self.blob_bots:
            updated = ms(self.updated_at) if self.updated_at else None
            connection.execute("INSERT INTO arena_state (id, state, updated_at) VALUES (1, ?, ?)",
                               (self.state_json(), updated))
        connection.commit()
        connection.close()
        return path


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON: {value!r}")


# --- running the command ------------------------------------------------------------------


def run_import(path: Path | str, *args: str) -> str:
    """``manage.py migrate_arena_state PATH ARGS``; returns what it printed."""
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("migrate_arena_state", str(path), *args, stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    """Rows in every table an import writes: equal before and after means nothing written."""
    from arena.models import User
    from bots.models import Bot, Decision, LLMProvider
    from ledger.models import Account, Entry, Snapshot
    from trading.models import Cooldown, Position, Trade, Wallet

    models = (User, LLMProvider, Bot, Decision, Account, Entry, Snapshot, Cooldown, Position, Trade, Wallet)
    return {model.__name__: model.objects.count() for model in models}
