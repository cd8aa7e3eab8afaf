"""A provider's health as its owner sees it on /providers/: the newest error its bots' model
calls got (``Decision.error``, the vendor's words with the key redacted) and whether the
provider is failing now, i.e. its newest call failed and none answered since."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import OuterRef, QuerySet, Subquery

from bots.models import Decision, LLMProvider

OK, FAILING, UNUSED = "ok", "failing", "unused"


@dataclass(frozen=True)
class Health:
    state: str  # OK, FAILING or UNUSED (no call made yet)
    last_error: str = ""
    last_error_at: datetime | None = None
    last_answer_at: datetime | None = None


def health_state(*, last_error_at: datetime | None, last_answer_at: datetime | None) -> str:
    """Failing when the newest call failed; ok when the newest answered; unused before any."""
    if last_error_at is None:
        return UNUSED if last_answer_at is None else OK
    if last_answer_at is None or last_error_at >= last_answer_at:
        return FAILING
    return OK


def _newest(calls: QuerySet[Decision], column: str) -> Subquery:
    # Each row: bots_decision_bot_recent_idx (bot_id, created_at DESC) over the provider's bots.
    return Subquery(calls.filter(bot__provider_id=OuterRef("pk")).order_by("-created_at").values(column)[:1])


def with_health(providers: QuerySet[LLMProvider]) -> QuerySet[LLMProvider]:
    """``providers`` with their newest error, its time and the newest answer's time read along."""
    failed = Decision.objects.exclude(error="")
    answered = Decision.objects.filter(error="")
    return providers.annotate(
        last_error=_newest(failed, "error"), last_error_at=_newest(failed, "created_at"),
        last_answer_at=_newest(answered, "created_at"),
    )


def health_of(provider: LLMProvider) -> Health:
    """The health of a provider read through ``with_health``."""
    error_at, answer_at = provider.last_error_at, provider.last_answer_at
    return Health(state=health_state(last_error_at=error_at, last_answer_at=answer_at),
                  last_error=provider.last_error or "", last_error_at=error_at, last_answer_at=answer_at)
