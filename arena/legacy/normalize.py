"""Blob items and table rows → checked records (``arena.legacy.records``).

The three order shapes of the blob (see the legacy README):

- paper, current: ``{id, symbol, type, size, leverage, pnl, fee, timestamp,
  entryPrice, exitPrice}``; ``exitPrice`` 0 marks an entry (its ``pnl`` is -fee).
- paper, older: ``{id, symbol, action, side: entry|exit, price, size, leverage,
  timestamp, pnl}``; no fee field, so the fee is the legacy rule, 3 % of the margin.
- live: numeric exchange ids; one record per exchange fill with ``type`` the fill's
  side (BUY = LONG), ``size`` its quote amount, ``fee`` the commission, ``pnl`` the
  exchange's realized PnL (gross), ``entryPrice == exitPrice`` the fill price. A
  fill with realized PnL closes the opposite side; one without opens ``type``.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from arena.legacy.records import (
    BlobState,
    LegacyBot,
    LegacyDecision,
    LegacyPosition,
    LegacyProvider,
    LegacySnapshot,
    LegacyTrade,
    LegacyUser,
    LegacyWallet,
)
from arena.legacy.values import Where

PAPER_FEE_RATE = Decimal("0.03")  # of the margin, on entry and again on exit
SIDES = ("LONG", "SHORT")
OPPOSITE = {"LONG": "SHORT", "SHORT": "LONG"}
ROLES = ("USER", "ADMIN", "MODERATOR")


def _id(where: Where, value: Any, name: str = "id") -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise where.error(f"{name} must be a non-empty text id of at most 64 characters, got {value!r}")
    return value


def is_live_id(trade_id: str) -> bool:
    """Exchange trade ids are numbers; the paper engine's are ``order_<ms>_<rand>``."""
    return trade_id.isdigit()


# --- orders and trades ---------------------------------------------------------------


def order_from_blob(item: Any, where: Where) -> LegacyTrade:
    item = where.mapping(item, "the order")
    trade_id = _id(where, item.get("id"))
    where = where.inner(f"(id {trade_id!r})")
    at = where.epoch_ms(item.get("timestamp"), "timestamp")
    symbol = where.symbol(item.get("symbol"))
    if is_live_id(trade_id):
        return _live_fill(item, trade_id, symbol, at, where)
    if "side" in item and "action" in item:
        return _older_order(item, trade_id, symbol, at, where)
    return _current_order(item, trade_id, symbol, at, where)


def _current_order(item: dict, trade_id: str, symbol: str, at: datetime, where: Where) -> LegacyTrade:
    size = where.positive(item.get("size"), "size")
    exit_price = where.number(item.get("exitPrice"), "exitPrice", optional=True)
    if exit_price is not None and exit_price < 0:
        raise where.error(f"exitPrice must not be negative, got {exit_price}")
    closing = bool(exit_price)
    entry_price = where.positive(item.get("entryPrice"), "entryPrice")
    fee = item.get("fee")
    return LegacyTrade(
        id=trade_id, kind="CLOSE" if closing else "OPEN", side=where.choice(item.get("type"), "type", SIDES),
        symbol=symbol, price=exit_price if closing else entry_price, entry_price=entry_price, size=size,
        leverage=where.leverage(item.get("leverage")),
        fee=size * PAPER_FEE_RATE if fee is None else where.not_negative(fee, "fee"),
        pnl=where.required(item.get("pnl"), "pnl") if closing else None, at=at, where=where, in_blob=True,
    )


def _older_order(item: dict, trade_id: str, symbol: str, at: datetime, where: Where) -> LegacyTrade:
    size = where.positive(item.get("size"), "size")
    stage = item.get("side")
    if stage not in ("entry", "exit"):
        raise where.error(f"side must be \"entry\" or \"exit\", got {stage!r}")
    closing = stage == "exit"
    price = where.positive(item.get("price"), "price")
    return LegacyTrade(
        id=trade_id, kind="CLOSE" if closing else "OPEN",
        side=where.choice(item.get("action"), "action", SIDES), symbol=symbol,
        price=price, entry_price=None if closing else price,
        size=size, leverage=where.leverage(item.get("leverage")), fee=size * PAPER_FEE_RATE,
        pnl=where.required(item.get("pnl"), "pnl") if closing else None, at=at, where=where, in_blob=True,
    )


