"""Every turn ends finished, failed or skipped, each bot's part is recorded with its reason,
and the owner hears of it: the market is refreshed before a turn, real bots are never
traded on paper, a failing bot fails visibly."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from arena.models import ArenaSettings, BotTurn, Turn
from arena.turns.run import turn_run
from bots.models import Bot, Decision
from ledger.models import Entry, Event
from tests.arena.fake_llm import FakeLLM, Reply, openai_bot
from trading.feeds import FeedError
from trading.feeds.simulated import SimulatedFeed
from trading.models import Market, Position, Trade, Wallet
from trading.services import funding_apply, positions_mark, triggers_check
from trading.services.market import market_refresh_and_trigger

NOW = datetime(2026, 5, 20, 8, 0, 10, tzinfo=UTC)
LONG_BTC = json.dumps([{"action": "LONG", "symbol": "BTCUSDT", "size": 100, "leverage": 2}])


@pytest.fixture
def fake():
    with FakeLLM() as server:
        server.default = Reply(text=LONG_BTC)
        yield server


@pytest.fixture
def events():
    """The outbox, read in order: every event the turn wrote, with its audience (None: everyone)."""
    return Event.objects


def feed(now: datetime = NOW) -> SimulatedFeed:
    return SimulatedFeed(seed="outcomes", clock=lambda: now)


class DeadFeed:
    """A feed whose every request fails, as an exchange outage would."""

    def tickers(self, symbols):
        raise FeedError("connection refused")

    def symbols(self, wanted=None):
        raise FeedError("connection refused")

    def candles(self, symbol, interval, limit, end=None):
        raise FeedError("connection refused")

    def price_range(self, symbol, start, end):
        return None


def bot_turn(turn: Turn, bot: Bot) -> BotTurn:
    return BotTurn.objects.get(turn=turn, bot=bot)


SETTLED = ("turn_finished", "turn_failed", "turn_skipped")


def of_type(events, kind: str) -> list[tuple[dict, int | None]]:
    """Events of ``kind`` in order; ``turn`` means a turn settling (finished, failed or skipped)."""
    types = SETTLED if kind == "turn" else (kind,)
    return [(e.data, e.user_id) for e in events.filter(type__in=types).order_by("seq")]


# --- start-up order: never on an empty or stale market --------------------------------------


@pytest.mark.django_db
def test_the_first_turn_on_an_empty_market_refreshes_it_first_and_trades(user, fake):
    assert not Market.objects.exists()
    bot = openai_bot(owner=user, fake=fake, model="m")

    report = turn_run(now=NOW, feed=feed())

    assert report.turn.status == "finished"
    assert "BTCUSDT" in report.turn.market_snapshot, "the frozen snapshot has the fresh prices"
    assert Market.objects.get(symbol="BTCUSDT").updated_at == NOW
    assert "No market data" not in fake.requests[0].body["messages"][-1]["content"]
    assert Position.objects.filter(bot=bot, symbol="BTCUSDT").count() == 1


@pytest.mark.django_db
def test_a_stale_market_is_refreshed_before_the_turn(user, fake):
    market_refresh_and_trigger(feed=feed(NOW - timedelta(hours=1)), now=NOW - timedelta(hours=1))
    openai_bot(owner=user, fake=fake, model="m")

    report = turn_run(now=NOW, feed=feed())

    assert report.turn.status == "finished"
    assert set(Market.objects.values_list("updated_at", flat=True)) == {NOW}
    assert Decimal(report.turn.market_snapshot["BTCUSDT"]["price"]) == feed().price_at("BTCUSDT", NOW)


@pytest.mark.django_db
def test_when_the_refresh_fails_the_turn_is_skipped_with_the_reason_and_the_owner_told(user, fake, events):
    market_refresh_and_trigger(feed=feed(NOW - timedelta(hours=1)), now=NOW - timedelta(hours=1))
    bot = openai_bot(owner=user, fake=fake, model="m")

    report = turn_run(now=NOW, feed=DeadFeed())

    turn = report.turn
    assert turn.status == "skipped" and turn.finished_at is not None
    assert "no fresh market price for any of its symbols" in turn.error
    assert "connection refused" in turn.error
    row = bot_turn(turn, bot)
    assert row.status == "skipped" and "BTCUSDT: the last refresh failed" in row.reason
    assert fake.requests == [] and not Decision.objects.exists()
    [(data, owner)] = of_type(events, "bot_turn")
    assert owner == user.pk and data["status"] == "skipped" and "no fresh market price" in data["reason"]
    [(public, audience)] = of_type(events, "turn")
    assert audience is None and public["status"] == "skipped" and public["bots"]["skipped"] == 1
    assert "reason" not in public and "bot_name" not in public, "reasons are the owners'"


@pytest.mark.django_db
def test_refresh_false_never_refreshes_and_skips_bots_without_a_fresh_price(user, fake):
    bot = openai_bot(owner=user, fake=fake, model="m")

    report = turn_run(now=NOW, feed=feed(), refresh=False)

    assert not Market.objects.filter(last_price__isnull=False).exists()
    assert report.turn.status == "skipped"
    assert "told not to refresh" in bot_turn(report.turn, bot).reason


# --- real mode is honest -------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("enabled, wallet, why", [
    (False, None, "real trading is not enabled on this arena"),
    (True, None, "needs a wallet"),
    (True, "no-keys", "must be entered"),
    (True, "keys", "Verify wallet main first"),
    (True, "killed", "the kill switch was engaged"),
])
def test_a_real_bot_is_never_traded_on_paper_and_its_owner_is_told_why(
        user, fake, events, settings, enabled, wallet, why):
    settings.REAL_TRADING_ENABLED = True
    real = openai_bot(owner=user, fake=fake, model="real", mode="real")
    settings.REAL_TRADING_ENABLED = enabled  # e.g. switched off after the bot was made
    paper = openai_bot(owner=user, fake=fake, model="paper")
    if wallet:
        w = Wallet(owner=user, bot=real, label="main")
        if wallet in ("keys", "killed"):
            w.api_key, w.api_secret = "k" * 64, "s" * 64
        if wallet == "killed":  # verified, but the kill switch holds every real bot
            w.verified_at = NOW
            arena = ArenaSettings.load()
            arena.kill_switch_at = NOW
            arena.save()
        w.save()
    entries = Entry.objects.filter(account__bot=real).count()

    report = turn_run(now=NOW, feed=feed())

    assert [r.model for r in fake.requests] == ["paper"], "the real bot's model is not even asked"
    row = bot_turn(report.turn, real)
    assert row.status == "skipped" and why in row.reason
    assert not Decision.objects.filter(bot=real).exists()
    assert not Position.objects.filter(bot=real).exists() and not Trade.objects.filter(bot=real).exists()
    assert Entry.objects.filter(account__bot=real).count() == entries
    assert Position.objects.filter(bot=paper).count() == 1 and report.turn.status == "finished"
    told = [d for d, owner in of_type(events, "bot_turn") if d["bot"] == real.pk]
    assert told == [{"turn": report.turn.pk, "bot": real.pk, "bot_name": real.name, "status": "skipped",
                     "reason": row.reason, "decision": None}]


@pytest.mark.django_db
def test_marks_triggers_and_funding_touch_paper_positions_only(user, fake):
    bot = openai_bot(owner=user, fake=fake, model="m")
    turn_run(now=NOW, feed=feed())
    position = Position.objects.get(bot=bot)
    Bot.objects.filter(pk=bot.pk).update(mode="real")  # e.g. an imported live position
    before = Position.objects.values().get(pk=position.pk)
    entries = Entry.objects.count()

    assert positions_mark(prices={"BTCUSDT": position.entry_price * 2}, now=NOW) == 0
    from trading import perps
    crash = perps.Bar(position.entry_price, position.entry_price, Decimal("1"), Decimal("1"))
    assert triggers_check(ranges={"BTCUSDT": crash}, now=NOW) == []
    funding_time = NOW + timedelta(hours=8)
    assert funding_apply(funding_time=funding_time, rates={"BTCUSDT": Decimal("0.01")},
                         marks={"BTCUSDT": position.entry_price}) == []
    assert Position.objects.values().get(pk=position.pk) == before
    assert Entry.objects.count() == entries

    Bot.objects.filter(pk=bot.pk).update(mode="paper")  # the same calls do touch it on paper
    assert positions_mark(prices={"BTCUSDT": position.entry_price * 2}, now=NOW) == 1
    assert len(funding_apply(funding_time=funding_time, rates={"BTCUSDT": Decimal("0.01")},
                             marks={"BTCUSDT": position.entry_price})) == 1


# --- every turn ends -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_forced_turn_whose_every_bot_is_skipped_ends_skipped(user, fake, settings):
    settings.REAL_TRADING_ENABLED = True
    real = openai_bot(owner=user, fake=fake, model="real", mode="real")
    settings.REAL_TRADING_ENABLED = False

    report = turn_run(now=NOW, feed=feed(), bot_ids=[real.pk])

    turn = report.turn
    assert turn.forced and turn.status == "skipped" and turn.finished_at is not None
    assert "real trading is not enabled" in turn.error


@pytest.mark.django_db
def test_a_turn_with_no_bot_due_ends_skipped(user, fake):
    report = turn_run(now=NOW, feed=feed())

    assert report.turn.status == "skipped"
    assert report.turn.error == "no bot was due: none is active and unpaused"


@pytest.mark.django_db
def test_a_bot_whose_preparation_raises_fails_visibly_and_releases_its_claim(user, fake, events, monkeypatch):
    good = openai_bot(owner=user, fake=fake, model="good")
    broken = openai_bot(owner=user, fake=fake, model="broken")
    from arena.turns import run

    real_prepare = run.job_prepare

    def prepare(*, bot, **kwargs):
        if bot.pk == broken.pk:
            raise ValueError("corrupt learning summary")
        return real_prepare(bot=bot, **kwargs)

    monkeypatch.setattr(run, "job_prepare", prepare)
    report = turn_run(now=NOW, feed=feed())

    turn = report.turn
    assert turn.status == "finished"
    assert "preparing the prompt failed: ValueError: corrupt learning summary" in turn.error
    row = bot_turn(turn, broken)
    assert row.status == "failed" and "corrupt learning summary" in row.reason
    decision = Decision.objects.get(bot=broken)
    assert row.decision == decision and not decision.success and "corrupt learning summary" in decision.error
    assert [r.model for r in fake.requests] == ["good"]
    assert Position.objects.filter(bot=good).count() == 1
    assert not Bot.objects.filter(turn_claimed_until__isnull=False).exists(), "every claim released"
    told = {d["bot"]: d for d, owner in of_type(events, "bot_turn") if owner == user.pk}
    assert told[broken.pk]["status"] == "failed" and told[broken.pk]["decision"] == decision.pk
    assert told[good.pk]["status"] == "finished"


@pytest.mark.django_db
def test_a_turn_whose_every_bot_fails_is_failed(user, fake, events):
    fake.default = Reply(status=401, error="Incorrect API key provided")
    bot = openai_bot(owner=user, fake=fake, model="m")

    report = turn_run(now=NOW, feed=feed())

    assert report.turn.status == "failed" and "HTTP 401" in report.turn.error
    assert bot_turn(report.turn, bot).status == "failed"
    assert [d["status"] for d, _ in of_type(events, "turn")] == ["failed"]


@pytest.mark.django_db
def test_an_unexpected_failure_fails_the_turn_releases_every_claim_and_is_raised(user, fake, monkeypatch):
    bots = [openai_bot(owner=user, fake=fake, model=f"m{i}") for i in range(2)]

    async def broken(*args, **kwargs):
        raise ConnectionError("event loop exploded")

    monkeypatch.setattr("arena.turns.run._call_all", broken)
    with pytest.raises(ConnectionError):
        turn_run(now=NOW, feed=feed())

    turn = Turn.objects.get()
    assert turn.status == "failed" and "event loop exploded" in turn.error
    assert {r.status for r in BotTurn.objects.filter(turn=turn)} == {"failed"}
    assert not Bot.objects.filter(pk__in=[b.pk for b in bots], turn_claimed_until__isnull=False).exists()


@pytest.mark.django_db
def test_a_running_turn_with_a_fresh_heartbeat_is_not_taken_for_abandoned(user, fake, settings):
    settings.ARENA_TURN_LEASE_SECONDS = 60
    started = NOW - timedelta(minutes=10)
    alive = Turn.objects.create(started_at=started, heartbeat_at=NOW - timedelta(seconds=20), forced=True)
    dead = Turn.objects.create(started_at=started, heartbeat_at=NOW - timedelta(seconds=61), forced=True)
    ancient = Turn.objects.create(started_at=NOW - timedelta(days=3), forced=True)  # from before heartbeats

    turn_run(now=NOW, feed=feed())

    for turn, status in ((alive, "running"), (dead, "failed"), (ancient, "failed")):
        turn.refresh_from_db()
        assert turn.status == status, turn
    assert "its worker stopped during the turn" in dead.error


@pytest.mark.django_db
def test_the_arena_settings_symbols_decide_what_is_checked(user, fake):
    ArenaSettings.objects.update_or_create(id=1, defaults={"default_symbols": ["ETHUSDT"]})
    openai_bot(owner=user, fake=fake, model="m")

    report = turn_run(now=NOW, feed=feed())

    assert report.turn.status == "finished"
    assert Market.objects.get(symbol="ETHUSDT").updated_at == NOW
