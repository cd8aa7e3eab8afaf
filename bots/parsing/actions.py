"""The validated decision (``Action``) and a parse's result."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bots.parsing.vocabulary import ANALYZE, CLOSE, LONG, SHORT
from trading.risk import CloseRequest, OpenRequest


@dataclass(frozen=True)
class Action:
    """One validated decision. LONG/SHORT carry a symbol and a positive margin;
    CLOSE a position id or a symbol (and maybe a side); ANALYZE a tool and its args."""

    action: str
    symbol: str | None = None
    margin: Decimal | None = None
    leverage: int | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    close_position_id: str | None = None
    side: str | None = None  # which side a CLOSE by symbol means, when the model said
    reasoning: str = ""
    tool: str | None = None
    args: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """For ``Decision.actions``: every field, Decimals as exact strings."""
        def text(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        data = {
            "action": self.action, "symbol": self.symbol, "margin": text(self.margin),
            "leverage": self.leverage, "stop_loss": text(self.stop_loss),
            "take_profit": text(self.take_profit), "close_position_id": self.close_position_id,
            "side": self.side, "reasoning": self.reasoning,
        }
        if self.action == ANALYZE:
            data.update(tool=self.tool, args=dict(self.args))
        return data

    def open_request(self, default_leverage: int) -> OpenRequest:
        """A LONG/SHORT as ``trading.risk.OpenRequest``; leverage defaults when not given."""
        if self.action not in (LONG, SHORT) or self.symbol is None or self.margin is None:
            raise ValueError(f"{self.action} is not an open")
        return OpenRequest(
            symbol=self.symbol, side=self.action, margin=self.margin,
            leverage=self.leverage or default_leverage,
            stop_loss=self.stop_loss, take_profit=self.take_profit,
        )

    def close_request(self) -> CloseRequest:
        """A CLOSE as ``trading.risk.CloseRequest``."""
        if self.action != CLOSE:
            raise ValueError(f"{self.action} is not a close")
        return CloseRequest(position_id=self.close_position_id, symbol=self.symbol, side=self.side)


@dataclass(frozen=True)
class ParseResult:
    actions: list[Action]
    notes: list[str]

