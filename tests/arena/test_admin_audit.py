"""The audit changelists over big tables (ledger/admin_audit.py): the same SQL statements
however many rows; search only through what an index serves; date drill-down from indexed
bounds, never a DISTINCT over the rows; counts of a whole big PostgreSQL table estimated;
the indexes built online on PostgreSQL. bench/admin.py times the same pages at 1M trades."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.db import NotSupportedError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from arena.models import BotTurn, Turn, User
from bots.models import Decision
from bots.services import bot_create, provider_create
from ledger.admin_audit import AuditPaginator
from ledger.migration_operations import AddIndexOnline
from ledger.models import Entry, Snapshot
from ledger.services import entry_post
from trading.models import Candle, Market, Position, Trade

pytestmark = pytest.mark.django_db
D = Decimal
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
BIG = ("trading.trade", "trading.position", "bots.decision", "ledger.entry", "ledger.snapshot", "arena.turn",
       "arena.botturn", "trading.candle")


class Arena:
    """Rows of every audit table, grown a round at a time: each round a new owner with a
    bot, and for every bot a decision in the round's turn, a closed position with both
    trades and their journal entries, a snapshot and a candle of each symbol."""

    def __init__(self) -> None:
        self.rounds = 0
        self.bots = []
        for symbol in SYMBOLS:
            Market.objects.create(symbol=symbol, last_price=D("100"), updated_at=T0)

    def grow(self, rounds: int) -> Arena:
        for _ in range(rounds):
            r, self.rounds = self.rounds, self.rounds + 1
            owner = User.objects.create_user(username=f"owner{r}", password="owner-pass-123")
            provider = provider_create(owner=owner, name="S", kind="scripted", model="momentum")
            self.bots.append(bot_create(owner=owner, name=f"Bot {r}", prompt="p", provider=provider))
            at = T0 + timedelta(days=40 * r)
            turn = Turn.objects.create(started_at=at, finished_at=at + timedelta(seconds=5),
                                       status="finished")
            for b, bot in enumerate(self.bots):
                self._bot_round(bot, turn, at + timedelta(minutes=b), f"{r}-{b}")
            for s, symbol in enumerate(SYMBOLS):
                Candle.objects.create(symbol=symbol, interval="1h", open_time=at + timedelta(hours=s),
                                      open=D(1), high=D(2), low=D(1), close=D(2), volume=D(3), fetched_at=at)
        return self

    def _bot_round(self, bot, turn, at, tag: str) -> None:
        decision = Decision.objects.create(bot=bot, turn=turn, created_at=at, success=tag.endswith("0"),
                                           error="" if tag.endswith("0") else "timed out", model="m",
                                           legacy_id=f"legacy-d-{tag}")
        BotTurn.objects.create(turn=turn, bot=bot, decision=decision, started_at=at, finished_at=at,
                               status="finished" if decision.success else "failed", reason=decision.error)
        symbol = SYMBOLS[len(tag) % len(SYMBOLS)] if not tag.endswith("1") else "ETHUSDT"
        position = Position.objects.create(
            bot=bot, symbol=symbol, side="LONG", status="closed", margin=D(10), leverage=2, quantity=D(1),
            entry_price=D(20), exit_price=D(21), realized_pnl=D(1), close_reason="take_profit", opened_at=at,
            closed_at=at + timedelta(hours=1), opening_decision=decision, legacy_id=f"legacy-p-{tag}")
        for kind, when in (("OPEN", at), ("CLOSE", at + timedelta(hours=1))):
            trade = Trade.objects.create(
                bot=bot, position=position, decision=decision, kind=kind, side="LONG", symbol=symbol,
                price=D(20), quantity=D(1), fee=D("0.01"), executed_at=when, legacy_id=f"legacy-{kind}-{tag}",
                exchange_order_id=f"x-{kind}-{tag}", client_order_id=f"c-{kind}-{tag}")
            entry_post(account=bot.account, kind="fee", amount=D("-0.01"), position=position, trade=trade,
                       created_at=when)
        Snapshot.objects.create(bot=bot, taken_at=at, balance=D(100), total_value=D(100),
                                legacy_id=f"legacy-s-{tag}")


def _url(label: str, **params: object) -> str:
    app, model = label.split(".")
    base = reverse(f"admin:{app}_{model}_changelist")
    return f"{base}?{urlencode(params)}" if params else base


def _pages(arena: Arena, label: str) -> list[str]:
    """Every page of an audit changelist: the list, each filter, each kind of search, the
    drill-down to a day and a second page."""
    model_admin = admin.site._registry[_model(label)]
    field = model_admin.date_hierarchy
    bot, owner = arena.bots[0], arena.bots[0].owner
    values = {"bot": {"bot__id__exact": bot.pk}, "bot__owner": {"bot__owner__id__exact": owner.pk},
              "account__bot": {"account__bot__id__exact": bot.pk},
              "account__bot__owner": {"account__bot__owner__id__exact": owner.pk}}
    filters = []
    for spec in model_admin.list_filter:
        name = spec if isinstance(spec, str) else spec[0] if isinstance(spec, tuple) else spec.parameter_name
        if name in values:
            filters.append(values[name])
        elif name == "symbol":
            filters.append({"symbol": "ETHUSDT"})
        elif name in (field, "closed_at", "funding_time"):
            # As DateFieldListFilter links a range: aware midnights.
            filters.append({f"{name}__gte": "2025-03-01 00:00:00+00:00",
                            f"{name}__lt": "2025-06-01 00:00:00+00:00"})
            if name != "funding_time":  # a date or none: not offered for funding times
                filters.append({f"{name}__isnull": "True"})
        else:  # a choice or a boolean column
            field_obj = _model(label)._meta.get_field(name)
            value = "1" if field_obj.get_internal_type() == "BooleanField" else field_obj.choices[0][0]
            filters.append({f"{name}__exact": value})
    searches = ["1", "eth", "Bot 0", "owner0", "legacy-OPEN-0-0", "x-CLOSE-0-0"]
    urls = [_url(label), *(_url(label, **f) for f in filters), *(_url(label, q=q) for q in searches),
            _url(label, **{f"{field}__year": 2025}),
            _url(label, **{f"{field}__year": 2025, f"{field}__month": 3}),
            _url(label, **{f"{field}__year": 2025, f"{field}__month": 3, f"{field}__day": 1}),
            _url(label, p=2)]
    return urls


def _model(label: str):
    from django.apps import apps

    return apps.get_model(label)


def _queries(client, url: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(queries), [q["sql"] for q in queries]


@pytest.fixture
def su(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def small_pages(monkeypatch):
    """One row a page: a page of several rows is read in two steps (ids, then rows), at
    both sizes alike."""
    for label in BIG:
        monkeypatch.setattr(admin.site._registry[_model(label)], "list_per_page", 1)


@pytest.mark.parametrize("label", BIG)
def test_every_page_of_an_audit_list_runs_the_same_queries_as_its_rows_triple(su, label, small_pages):
    arena = Arena().grow(3)
    pages = _pages(arena, label)
    su.get(pages[0])  # the session and the user are read the same way on every page
    before = {url: _queries(su, url)[0] for url in pages}
    arena.grow(3)  # 3 more owners and bots: 6 bots, and 3-4 times the rows
    after = {url: _queries(su, url)[0] for url in pages}
    assert after == before
    assert max(after.values()) <= 16


@pytest.mark.parametrize("label", BIG)
def test_no_page_of_an_audit_list_scans_with_distinct_or_a_like_over_its_table(su, label):
    arena = Arena().grow(2)
    table = _model(label)._meta.db_table
    for url in _pages(arena, label):
        _, statements = _queries(su, url)
        for sql in statements:
            assert "DISTINCT" not in sql.upper(), (url, sql)
            assert "django_datetime_trunc" not in sql and "DATE_TRUNC" not in sql.upper(), (url, sql)
            if re.search(r"\bLIKE\b", sql, re.IGNORECASE):
                # Only the small tables are searched by part of a name: bots, users, accounts.
                assert f'FROM "{table}"' not in sql, (url, sql)


def _ids(response) -> list[int]:
    return sorted(obj.pk for obj in response.context["cl"].result_list)


def test_search_matches_ids_symbols_names_and_exact_ids(su):
    arena = Arena().grow(3)
    trades = Trade.objects.all()
    some = trades.order_by("pk")[4]

    def found(term: str) -> list[int]:
        response = su.get(_url("trading.trade", q=term))
        assert response.status_code == 200
        return _ids(response)

    every = lambda **f: sorted(trades.filter(**f).values_list("pk", flat=True))  # noqa: E731
    assert found(str(some.pk)) == [some.pk]
    assert found("eth") == found("ETHUSD") == every(symbol="ETHUSDT") != []
    assert found("btc") == every(symbol="BTCUSDT") != []
    assert found("Bot 1") == every(bot=arena.bots[1])
    assert found("owner2") == every(bot__owner__username="owner2") != []
    assert found(some.legacy_id) == found(some.exchange_order_id) == found(some.client_order_id) == [some.pk]
    assert found(some.legacy_id[:-1]) == []  # ids are matched exactly, not in part
    hostile_terms = ("99999999999999999999999", "%", "_", "'; DROP TABLE trading_trade; --", "\\", "€",
                     "²", "٣")
    for hostile in hostile_terms:
        assert found(hostile) == [], hostile
    assert found("   ") == every()
    assert Trade.objects.count() == len(every())


def test_each_search_box_says_what_it_matches(su):
    Arena().grow(1)
    for label in BIG:
        model_admin = admin.site._registry[_model(label)]
        body = su.get(_url(label)).content.decode()
        assert escape(model_admin.search_help_text) in body
        assert ("id (digits)" in model_admin.search_help_text) == (label != "trading.candle")


def test_the_journal_is_searched_by_entry_position_trade_or_bot(su):
    arena = Arena().grow(2)
    entry = Entry.objects.filter(trade__isnull=False).order_by("pk").last()
    response = su.get(_url("ledger.entry", q=str(entry.position_id)))
    assert entry.pk in _ids(response)
    assert set(_ids(su.get(_url("ledger.entry", q="Bot 1")))) == set(
        Entry.objects.filter(account__bot=arena.bots[1]).values_list("pk", flat=True))


def test_the_date_drill_down_offers_the_years_months_and_days_between_the_first_and_last_rows(su):
    for at in (datetime(2025, 3, 1, 9, tzinfo=UTC), datetime(2025, 5, 10, 9, tzinfo=UTC),
               datetime(2026, 1, 2, 23, tzinfo=UTC)):
        Turn.objects.create(started_at=at, finished_at=at, status="finished")
    page = lambda **p: su.get(_url("arena.turn", **p))  # noqa: E731
    years = page().content.decode()
    assert "started_at__year=2025" in years and "started_at__year=2026" in years
    assert "started_at__year=2024" not in years and "started_at__year=2027" not in years
    months_2025 = page(started_at__year=2025).content.decode()
    assert [m for m in range(1, 13) if f"started_at__month={m}&" in months_2025.replace("&amp;", "&")
            or f"started_at__month={m}\"" in months_2025] == list(range(3, 13))
    months_2026 = page(started_at__year=2026).content.decode().replace("&amp;", "&")
    assert [m for m in range(1, 13) if re.search(rf"started_at__month={m}\b", months_2026)] == [1]
    days = page(started_at__year=2026, started_at__month=1).content.decode().replace("&amp;", "&")
    assert [d for d in range(1, 32) if re.search(rf"started_at__day={d}\b", days)] == [1, 2]
    one_day = page(started_at__year=2025, started_at__month=5, started_at__day=10)
    assert [t.started_at for t in one_day.context["cl"].result_list] == [datetime(2025, 5, 10, 9, tzinfo=UTC)]


def test_an_empty_table_drills_down_to_nothing(su):
    response = su.get(_url("trading.trade"))
    assert response.status_code == 200
    assert "executed_at__year" not in response.content.decode()


def test_a_whole_big_table_is_counted_from_the_estimate_on_postgresql_and_exactly_elsewhere(monkeypatch):
    Arena().grow(2)
    monkeypatch.setattr(AuditPaginator, "ESTIMATE_FROM", 1)
    exact = Trade.objects.count()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE trading_trade")
    more = Trade.objects.order_by("pk").first()
    Trade.objects.create(bot=more.bot, kind="OPEN", side="LONG", symbol="BTCUSDT", price=D(1), quantity=D(1))
    whole = AuditPaginator(Trade.objects.order_by("-pk"), 100)
    filtered = AuditPaginator(Trade.objects.filter(symbol="BTCUSDT").order_by("-pk"), 100)
    assert filtered.count == Trade.objects.filter(symbol="BTCUSDT").count()
    if connection.vendor == "postgresql":
        assert whole.count == exact  # the planner's figure, from before the last insert
    else:
        assert whole.count == exact + 1
    monkeypatch.setattr(AuditPaginator, "ESTIMATE_FROM", 10**9)
    assert AuditPaginator(Trade.objects.order_by("-pk"), 100).count == exact + 1  # small tables: exact


def test_the_filtered_month_export_streams_only_that_months_rows(su):
    Arena().grow(3)
    url = _url("trading.trade", executed_at__year=2025, executed_at__month=4)
    response = su.post(url, {"action": "export_as_csv", "select_across": "1", "index": "0",
                             "_selected_action": str(Trade.objects.first().pk)})
    assert response.streaming
    lines = b"".join(response.streaming_content).decode().splitlines()
    april = Trade.objects.filter(executed_at__year=2025, executed_at__month=4)
    assert len(lines) - 1 == april.count() > 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the concurrent build is PostgreSQL's")
def test_an_index_is_never_built_online_inside_a_transaction():
    from django.db.migrations.state import ProjectState
    from django.db.models import Index

    operation = AddIndexOnline("trade", Index(fields=["fee"], name="trading_trade_fee_test_idx"))
    state = ProjectState.from_apps(__import__("django.apps").apps.apps)
    with transaction.atomic(), connection.schema_editor(atomic=False) as editor:
        with pytest.raises(NotSupportedError, match="atomic = False"):
            operation.database_forwards("trading", editor, state, state)


@pytest.mark.django_db(transaction=True)
def test_the_audit_indexes_migrate_backwards_and_forwards():
    def indexes() -> set[str]:
        with connection.cursor() as cursor:
            return set(connection.introspection.get_constraints(cursor, "ledger_entry"))

    assert {"ledger_entry_created_idx", "ledger_entry_kind_created_idx"} <= indexes()
    call_command("migrate", "ledger", "0006", verbosity=0)
    assert "ledger_entry_created_idx" not in indexes()
    call_command("migrate", "ledger", verbosity=0)
    built = {"ledger_entry_created_idx", "ledger_entry_kind_created_idx", "ledger_entry_funding_time_idx"}
    assert built <= indexes()


def test_a_capped_count_pages_up_to_the_cap_and_says_so(su, monkeypatch):
    Arena().grow(3)
    monkeypatch.setattr(AuditPaginator, "COUNT_CAP", 4)
    monkeypatch.setattr(admin.site._registry[Trade], "list_per_page", 2)
    closes = Trade.objects.filter(kind="CLOSE").count()
    assert closes > 4
    response = su.get(_url("trading.trade", kind__exact="CLOSE"))
    cl = response.context["cl"]
    assert cl.result_count == 4 and str(cl.result_count) == "4+"
    assert cl.paginator.num_pages == 2
    body = response.content.decode()
    assert "4+ trades" in body
    assert su.get(_url("trading.trade", kind__exact="CLOSE", p=3)).status_code == 302  # past the cap
    # Under the cap, and for the whole table, the count is exact.
    few = su.get(_url("trading.trade", kind__exact="CLOSE", symbol="SOLUSDT")).context["cl"].result_count
    assert few == Trade.objects.filter(kind="CLOSE", symbol="SOLUSDT").count()
    whole = su.get(_url("trading.trade")).context["cl"].result_count
    assert whole == Trade.objects.count() and str(whole) == str(Trade.objects.count())


def test_funding_times_are_filtered_by_date_only(su):
    Arena().grow(1)
    response = su.get(_url("ledger.entry"))
    body = response.content.decode()
    assert "funding_time__gte" in body
    assert "funding_time__isnull" not in body


def test_filters_offer_no_counts_per_choice(su):
    Arena().grow(2)
    plain, _ = _queries(su, _url("trading.trade"))
    with_facets, _ = _queries(su, _url("trading.trade", _facets="True"))
    assert with_facets == plain
    assert "Show counts" not in su.get(_url("trading.trade")).content.decode()