def _live_fill(item: dict, trade_id: str, symbol: str, at: datetime, where: Where) -> LegacyTrade:
    fill_side = where.choice(item.get("type"), "type", SIDES)
    price = where.positive(item.get("entryPrice") or item.get("exitPrice"), "entryPrice")
    fee = where.not_negative(item.get("fee", 0), "fee")
    realized = where.number(item.get("pnl"), "pnl", optional=True) or Decimal(0)
    closing = realized != 0
    return LegacyTrade(
        id=trade_id, kind="CLOSE" if closing else "OPEN",
        side=OPPOSITE[fill_side] if closing else fill_side, symbol=symbol, price=price, entry_price=None,
        size=where.positive(item.get("size"), "size"),
        leverage=where.leverage(item.get("leverage"), default=1), fee=fee,
        pnl=realized - fee if closing else None, at=at, where=where, live=True, in_blob=True,
    )


def trade_from_row(row: dict[str, Any], where: Where) -> LegacyTrade:
    trade_id = _id(where, row.get("id"))
    where = where.inner(f"id {trade_id!r}")
    kind = where.choice(row.get("action"), "action", ("OPEN", "CLOSE"))
    size = where.positive(row.get("size"), "size")
    live = is_live_id(trade_id)
    entry_price = where.number(row.get("entry_price"), "entry_price", optional=True)
    if entry_price is not None and entry_price <= 0:
        raise where.error(f"entry_price must be positive, got {entry_price}")
    if kind == "OPEN":
        price = where.positive(row.get("entry_price"), "entry_price")
    else:
        price = where.positive(row.get("exit_price") or row.get("entry_price"), "exit_price")
    fee = row.get("fee")
    pnl = where.required(row.get("pnl"), "pnl") if kind == "CLOSE" else None
    fee_value = size * PAPER_FEE_RATE if fee is None else where.not_negative(fee, "fee")
    return LegacyTrade(
        id=trade_id, kind=kind, side=where.choice(row.get("trade_type"), "trade_type", SIDES),
        symbol=where.symbol(row.get("symbol")), price=price, entry_price=None if live else entry_price,
        size=size, leverage=where.leverage(row.get("leverage"), default=1), fee=fee_value,
        pnl=pnl, at=where.moment(row.get("executed_at"), "executed_at"), where=where, live=live,
        position_id=_id(where, row["position_id"], "position_id") if row.get("position_id") else None,
        in_table=True,
    )


# --- positions -----------------------------------------------------------------------


def _id_time(where: Where, position_id: str) -> datetime | None:
    """``pos_<ms>_<rand>``: the paper engine named positions by their opening time."""
    parts = position_id.split("_")
    if len(parts) == 3 and parts[0] == "pos" and parts[1].isdigit():
        return where.epoch_ms(int(parts[1]), "the time in the id")
    return None


def position_from_blob(item: Any, where: Where, *, live: bool) -> LegacyPosition:
    item = where.mapping(item, "the position")
    position_id = _id(where, item.get("id"))
    where = where.inner(f"(id {position_id!r})")
    return LegacyPosition(
        id=position_id, symbol=where.symbol(item.get("symbol")),
        side=where.choice(item.get("type"), "type", SIDES),
        entry_price=where.positive(item.get("entryPrice"), "entryPrice"),
        margin=where.positive(item.get("size"), "size"), leverage=where.leverage(item.get("leverage")),
        liquidation_price=where.price_or_none(item.get("liquidationPrice"), "liquidationPrice"),
        stop_loss=where.price_or_none(item.get("stopLoss"), "stopLoss"),
        take_profit=where.price_or_none(item.get("takeProfit"), "takeProfit"),
        unrealized_pnl=where.number(item.get("pnl"), "pnl", optional=True) or Decimal(0),
        status="open", opened_at=None if live else _id_time(where, position_id), closed_at=None,
        where=where, live=live, in_blob=True,
    )


def position_from_row(row: dict[str, Any], where: Where) -> LegacyPosition:
    position_id = _id(where, row.get("id"))
    where = where.inner(f"id {position_id!r}")
    status = (row.get("status") or "open")
    if status not in ("open", "closed"):
        raise where.error(f"status must be open or closed, got {status!r}")
    return LegacyPosition(
        id=position_id, symbol=where.symbol(row.get("symbol")),
        side=where.choice(row.get("position_type"), "position_type", SIDES),
        entry_price=where.positive(row.get("entry_price"), "entry_price"),
        margin=where.positive(row.get("size"), "size"),
        leverage=where.leverage(row.get("leverage"), default=1),
        liquidation_price=where.price_or_none(row.get("liquidation_price"), "liquidation_price"),
        stop_loss=where.price_or_none(row.get("stop_loss"), "stop_loss"),
        take_profit=where.price_or_none(row.get("take_profit"), "take_profit"),
        unrealized_pnl=where.number(row.get("unrealized_pnl"), "unrealized_pnl", optional=True) or Decimal(0),
        status=status,
        opened_at=(where.moment(row.get("opened_at"), "opened_at", optional=True)
                   or _id_time(where, position_id)),
        closed_at=where.moment(row.get("closed_at"), "closed_at", optional=True),
        where=where, in_table=True,
    )


