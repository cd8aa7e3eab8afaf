"""Clients for Binance-compatible futures exchanges (Binance USDⓈ-M, Aster DEX).

The broker codes against the names below: ``ExchangeClient`` (one method per REST endpoint),
the parsed answers, the pre-send rules, and ``ExchangeError``, whose ``permanent`` and
``unknown`` flags say whether a failed request may be retried or must be looked up first.
"""
from __future__ import annotations

from trading.exchanges.client import ExchangeClient
from trading.exchanges.errors import ORDER_UNKNOWN_CODES, ExchangeError
from trading.exchanges.rules import decimal_text, order_refusal, price_to_tick, quantity_floor
from trading.exchanges.types import (
    ApiRestrictions,
    Balance,
    ConditionalOrder,
    ExchangeOrder,
    ExchangePosition,
    Income,
    SymbolRules,
    UserTrade,
)

__all__ = [
    "ORDER_UNKNOWN_CODES",
    "ApiRestrictions",
    "Balance",
    "ConditionalOrder",
    "ExchangeClient",
    "ExchangeError",
    "ExchangeOrder",
    "ExchangePosition",
    "Income",
    "SymbolRules",
    "UserTrade",
    "decimal_text",
    "order_refusal",
    "price_to_tick",
    "quantity_floor",
]
