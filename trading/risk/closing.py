"""Planning a close: ``check_close`` finds the open position a close request means."""
from __future__ import annotations

from trading.perps import SIDES
from trading.risk.records import CloseCheck, CloseRequest, PortfolioView


def check_close(request: CloseRequest, portfolio: PortfolioView) -> CloseCheck:
    """The open position ``request`` names, or why there is none."""
    positions = portfolio.open_positions
    if request.position_id is not None:
        found = [p for p in positions if str(p.id) == str(request.position_id)]
        if not found:
            return CloseCheck(None, [f"no open position {request.position_id} of this bot"])
        position = found[0]
        if request.symbol is not None and request.symbol != position.symbol:
            return CloseCheck(
                None, [f"position {position.id} is {position.symbol}, not {request.symbol}: not closed"]
            )
        return CloseCheck(position, [])
    if request.symbol is None:
        return CloseCheck(None, ["a close names a position id or a symbol"])
    if request.side is not None and request.side not in SIDES:
        return CloseCheck(None, [f"side {request.side!r} is neither LONG nor SHORT"])
    found = [
        p for p in positions
        if p.symbol == request.symbol and (request.side is None or p.side == request.side)
    ]
    if not found:
        which = f"{request.side} {request.symbol}" if request.side else request.symbol
        return CloseCheck(None, [f"no open {which} position of this bot"])
    if len(found) > 1:
        return CloseCheck(
            None,
            [f"both LONG and SHORT {request.symbol} positions are open: say which side to close"],
        )
    return CloseCheck(found[0], [])