# --- decisions and snapshots ---------------------------------------------------------


def _notes(where: Where, value: Any) -> list[str]:
    return [note if isinstance(note, str) else str(note) for note in where.sequence(value, "notes")]


def _decisions(where: Where, value: Any) -> list[Any]:
    # A model that answered one object instead of a list was wrapped by the legacy too.
    return [value] if isinstance(value, dict) else where.sequence(value, "decisions")


def log_from_blob(item: Any, where: Where) -> LegacyDecision:
    item = where.mapping(item, "the log")
    notes = _notes(where, item.get("notes"))
    return LegacyDecision(
        at=where.epoch_ms(item.get("timestamp"), "timestamp"),
        decisions=_decisions(where, item.get("decisions")), notes=notes,
        prompt=where.text(item.get("prompt"), "prompt", optional=True),
        # The blob kept no success flag; the legacy noted every failure as an error note.
        success=not any("error" in note.lower() for note in notes), where=where, in_blob=True,
    )


def decision_from_row(row: dict[str, Any], where: Where) -> LegacyDecision:
    where = where.inner(f"id {row.get('id')!r}")
    return LegacyDecision(
        at=where.moment(row.get("timestamp"), "timestamp"),
        decisions=_decisions(where, where.json_text(row.get("decisions_json"), "decisions_json")),
        notes=_notes(where, where.json_text(row.get("notes_json"), "notes_json", optional=True)),
        prompt=where.text(row.get("prompt_sent"), "prompt_sent", optional=True),
        success=where.flag(row.get("execution_success"), "execution_success", default=True),
        where=where, table_id=where.count(row.get("id"), "id"),
    )


def snapshot_from_row(row: dict[str, Any], where: Where) -> LegacySnapshot:
    where = where.inner(f"id {row.get('id')!r}")
    win_rate = where.not_negative(row.get("win_rate"), "win_rate")
    if win_rate > 1:
        raise where.error(f"win_rate must be between 0 and 1, got {win_rate}")
    return LegacySnapshot(
        key=f"db:{where.count(row.get('id'), 'id')}", at=where.moment(row.get("timestamp"), "timestamp"),
        balance=where.required(row.get("balance"), "balance"),
        unrealized_pnl=where.required(row.get("unrealized_pnl"), "unrealized_pnl"),
        realized_pnl=where.required(row.get("realized_pnl"), "realized_pnl"),
        total_value=where.required(row.get("total_value"), "total_value"),
        trade_count=where.count(row.get("trade_count"), "trade_count"), win_rate=win_rate,
    )


# --- the blob's bot ------------------------------------------------------------------


def blob_bot_config(item: dict[str, Any], where: Where) -> LegacyBot:
    provider_id = item.get("provider_id")
    initial = item.get("initialBalance")
    return LegacyBot(
        id=_id(where, item.get("id")), user_id=item.get("userId") or None,
        name=where.text(item.get("name"), "name"),
        prompt=where.text(item.get("prompt"), "prompt", optional=True),
        provider_id=None if provider_id is None else _id(where, provider_id, "provider_id"),
        provider_type=where.text(item.get("provider"), "provider", optional=True) or "gemini",
        provider_name=where.text(item.get("providerName"), "providerName", optional=True),
        mode=_mode(where, item.get("tradingMode"), "tradingMode"),
        avatar=where.text(item.get("avatarUrl"), "avatarUrl", optional=True) or None,
        is_active=True, is_paused=where.flag(item.get("isPaused"), "isPaused", default=False),
        created_at=None, symbols=[], history_summary=item.get("history_summary"),
        initial_balance=None if initial is None else where.positive(initial, "initialBalance"), where=where,
    )


