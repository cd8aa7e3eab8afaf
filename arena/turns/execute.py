"""Recording one bot's answer in a turn, then executing it action by action.

Runs after the model call, never around it. One small transaction locks the bot's
account, checks the turn still holds the bot and writes the Decision; a Decision for
the same bot and turn already recorded (a redelivered task, a second worker) makes it a
no-op. Then each action goes to the engine (``trading.services``): planned by the risk
rules, placed through the bot's broker outside any transaction, recorded in its own
transaction once per client order id (derived from the decision and the action's
index). A failing action stops the rest; what was filled before it stands, and the
decision says what happened. Last, the decision's notes and its event are written.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from bots.models import Bot, Decision
from bots.parsing import ANALYZE, CLOSE, HOLD, LONG, SHORT, Action
from ledger.events import event_append
from ledger.models import Account
from ledger.rollups import rollup_decision
from trading import risk
from trading.brokers import Broker
from trading.models import CloseReason
from trading.selectors import portfolio_view, risk_settings
from trading.services import PositionError, broker_for, position_close, position_open

log = logging.getLogger(__name__)


@dataclass
class ModelCall:
    """What a bot's model was asked and answered in a turn (possibly over several
    sandbox steps), before anything is executed."""

    prompt: str
    raw_response: str = ""
    actions: list[Action] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str = ""
    model: str = ""
    tokens_in: int | None = None
    tokens_out: int | None = None
    latency_ms: int | None = None
    cost: Decimal | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass
class Outcome:
    """What a bot's turn did: for the command's transcript and the live stream."""

    bot_id: int
    bot_name: str
    decision_id: int | None = None
    # What the parser set aside or repaired in the model's reply, then what the engine did.
    parse_notes: list[str] = field(default_factory=list)
    executed: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str = ""
    skipped: str = ""


def _decimal_text(value: Decimal) -> str:
    """``100`` for Decimal("100.00000000"), ``62036.6`` for 62036.600000000000: for people."""
    return format(value.normalize(), "f")


CLAIM_LOST = "this turn's claim on the bot lapsed and another turn took it"


def _decision_fields(call: ModelCall) -> dict[str, Any]:
    # PostgreSQL text refuses NUL characters; a model may send them.
    return {
        "prompt": call.prompt.replace("\x00", ""), "raw_response": call.raw_response.replace("\x00", ""),
        "actions": [a.as_json() for a in call.actions], "model": call.model, "tokens_in": call.tokens_in,
        "tokens_out": call.tokens_out, "latency_ms": call.latency_ms, "cost": call.cost,
        "tool_calls": call.tool_calls,
    }


def decision_execute(*, bot: Bot, turn: Any, call: ModelCall, now: datetime,
                     holds: Callable[[], bool] | None = None) -> Outcome:
    """Write ``bot``'s Decision for ``turn``, then execute its actions one by one, each
    recorded in its own transaction through the broker the bot's mode chooses.

    ``holds`` says, under the account lock, whether this turn still holds the bot's claim;
    if not, nothing is written (another turn owns the bot now).
    """
    outcome = Outcome(bot_id=bot.pk, bot_name=bot.name, error=call.error, parse_notes=list(call.notes))
    try:
        with transaction.atomic():
            Account.objects.select_for_update().get(bot=bot)  # first lock, as in the engine
            if holds is not None and not holds():
                outcome.skipped = CLAIM_LOST
                return outcome
            decision = Decision.objects.create(
                bot=bot, turn=turn, created_at=now, notes=list(call.notes), success=call.ok,
                error=call.error.replace("\x00", ""), prompt_version_id=bot.prompt_version_id,
                **_decision_fields(call),
            )
            _decision_rollup(decision)
    except IntegrityError:
        if Decision.objects.filter(bot=bot, turn=turn).exists():
            outcome.skipped = "already decided in this turn"
            return outcome
        raise
    outcome.decision_id = decision.pk
    # Each action is planned, placed and recorded by the engine in its own transaction
    # (an order an exchange filled stays recorded whatever a later action does).
    failure = ""
    actions = list(call.actions)
    settings = risk_settings()  # one read for all the bot's actions
    try:  # the broker by the bot's mode
        venue = Venue(broker_for(mode=bot.mode, settings=settings, bot=bot) if actions else None, settings)
    except PositionError as exc:
        failure, actions = f"nothing was executed: {exc}", []
        outcome.rejected.append(failure)
    for index, action in enumerate(actions, start=1):
        try:
            _execute(bot, decision, index, action, now, outcome, venue)
        except Exception as exc:  # this bot's data or a bug: kept on the decision, the turn goes on
            log.exception("decision %s: action %s failed", decision.pk, index)
            failure = f"execution failed: {type(exc).__name__}: {exc}"
            outcome.rejected.append(f"decision {index} ({action.action}): {failure}; the actions after it "
                                    "were not executed, the ones before it stand")
            break
    if actions and hasattr(venue.broker, "close"):
        venue.broker.close()  # an exchange broker's connections
    with transaction.atomic():
        decision.notes = [*call.notes, *outcome.executed, *outcome.rejected, *outcome.notes]
        fields = ["notes"]
        if failure:
            outcome.error = decision.error = failure[:5000]
            decision.success = False
            fields += ["error", "success"]
        decision.save(update_fields=fields)
        _decision_event(bot, decision, outcome, now)
    return outcome


def decision_record_failure(*, bot: Bot, turn: Any, call: ModelCall, now: datetime, error: str) -> int | None:
    """Keep what the model answered when it could not be executed at all (the decision
    itself could not be written, or preparing the prompt failed): a failed Decision with
    the reply, the parsed actions and the error, so the owner sees it and nothing the
    model said is lost. None if the bot already has a decision in this turn."""
    notes = [*call.notes, f"nothing was executed: {error}"]
    try:
        with transaction.atomic():
            decision = Decision.objects.create(
                bot=bot, turn=turn, created_at=now, notes=notes, success=False,
                error=error.replace("\x00", "")[:5000], prompt_version_id=bot.prompt_version_id,
                **_decision_fields(call),
            )
            _decision_rollup(decision)
            outcome = Outcome(bot_id=bot.pk, bot_name=bot.name, error=decision.error, notes=notes)
            _decision_event(bot, decision, outcome, now)
    except IntegrityError:
        if Decision.objects.filter(bot=bot, turn=turn).exists():
            return None
        raise
    return decision.pk


def _decision_rollup(decision: Decision) -> None:
    """The model call's tokens, cost and latency, on the bot's day (``ledger.rollups``)."""
    rollup_decision(bot_id=decision.bot_id, at=decision.created_at, tokens_in=decision.tokens_in or 0,
                    tokens_out=decision.tokens_out or 0, cost=decision.cost or Decimal(0),
                    latency_ms=decision.latency_ms or 0)


def _decision_event(bot: Bot, decision: Decision, outcome: Outcome, now: datetime) -> None:
    """The decision and what came of it, to the bot's owner, in the decision's transaction."""
    event_append("decision_recorded", {
        "turn": decision.turn_id, "bot": bot.pk, "bot_name": bot.name, "decision": decision.pk,
        "ok": decision.success, "actions": decision.actions, "executed": outcome.executed,
        "rejected": outcome.rejected, "notes": outcome.notes, "error": decision.error,
    }, owner_id=bot.owner_id, bot_id=bot.pk, now=now)


@dataclass(frozen=True)
class Venue:
    """Where a bot's actions are placed (its broker, by its mode) and the risk settings read
    once for all of them."""

    broker: Broker | None
    settings: risk.RiskSettings


def _execute(
    bot: Bot, decision: Decision, index: int, action: Action, now: datetime, outcome: Outcome, venue: Venue,
) -> None:
    label = f"decision {index} ({action.action}{' ' + action.symbol if action.symbol else ''})"
    if action.action == HOLD:
        return
    if action.action == ANALYZE:
        outcome.rejected.append(f"{label}: analysis is only for the sandbox steps; a final answer decides")
        return
    if action.action in (LONG, SHORT):
        leverage = action.leverage
        if leverage is None:
            leverage = 1
            outcome.notes.append(f"{label}: no leverage given, 1x used")
        result = position_open(
            bot=bot, symbol=action.symbol, side=action.action, margin=action.margin, leverage=leverage,
            stop_loss=action.stop_loss, take_profit=action.take_profit, decision=decision, now=now,
            action_index=index, broker=venue.broker, settings=venue.settings,
        )
        notes = [f"{label}: {note}" for note in result.notes]
        if result.position is None:
            outcome.rejected.extend(notes or [f"{label}: not opened"])
            return
        p = result.position
        outcome.executed.append(
            f"{label}: opened #{p.pk} {p.side} {p.symbol} {_decimal_text(p.margin)} USDT x{p.leverage} "
            f"at {_decimal_text(p.entry_price)}"
        )
        outcome.notes.extend(notes)
        return
    if action.action == CLOSE:
        account_balance = Account.objects.values_list("balance", flat=True).get(bot=bot)
        portfolio = portfolio_view(bot_id=bot.pk, available_balance=account_balance, now=now)
        check = risk.check_close(
            risk.CloseRequest(position_id=action.close_position_id, symbol=action.symbol, side=action.side),
            portfolio,
        )
        if check.position is None:
            outcome.rejected.extend(f"{label}: {note}" for note in check.notes)
            return
        result = position_close(position=check.position.id, reason=CloseReason.DECISION, decision=decision,
                                now=now, action_index=index, broker=venue.broker, settings=venue.settings)
        if not result.closed:
            outcome.rejected.extend(f"{label}: {note}" for note in result.notes)
            return
        trade = result.trade
        outcome.executed.append(
            f"{label}: closed #{check.position.id} at {_decimal_text(trade.price)}, "
            f"PnL {_decimal_text(trade.pnl)} USDT"
            + (f" ({trade.reason})" if trade.reason != CloseReason.DECISION else "")
        )
        outcome.notes.extend(f"{label}: {note}" for note in result.notes)
        return
    outcome.rejected.append(f"{label}: unknown action")
