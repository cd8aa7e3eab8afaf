"""Risk rules for opening and closing paper positions, ORM-free.

``check_open`` turns a bot's request into either an ``OpenPlan`` (every number the
engine writes) or a rejection, and explains each adjustment and rejection in a
sentence the bot reads back in its next prompt. The first rejection ends the check;
adjustments made before it stay in the notes. ``check_close`` finds the position a
close means. Callers build the frozen views from the database; nothing here touches it.

The package, by concern:

- ``limits``: ``RiskSettings``, the minimum trade and the bounds of a request;
- ``records``: the frozen views a check reads and the results it returns;
- ``notes``: the rejection that ends a check and how numbers are worded in notes;
- ``sizing``: leverage against the tier brackets, margin against the balance;
- ``protection``: stop-loss and take-profit against the entry and liquidation price;
- ``opening``: ``check_open``;
- ``closing``: ``check_close``.
"""
from __future__ import annotations

from trading.risk.closing import check_close
from trading.risk.limits import MAX_LEVERAGE, MAX_MARGIN, MAX_PRICE, MIN_TRADE_USDT, RiskSettings
from trading.risk.opening import check_open
from trading.risk.records import (
    CloseCheck,
    CloseRequest,
    MarketView,
    OpenCheck,
    OpenPlan,
    OpenPositionView,
    OpenRequest,
    PortfolioView,
)

__all__ = [
    "MAX_LEVERAGE",
    "MAX_MARGIN",
    "MAX_PRICE",
    "MIN_TRADE_USDT",
    "CloseCheck",
    "CloseRequest",
    "MarketView",
    "OpenCheck",
    "OpenPlan",
    "OpenPositionView",
    "OpenRequest",
    "PortfolioView",
    "RiskSettings",
    "check_close",
    "check_open",
]