def blob_state(item: dict[str, Any], where: Where, *, live: bool) -> BlobState:
    portfolio = where.mapping(item.get("portfolio") or {"balance": 0}, "portfolio")
    state = BlobState(
        balance=where.required(portfolio.get("balance"), "portfolio.balance"),
        realized_pnl=where.number(item.get("realizedPnl"), "realizedPnl", optional=True),
        trade_count=None if item.get("tradeCount") is None else where.count(item["tradeCount"], "tradeCount"),
    )
    for i, raw in enumerate(where.sequence(portfolio.get("positions"), "portfolio.positions")):
        state.positions.append(position_from_blob(raw, where.inner(f"portfolio.positions[{i}]"), live=live))
    seen: dict[str, LegacyTrade] = {}
    for i, raw in enumerate(where.sequence(item.get("orders"), "orders")):
        order = order_from_blob(raw, where.inner(f"orders[{i}]"))
        if order.id in seen:
            state.duplicates += 1
            continue
        seen[order.id] = order
        state.orders.append(order)
    for i, raw in enumerate(where.sequence(item.get("botLogs"), "botLogs")):
        state.logs.append(log_from_blob(raw, where.inner(f"botLogs[{i}]")))
    for i, raw in enumerate(where.sequence(item.get("valueHistory"), "valueHistory")):
        point = where.inner(f"valueHistory[{i}]")
        raw = point.mapping(raw, "the point")
        state.points.append((point.epoch_ms(raw.get("timestamp"), "timestamp"),
                             point.required(raw.get("value"), "value")))
    cooldowns = where.mapping(item.get("symbolCooldowns") or {}, "symbolCooldowns")
    for symbol, until in cooldowns.items():
        state.cooldowns[where.symbol(symbol, "a symbolCooldowns key")] = where.epoch_ms(
            until, f"symbolCooldowns[{symbol!r}]")
    return state


def _mode(where: Where, value: Any, name: str) -> str:
    if value not in ("paper", "real"):
        raise where.error(f"{name} must be \"paper\" or \"real\", got {value!r}")
    return value


# --- configuration tables ------------------------------------------------------------


def user_from_row(row: dict[str, Any], where: Where) -> LegacyUser:
    user_id = _id(where, row.get("id"))
    where = where.inner(f"id {user_id!r}")
    return LegacyUser(
        id=user_id, username=where.text(row.get("username"), "username"),
        password_hash=where.text(row.get("password_hash"), "password_hash", optional=True),
        email=where.text(row.get("email"), "email", optional=True),
        role=where.choice(row.get("role") or "user", "role", ROLES).lower(),
        is_active=where.flag(row.get("is_active"), "is_active", default=True),
        created_at=where.moment(row.get("created_at"), "created_at", optional=True),
        last_login=where.moment(row.get("last_login"), "last_login", optional=True), where=where,
    )


def provider_from_row(row: dict[str, Any], where: Where) -> LegacyProvider:
    provider_id = _id(where, row.get("id"))
    where = where.inner(f"id {provider_id!r}")
    options = where.json_text(row.get("config_json"), "config_json", optional=True) or {}
    return LegacyProvider(
        id=provider_id, user_id=row.get("user_id") or None, name=where.text(row.get("name"), "name"),
        type=where.text(row.get("provider_type"), "provider_type").lower(),
        endpoint=where.text(row.get("api_endpoint"), "api_endpoint", optional=True).strip(),
        model=where.text(row.get("model_name"), "model_name", optional=True).strip(),
        options=where.mapping(options, "config_json"),
        is_active=where.flag(row.get("is_active"), "is_active", default=True),
        created_at=where.moment(row.get("created_at"), "created_at", optional=True), where=where,
    )


def bot_from_row(row: dict[str, Any], where: Where) -> LegacyBot:
    bot_id = _id(where, row.get("id"))
    where = where.inner(f"id {bot_id!r}")
    symbols = where.json_text(row.get("trading_symbols"), "trading_symbols", optional=True) or []
    symbols = [where.symbol(s, "a trading_symbols entry") for s in where.sequence(symbols, "trading_symbols")]
    provider_id = row.get("provider_id")
    return LegacyBot(
        id=bot_id, user_id=row.get("user_id") or None, name=where.text(row.get("name"), "name"),
        prompt=where.text(row.get("prompt"), "prompt", optional=True),
        provider_id=None if provider_id is None else _id(where, provider_id, "provider_id"),
        provider_type="", provider_name="", mode=_mode(where, row.get("trading_mode"), "trading_mode"),
        avatar=None,  # read on its own, when the bot is imported: it can be megabytes
        is_active=where.flag(row.get("is_active"), "is_active", default=True),
        is_paused=where.flag(row.get("is_paused"), "is_paused", default=False),
        created_at=where.moment(row.get("created_at"), "created_at", optional=True), symbols=symbols,
        history_summary=row.get("history_summary"), initial_balance=None, where=where,
    )


def wallet_from_row(row: dict[str, Any], where: Where) -> LegacyWallet:
    wallet_id = _id(where, row.get("id"))
    where = where.inner(f"id {wallet_id!r}")
    return LegacyWallet(
        id=wallet_id, user_id=row.get("user_id") or None, bot_id=row.get("bot_id") or None,
        exchange=where.text(row.get("exchange"), "exchange").strip().lower(),
        address=where.text(row.get("wallet_address"), "wallet_address", optional=True),
        is_active=where.flag(row.get("is_active"), "is_active", default=True),
        created_at=where.moment(row.get("created_at"), "created_at", optional=True), where=where,
    )
