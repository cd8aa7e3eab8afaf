"""Every page, with real data behind it: it loads clean (no console error, no CSP refusal, no
missing file), passes axe-core (nothing serious or critical), does not scroll sideways at
390 px, and is saved as a screenshot at desktop and phone width (artifacts/screenshots/)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from arena.turns.run import turn_run
from tests.web.e2e.data import close_position, llm_bot, long_btc, make_user, open_position, orm, price_markets
from trading.services.snapshots import snapshots_take

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass(frozen=True)
class Page:
    name: str  # the screenshots' name
    path: str  # formatted with the bot's id as {bot}, the real bot's as {real}
    viewer: str | None  # "owner", "admin", or None for a visitor who is not signed in


PAGES = [
    Page("dashboard", "/", "owner"),
    Page("dashboard-spectator", "/", None),
    Page("leaderboard", "/leaderboard/", "owner"),
    Page("analytics", "/analytics/", "owner"),
    Page("deep-dive", "/analytics/bots/{bot}/", "owner"),
    Page("compare", "/analytics/compare/", "owner"),
    Page("bot-list", "/bots/", "owner"),
    Page("bot-new", "/bots/new/", "owner"),
    Page("bot-edit", "/bots/{bot}/edit/", "owner"),
    Page("bot-page", "/bots/{bot}/", "owner"),
    Page("bot-page-spectator", "/bots/{bot}/", None),
    Page("providers", "/providers/", "owner"),
    Page("wallets", "/wallets/", "owner"),
    Page("account", "/account/", "owner"),
    Page("manage", "/manage/", "admin"),
    Page("kill-switch", "/manage/kill-switch/", "admin"),
    Page("bot-page-real", "/bots/{real}/", "owner"),
    Page("login", "/login/", None),
    Page("register", "/register/", None),
    Page("recover", "/recover/", None),
]


def arena_with_history(fake) -> dict[str, Any]:
    """Two users' bots with what the pages show: a turn's decision and its position, a closed
    trade, an open position and snapshots; and an admin."""
    price_markets()
    owner = make_user("ada")
    rival_owner = make_user("bob")
    admin = make_user("root", admin=True)
    bot = llm_bot(owner, fake, name="Momentum", reasoning_public=True)
    rival = llm_bot(rival_owner, fake, name="Contrarian", reasoning_public=True)
    fake.script(bot.provider.model, long_btc("BTC leads the market: riding it"))
    report = turn_run(bot_ids=[bot.pk, rival.pk], forced=True)
    assert all(o.decision_id for o in report.outcomes), report.outcomes
    closed = open_position(rival, symbol="ETHUSDT", side="SHORT")
    close_position(closed.pk)
    open_position(bot, symbol="SOLUSDT", side="SHORT", margin="50", leverage=3)
    real = real_bot_reconciled(owner, fake)
    snapshots_take()
    return {"owner": owner, "admin": admin, "bot": bot, "real": real}


def real_bot_reconciled(owner: Any, fake: Any) -> Any:
    """A real bot with a verified wallet, one agreed reconciliation and a later one that
    flagged a position opened by hand on the exchange (the rows a run writes)."""
    from django.test import override_settings
    from django.utils import timezone

    from trading.models import Discrepancy, Reconciliation, Wallet

    with override_settings(REAL_TRADING_ENABLED=True):
        real = llm_bot(owner, fake, name="Live one", mode="real", is_paused=True)
    wallet = Wallet(
        owner=owner,
        bot=real,
        label="Main account",
        verified_at=timezone.now(),
        verified_balance=real.initial_balance,
    )
    wallet.api_key, wallet.api_secret = "k" * 64, "s" * 64
    wallet.save()
    now = timezone.now()
    Reconciliation.objects.create(
        bot=real,
        wallet=wallet,
        trigger="schedule",
        status="agreed",
        started_at=now,
        finished_at=now,
        exchange_balance=real.initial_balance,
        ledger_balance=real.initial_balance,
    )
    run = Reconciliation.objects.create(
        bot=real,
        wallet=wallet,
        trigger="schedule",
        status="differences",
        started_at=now,
        finished_at=now,
        exchange_balance=real.initial_balance,
        ledger_balance=real.initial_balance,
    )
    Discrepancy.objects.create(
        bot=real,
        reconciliation=run,
        kind="unknown_position",
        key="position:ETHUSDT:1",
        symbol="ETHUSDT",
        created_at=now,
        detail="The exchange holds a LONG ETHUSDT position of 0.5 at 3000 that this arena "
        "did not open: not imported, not touched.",
    )
    return real


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_the_page_is_clean_accessible_and_fits_a_phone(arena, fake, page: Page):
    world = orm(arena_with_history, fake)
    tab = arena.tab(user=world[page.viewer] if page.viewer else None)
    tab.visit(page.path.format(bot=world["bot"].pk, real=world["real"].pk))
    tab.page.wait_for_load_state("networkidle")  # the charts' data has come and been drawn
    assert tab.page.locator("h1").count() == 1, "one <h1> per page"
    arena.audit(tab, page.name)
