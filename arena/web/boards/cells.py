"""How the boards show the API's figures: pure functions from its serialized values (ratios as
fractions, money as decimal strings, ``reasons`` for each null) to table cells, and the small
choices the pages offer (periods, sort links, chart ranges).

A figure is never re-computed here, only formatted: a null stays a null ("—") and carries
the API's reason, so a page and ``/api/…`` can never disagree.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from django.utils.dateparse import parse_datetime

from arena.analytics.params import AnalyticsError, Range

DASH = "—"
# The columns a board of period figures shows: (figure, heading, kind).
BOARD_COLUMNS = (
    ("total_return", "Return", "signed_pct"),
    ("pnl", "PnL", "signed_money"),
    ("sharpe", "Sharpe", "ratio"),
    ("max_drawdown", "Max drawdown", "pct"),
    ("win_rate", "Win rate", "pct"),
    ("trades", "Trades", "count"),
    ("profit_factor", "Profit factor", "ratio"),
    ("fees_paid", "Fees", "money"),
    ("llm_cost", "LLM cost", "money"),
    ("return_net_of_llm_cost", "Net of LLM", "signed_pct"),
)
PERIOD_TABS = (("day", "Today"), ("week", "7 days"), ("month", "30 days"), ("all", "All time"))
# A chart's range: the last day, 7 or 30 days, or everything (None: from the earliest point).
RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30), "all": None}
RANGE_LABELS = {"24h": "24 h", "7d": "7 days", "30d": "30 days", "all": "All"}
DEFAULT_RANGE = "7d"


def _number(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def tone_of(value) -> str:
    """``pos``, ``neg`` or ``""``: the class that colours a signed figure."""
    number = _number(value)
    if number is None or number == 0:
        return ""
    return "pos" if number > 0 else "neg"


def format_value(value, kind: str) -> str:
    """``value`` as the pages show a figure of ``kind``: signed_pct (+1.23 %), pct (1.23 %),
    signed_money (+1,234.57), money (1,234.57), ratio (1.23), count (1,234); null is "—"."""
    number = _number(value)
    if number is None:
        return DASH
    if kind in ("pct", "signed_pct"):
        text = f"{number * 100:,.2f} %"
    elif kind in ("money", "signed_money"):
        text = f"{number:,.2f}"
    elif kind == "ratio":
        text = f"{number:,.2f}"
    elif kind == "count":
        text = f"{number:,.0f}"
    else:
        raise ValueError(f"unknown kind {kind!r}")
    if kind.startswith("signed") and number > 0:
        text = "+" + text
    return text.replace("-", "−")  # a real minus sign: "−1.23 %"


@dataclass(frozen=True)
class Cell:
    text: str
    tone: str = ""
    reason: str | None = None  # why the figure is null, from the API's ``reasons``


def cell(values: dict, name: str, kind: str) -> Cell:
    """The cell of figure ``name`` in ``values`` (a serialized row with its ``reasons``)."""
    value = values.get(name)
    if value is None:
        reason = (values.get("reasons") or {}).get(name) or "not available"
        return Cell(DASH, "", reason)
    return Cell(format_value(value, kind), tone_of(value) if kind.startswith("signed") else "")


def cells(values: dict, columns=BOARD_COLUMNS) -> list[Cell]:
    return [cell(values, name, kind) for name, _, kind in columns]


def extreme_rows(rows: list[dict]) -> list[dict]:
    """Best or worst positions as serialized, each with its PnL cell and its close as a time."""
    return [{**row, "cell": cell(row, "pnl", "signed_money"), "closed": parse_datetime(row["closed_at"])}
            for row in rows]


def query_string(params: dict) -> str:
    """``?a=1&b=2`` of the non-empty ``params`` (``""`` when none)."""
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return "?" + urlencode(kept) if kept else ""


def sort_links(current: str, params: dict, columns) -> list[dict]:
    """Each column's heading with the link that sorts on it: descending first, the other way
    when it is the current descending sort; ``aria_sort`` for the current one."""
    out = []
    for name, label in columns:
        if current == f"-{name}":
            target, aria = name, "descending"
        elif current == name:
            target, aria = f"-{name}", "ascending"
        else:
            target, aria = f"-{name}", None
        out.append({"name": name, "label": label, "aria_sort": aria,
                    "href": query_string({**params, "ordering": target})})
    return out


def period_tabs(current: str | None, params: dict) -> list[dict]:
    """The period links (keeping the other ``params``, dropping a custom range)."""
    kept = {k: v for k, v in params.items() if k not in ("period", "from", "to")}
    return [{"label": label, "current": name == current,
             "href": query_string({**kept, "period": name})} for name, label in PERIOD_TABS]


def range_of(name: str | None, *, end: datetime, earliest: datetime) -> Range:
    """The chart range ``name`` (24h, 7d, 30d, all) ending at ``end``, never before
    ``earliest`` (the first moment there can be data: the run's or the bot's start)."""
    name = name or DEFAULT_RANGE
    if name not in RANGES:
        raise AnalyticsError("range", f"Unknown range {name!r}; use one of {', '.join(RANGES)}.")
    length = RANGES[name]
    start = earliest if length is None else max(end - length, earliest)
    return Range(min(start, end), end)


def run_earliest(run_start: datetime, first_day: date | None, created_at: datetime) -> datetime:
    """The first moment a run can hold data, for a range's "all": the midnight of its first
    rollup day (never before the run began); without any day yet, when the bot was created.
    (A bot's creation time alone is no bound: imported or simulated history may predate it.)"""
    if first_day is None:
        return max(run_start, created_at)
    return max(run_start, datetime.combine(first_day, time(), tzinfo=UTC))


def range_tabs(current: str, params: dict) -> list[dict]:
    return [{"label": RANGE_LABELS[name], "current": name == current,
             "href": query_string({**params, "range": name})} for name in RANGES]


def errors_text(errors: dict) -> list[str]:
    """A serializer's ``{field: [messages]}`` as sentences naming the field."""
    out = []
    for field, messages in errors.items():
        for message in messages if isinstance(messages, list) else [messages]:
            out.append(f"{field}: {message}")
    return out
