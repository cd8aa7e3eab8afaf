"""What the bot page reads, through the selectors the REST API uses, and who may read it.

The owner (an admin: any bot) sees what ``/api/bots/<id>/`` shows; anyone else sees what
``/api/public/bots/<id>/`` shows of a listed bot: figures, positions, trades, and the
reasoning, learning and prompt only when the owner publishes them (``reasoning_public``).
The prompt sent with each decision stays the owner's, as in the public API.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse

from arena.api.base import is_admin
from arena.web.base import spectators_welcome
from arena.web.bot_page.present import Page, page_of, return_fraction
from bots.models import Bot
from bots.selectors import bots_listed, bots_of, decisions_of, provider_config_for, summaries_of
from ledger.selectors import snapshots_of
from trading.models import Position
from trading.selectors import positions_of, trades_of

ORDERS_PER_PAGE = 25
DECISIONS_PER_PAGE = 20


@dataclass(frozen=True)
class Viewer:
    """A bot as one visitor may see it: ``owner`` for its owner or an admin."""

    bot: Bot
    owner: bool

    @property
    def published(self) -> bool:
        """Whether this visitor sees the reasoning, learning and the bot's prompt."""
        return self.owner or self.bot.reasoning_public


def viewer_of(request: HttpRequest, bot_id: int) -> Viewer | HttpResponse:
    """The bot as this request may see it, a login redirect for an anonymous visitor when
    the arena is not public, or a 404 (another user's unlisted bot, or no such bot)."""
    if request.user.is_authenticated:
        # One's own bot (an admin's: any); another user's listed bot as a spectator sees it.
        mine = bots_of(user_id=request.user.pk, see_all=is_admin(request.user)).filter(pk=bot_id).first()
        if mine is not None:
            return Viewer(bot=mine, owner=True)
    elif not spectators_welcome():
        return redirect_to_login(request.get_full_path())
    bot = bots_listed().filter(pk=bot_id).first()
    if bot is None:
        raise Http404("No such bot.")
    return Viewer(bot=bot, owner=False)


def open_positions_of(bot: Bot) -> QuerySet[Position]:
    return positions_of(bot_id=bot.pk).filter(status=Position.Status.OPEN).order_by("opened_at", "id")


def orders_page(bot: Bot, *, before: int | None, size: int = ORDERS_PER_PAGE) -> Page:
    """The bot's fills, newest first, as the API's trades list orders them (by id)."""
    rows = trades_of(bot_id=bot.pk)
    if before is not None:
        rows = rows.filter(pk__lt=before)
    return page_of(rows.order_by("-id")[: size + 1], size=size, before=before)


def decisions_page(bot: Bot, *, before: int | None, size: int = DECISIONS_PER_PAGE) -> Page:
    """The bot's decisions, newest first (by id, as the API's decisions list)."""
    rows = decisions_of(bot_id=bot.pk)
    if before is not None:
        rows = rows.filter(pk__lt=before)
    return page_of(rows.order_by("-id")[: size + 1], size=size, before=before)


def figures_of(bot: Bot) -> dict[str, Any]:
    """The header's figures as the public API gives them: cash from the account now, the
    rest from the latest snapshot (None before the first), and the return on the initial
    balance."""
    snapshot = snapshots_of(bot_id=bot.pk).order_by("-taken_at", "-id").first()
    account = getattr(bot, "account", None)
    total = snapshot.total_value if snapshot else None
    return {
        "cash": account.balance if account is not None else None,
        "total_value": total,
        "unrealized_pnl": snapshot.unrealized_pnl if snapshot else None,
        "realized_pnl": snapshot.realized_pnl if snapshot else None,
        "win_rate": snapshot.win_rate if snapshot else None,
        "trade_count": snapshot.trade_count if snapshot else None,
        "snapshot_at": snapshot.taken_at if snapshot else None,
        "return": return_fraction(total_value=total, initial_balance=bot.initial_balance),
    }


def problems_of(bot: Bot, *, owner: bool) -> list[tuple[str, str]]:
    """What the page warns about, as (alert class, text): paused, a real bot the server
    will not trade, and for the owner a provider that cannot be called or failed last."""
    found: list[tuple[str, str]] = []
    if bot.is_paused:
        found.append(("warning", "Paused: this bot takes no turns until it is resumed; "
                                 "open positions keep their stops."))
    if bot.mode == Bot.Mode.REAL and not settings.REAL_TRADING_ENABLED:
        found.append(("warning", "A real-money bot, but real trading is off on this server: "
                                 "it places no orders."))
    if not owner:
        return found
    config, why = provider_config_for(bot)
    if config is None:
        found.append(("error", f"Its provider cannot be called: {why}."))
    last = decisions_of(bot_id=bot.pk).order_by("-id").first()
    if last is not None and not last.success and last.error:
        found.append(("error", f"The last decision failed ({last.created_at:%Y-%m-%d %H:%M} UTC): "
                               f"{last.error}"))
    return found


def learning_of(bot: Bot) -> dict[str, Any]:
    """The latest learning summary (the one a prompt shows, or the newest cleared one) and
    how many there have been."""
    rows = summaries_of(bot_id=bot.pk)
    live = rows.filter(cleared_at__isnull=True).order_by("-covers_to", "-id").first()
    latest = live or rows.order_by("-created_at", "-id").first()
    return {"latest": latest, "count": rows.count()}


def symbols_of(bot: Bot) -> list[str]:
    """The symbols the chart offers: those the bot holds, then those it traded, then the
    ones it is configured for; the first is the default."""
    held = list(open_positions_of(bot).values_list("symbol", flat=True))
    traded = list(trades_of(bot_id=bot.pk).order_by("symbol").values_list("symbol", flat=True).distinct())
    ordered: list[str] = []
    for symbol in [*held, *traded, *(bot.symbols or [])]:
        if symbol not in ordered:
            ordered.append(symbol)
    return ordered

