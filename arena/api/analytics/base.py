"""What every analytics view shares: the bots the caller may see, the query's parsing, and
the dicts the response serializers render (pure: from the ``arena.analytics`` values)."""
from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from arena.analytics.params import AnalyticsError, Range, range_resolve
from arena.analytics.trades import Extreme, Group
from arena.analytics.usage import Usage
from arena.api.base import is_admin
from arena.api.figures import metrics_flat
from bots.models import Bot
from bots.selectors import bots_of


class AnalyticsView(APIView):
    """An analytics route: signed in (the API's default), reading only the caller's bots
    (admins: every bot); another user's bot is a 404, a bad parameter a 400 naming it."""

    def handle_exception(self, exc):
        if isinstance(exc, AnalyticsError):
            exc = serializers.ValidationError({exc.param: [exc.message]})
        return super().handle_exception(exc)

    def visible(self) -> QuerySet[Bot]:
        return bots_of(user_id=self.request.user.pk, see_all=is_admin(self.request.user))

    def active(self) -> QuerySet[Bot]:
        return self.visible().filter(is_active=True)

    def bot(self, bot_id: int) -> Bot:
        bot = self.visible().filter(pk=bot_id).first()
        if bot is None:
            raise exceptions.NotFound("No such bot, or it is not yours.")
        return bot

    def bots_named(self, ids: list[int]) -> list[Bot]:
        """The bots ``ids`` names, in that order; one the caller cannot see is a 404."""
        found = {bot.pk: bot for bot in self.visible().filter(pk__in=ids)}
        missing = [str(i) for i in ids if i not in found]
        if missing:
            raise exceptions.NotFound(f"No such bot, or it is not yours: {', '.join(missing)}.")
        return [found[i] for i in ids]

    def query(self, serializer_class, request: Request) -> dict:
        form = serializer_class(data=request.query_params.dict())
        form.is_valid(raise_exception=True)
        return dict(form.validated_data)

    def now(self) -> datetime:
        return timezone.now()

    def span(self, query: dict) -> Range:
        return range_resolve(query.get("from"), query.get("to"), now=self.now())


def bot_ref(bot: Bot) -> dict:
    return {"id": bot.pk, "name": bot.name}


def range_json(span: Range) -> dict:
    return {"from": span.start, "to": span.end}


def group_json(group: Group, key: str | None = None) -> dict:
    values, reasons = metrics_flat({"win_rate": group.win_rate})
    out = {"trades": group.trades, "wins": group.wins, "losses": group.losses, "pnl": group.pnl,
           "fees": group.fees, "reasons": reasons, **values}
    if key is not None:
        out[key] = group.key
    return out


def extreme_json(row: Extreme) -> dict:
    return {"position_id": row.position_id, "bot": {"id": row.bot_id, "name": row.bot_name},
            "symbol": row.symbol, "side": row.side, "pnl": row.pnl, "closed_at": row.closed_at,
            "opening_decision_id": row.opening_decision_id, "close_trade_id": row.close_trade_id}


def usage_json(row: Usage) -> dict:
    values, reasons = metrics_flat({"latency_mean_ms": row.latency_mean_ms,
                                    "latency_p95_ms": row.latency_p95_ms})
    out = {"model": row.model, "decisions": row.decisions, "failures": row.failures,
           "tokens_in": row.tokens_in, "tokens_out": row.tokens_out, "cost": row.cost,
           "reasons": reasons, **values}
    if row.bot_id is not None:
        out["bot"] = {"id": row.bot_id, "name": row.bot_name}
    return out
