"""Learning summaries, the writes. The provider is called outside any transaction; the
row is written in one short transaction that re-checks, under a lock on the bot, that no
other worker wrote a summary meanwhile (the unique ``(bot, covers_to)`` and ``previous``
constraints stand behind it), so a duplicate delivery writes nothing twice."""
from __future__ import annotations

import logging
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from bots.models import Bot, Decision, LearningSummary
from bots.providers import ChatRequest, ProviderError, Reply, complete
from bots.selectors import provider_config_for
from bots.summaries.reads import decision_digests, decisions_after, summary_backlog, summary_watermark
from bots.summaries.rules import (
    KEEP_RECENT,
    MAX_FOLD_DECISIONS,
    MAX_STORED_CHARS,
    MIN_FORCE_DECISIONS,
    build_request,
    estimate_tokens,
)

log = logging.getLogger(__name__)


class SummaryError(Exception):
    """A summary could not be made and no row was written; the message says why.
    ``permanent`` means trying again unchanged cannot help (as ``ProviderError``)."""

    def __init__(self, message: str, *, permanent: bool):
        super().__init__(message)
        self.permanent = permanent


def _ask(bot: Bot, request: ChatRequest) -> Reply:
    config, unusable = provider_config_for(bot)
    if config is None:
        raise SummaryError(unusable, permanent=True)
    try:
        reply = complete(config, request)
    except ProviderError as exc:
        raise SummaryError(f"the provider failed: {exc}", permanent=exc.permanent) from exc
    if not reply.text.strip():
        raise SummaryError("the model returned an empty summary", permanent=False)
    return reply


def _pk(summary: LearningSummary | None) -> int | None:
    return None if summary is None else summary.pk


def summary_create(*, bot: Bot, force: bool = False) -> LearningSummary | None:
    """Summarise ``bot``'s older unsummarised decisions with its own provider.

    Returns the new summary, or None when none is due (``force`` skips that check and
    folds in every unsummarised decision, the newest included) or another worker wrote
    one for this bot meanwhile. Raises ``SummaryError`` — logged, nothing written — when
    the provider fails or answers nothing.
    """
    backlog = summary_backlog(bot_id=bot.pk)
    if not force and not backlog.due:
        return None
    fold = min(backlog.count - (0 if force else KEEP_RECENT), MAX_FOLD_DECISIONS)
    if fold < 1:
        return None
    rows = list(
        Decision.objects.filter(Q(bot=bot) & decisions_after(backlog.last)).order_by("created_at", "id")
        .only("id", "created_at", "actions", "notes", "error")[:fold]
    )
    if not rows:
        return None
    # A cleared summary still marks where the backlog starts, but is not carried forward.
    previous = backlog.last if backlog.last is not None and backlog.last.cleared_at is None else None
    request = build_request(previous.summary if previous else None, decision_digests(bot, rows))
    try:
        reply = _ask(bot, request)  # the network: outside any transaction
    except SummaryError as exc:
        log.warning("learning summary of bot %s failed: %s", bot.pk, exc)
        raise
    text = reply.text.replace("\x00", "").strip()[:MAX_STORED_CHARS]
    first, last = rows[0], rows[-1]
    with transaction.atomic():
        # Writers of one bot's summaries queue here. NO KEY UPDATE: a turn inserting a
        # Decision (which takes KEY SHARE on the bot) is not held up.
        list(Bot.objects.select_for_update(no_key=True).filter(pk=bot.pk).values_list("pk", flat=True))
        current = summary_watermark(bot.pk)
        if _pk(current) != _pk(backlog.last):
            log.info("learning summary of bot %s dropped: summary %s was written meanwhile",
                     bot.pk, _pk(current))
            return None
        return LearningSummary.objects.create(
            bot=bot, summary=text, previous=previous,
            covers_from=previous.covers_from if previous else first.created_at,
            covers_to=last.created_at,
            first_decision_id=previous.first_decision_id if previous else first.pk,
            last_decision=last,
            decisions_count=(previous.decisions_count if previous else 0) + len(rows),
            token_count=estimate_tokens(len(request.system) + len(request.prompt)),
            model=reply.model[:200], tokens_in=reply.tokens_in, tokens_out=reply.tokens_out,
            latency_ms=reply.latency_ms, cost=reply.cost,
        )


def summary_force(*, bot: Bot) -> LearningSummary:
    """Summarise now, whatever the thresholds: every unsummarised decision, at least
    ``MIN_FORCE_DECISIONS`` of them. Raises ``ValidationError`` with the reason otherwise."""
    count = summary_backlog(bot_id=bot.pk).count
    if count < MIN_FORCE_DECISIONS:
        raise ValidationError(
            f"A summary needs at least {MIN_FORCE_DECISIONS} decisions since the last one; "
            f"this bot has {count}."
        )
    try:
        summary = summary_create(bot=bot, force=True)
    except SummaryError as exc:
        raise ValidationError(f"The summary failed: {exc}") from exc
    if summary is None:
        raise ValidationError("Another summary of this bot was being written at the same time; try again.")
    return summary


def summaries_clear(*, bot: Bot, now: datetime | None = None) -> int:
    """Hide the bot's summaries from its prompt; the rows stay as history. The next
    summary starts afresh from the decisions after the cleared ones."""
    return LearningSummary.objects.filter(bot=bot, cleared_at__isnull=True).update(
        cleared_at=now or timezone.now()
    )
