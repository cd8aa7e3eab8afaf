"""Benchmark of the audit admin at two history sizes (bench/history.py), in the same run.

Ten bots (5 owners × 2) over a year: first a small history — 10k trades (5k positions with
their OPEN and CLOSE), about 25k journal entries, 2k decisions in their turns, 5k snapshots,
a year of hourly candles of every symbol — then the same bots over the same days grown 100×
(``--quick``: 10×) to 1M trades, 500k positions, 2.5M journal entries, 200k decisions and
bot turns, 20k turns and 500k snapshots.

Measured on each audit changelist (trades, positions, decisions, journal entries, snapshots,
turns, bot turns, candles): the first page; each of its list filters; its search, with each
kind of term it serves (an id, a symbol's start, a bot's name, an exact legacy id); the date
drill-down to a year, a month and a day; a deep page (``?p=500``, or the last page of a
table that has fewer); one change page; and the CSV export of a filtered month, timed to its
first data row (the export streams: the header goes out before the query runs, so the header
alone would prove nothing). Each page is rendered whole through the Django stack (sessions,
the admin's middleware), as a superuser who signed in; the figure is the median of 5 after a
warm-up, with the page's SQL statements. A filter of an admin that no measured page uses is
reported (``unmeasured``).

Target: every page under 300 ms at the large size, and at most one SQL statement more at the
large size than at the small one: none grows with the rows, but a filtered set that fits one
page at the small size is read in one statement there, and in two (its ids, then its rows) once
it has several pages. The ratio
large/small of each page's time is printed beside it: the baseline is the same page on a
hundredth of the rows, in the same run.

Runs on a new SQLite file, or with a postgres:// ``DATABASE_URL`` on a scratch database
beside the named one, dropped at the end (bench/djangoenv.py). ``--keep`` leaves the loaded
database in place and prints its URL; ``--reuse URL`` measures that database again at its
size (after migrating it, so new indexes are built on its rows) without loading anything;
``--keep --load-only`` loads and measures nothing.
The last line printed is one JSON object.

    python bench/admin.py --quick        # about two minutes
    python bench/admin.py                # 1M trades: about 15 minutes on SQLite
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
import djangoenv  # noqa: E402  (bench/djangoenv.py, beside this file)
import history  # noqa: E402

TARGET_MS = 300
OWNERS, BOTS_PER_OWNER, DAYS = 5, 2, 365
SMALL = {"trades": 10_000, "decisions": 2_000, "snapshots": 5_000}
GROWTH, GROWTH_QUICK = 100, 10
RUNS = 5


def _day(at: datetime) -> str:
    """A UTC midnight as DateFieldListFilter links it."""
    return at.strftime("%Y-%m-%d 00:00:00+00:00")


class Admin:
    """One audit changelist: its URL, the model's date column and the pages measured."""

    def __init__(self, label: str, date_field: str, world: dict) -> None:
        self.label, self.date_field, self.world = label, date_field, world
        app, model = label.split(".")
        self.url = f"/admin/{app}/{model}/"

    def pages(self, filters: dict[str, dict], searches: dict[str, str]) -> dict[str, tuple[str, str, dict]]:
        """name -> (method, path, POST data) of every page of this admin."""
        w, f = self.world, self.date_field
        middle = w["middle"]
        week = {f"{f}__gte": _day(w["now"] - timedelta(days=7)),
                f"{f}__lt": _day(w["now"] + timedelta(days=1))}
        drill = {f"{f}__year": middle.year}
        out = {"list": ("GET", self.url, {})}
        for name, params in {**filters, "past_7_days": week}.items():
            out[f"filter_{name}"] = ("GET", f"{self.url}?{urlencode(params)}", {})
        for name, term in searches.items():
            out[f"search_{name}"] = ("GET", f"{self.url}?{urlencode({'q': term})}", {})
        out["drill_year"] = ("GET", f"{self.url}?{urlencode(drill)}", {})
        drill[f"{f}__month"] = middle.month
        out["drill_month"] = ("GET", f"{self.url}?{urlencode(drill)}", {})
        month = dict(drill)
        drill[f"{f}__day"] = middle.day
        out["drill_day"] = ("GET", f"{self.url}?{urlencode(drill)}", {})
        out["deep_page"] = ("GET", f"{self.url}?p={w['deep'][self.label]}", {})
        out["change"] = ("GET", f"{self.url}{w['ids'][self.label]}/change/", {})
        out["csv_month"] = ("CSV", f"{self.url}?{urlencode(month)}", {
            "action": "export_as_csv", "select_across": "1", "index": "0",
            "_selected_action": str(w["ids"][self.label])})
        return out


def world_of(built: history.History) -> dict:
    """The ids and moments the pages name: the first bot and owner, a row of each table in
    the middle of the history, the middle moment."""
    from arena.models import BotTurn, Turn
    from bots.models import Decision
    from ledger.models import Entry, Snapshot
    from trading.models import Candle, Position, Trade

    counts = {}

    def middle_id(model) -> int:
        ids = model.objects.order_by("pk").values_list("pk", flat=True)
        counts[model] = ids.count()
        return ids[counts[model] // 2]

    labels = {"trading.trade": Trade, "trading.position": Position, "bots.decision": Decision,
              "ledger.entry": Entry, "ledger.snapshot": Snapshot, "arena.turn": Turn,
              "arena.botturn": BotTurn, "trading.candle": Candle}
    middle = built.start + (built.now - built.start) / 2
    return {"bot": built.bots[1], "owner": built.owners[1], "now": built.now,
            "middle": middle.astimezone(UTC),
            "ids": {label: middle_id(model) for label, model in labels.items()},
            # Page 500 (rows 49,901 to 50,000), or the last page of a smaller table.
            "deep": {label: max(1, min(500, counts[model] // 100)) for label, model in labels.items()}}


def every_page(w: dict) -> dict[str, dict[str, tuple[str, str, dict]]]:
    """admin label -> its pages."""
    bot, owner = {"bot__id__exact": w["bot"]}, {"bot__owner__id__exact": w["owner"]}
    by_id = lambda label: str(w["ids"][label])  # noqa: E731
    name = "bot 1-0"  # a bot's name (bench/history.py names them "bot <owner>-<n>")
    legacy = "legacy-404"  # an exact legacy id, matching nothing
    month_after = w["middle"].replace(day=1)
    closed_month = {"closed_at__gte": _day(month_after),
                    "closed_at__lt": _day(month_after + timedelta(days=31))}
    return {
        "trading.trade": Admin("trading.trade", "executed_at", w).pages(
            {"kind": {"kind__exact": "CLOSE"}, "side": {"side__exact": "SHORT"},
             "side_and_kind": {"side__exact": "LONG", "kind__exact": "OPEN"}, "symbol": {"symbol": "ETHUSDT"},
             "reason": {"reason__exact": "stop_loss"}, "bot": bot, "owner": owner,
             "bot_symbol_kind": {**bot, "symbol": "SOLUSDT", "kind__exact": "CLOSE"}},
            {"id": by_id("trading.trade"), "symbol": "ETH", "bot_name": name, "legacy_id": legacy}),
        "trading.position": Admin("trading.position", "opened_at", w).pages(
            {"status": {"status__exact": "closed"}, "side": {"side__exact": "LONG"},
             "symbol": {"symbol": "BTCUSDT"},
             "close_reason": {"close_reason__exact": "take_profit"}, "bot": bot, "owner": owner,
             "closed_month": closed_month, "still_open": {"closed_at__isnull": "True"}},
            {"id": by_id("trading.position"), "symbol": "SOL", "bot_name": name, "legacy_id": legacy}),
        "bots.decision": Admin("bots.decision", "created_at", w).pages(
            {"success": {"success__exact": "0"}, "bot": bot, "owner": owner},
            {"id": by_id("bots.decision"), "bot_name": name, "legacy_id": legacy}),
        "ledger.entry": Admin("ledger.entry", "created_at", w).pages(
            {"kind": {"kind__exact": "fee"}, "bot": {"account__bot__id__exact": w["bot"]},
             "owner": {"account__bot__owner__id__exact": w["owner"]},
             "funding_past_7_days": {"funding_time__gte": _day(w["now"] - timedelta(days=7)),
                                     "funding_time__lt": _day(w["now"] + timedelta(days=1))}},
            {"id": by_id("ledger.entry"), "bot_name": name}),
        "ledger.snapshot": Admin("ledger.snapshot", "taken_at", w).pages(
            {"bot": bot, "owner": owner},
            {"id": by_id("ledger.snapshot"), "bot_name": name, "legacy_id": legacy}),
        "arena.turn": Admin("arena.turn", "started_at", w).pages(
            {"status": {"status__exact": "finished"}, "forced": {"forced__exact": "1"}},
            {"id": by_id("arena.turn")}),
        "arena.botturn": Admin("arena.botturn", "started_at", w).pages(
            {"status": {"status__exact": "failed"}, "bot": bot, "owner": owner},
            {"id": by_id("arena.botturn"), "bot_name": name}),
        "trading.candle": Admin("trading.candle", "open_time", w).pages(
            {"symbol": {"symbol": "BNBUSDT"}, "interval": {"interval__exact": "1h"}}, {"symbol": "BNB"}),
    }


def unmeasured(pages: dict[str, dict[str, tuple[str, str, dict]]]) -> list[str]:
    """The list filters of the audit admins that no page above uses."""
    from django.apps import apps
    from django.contrib import admin
    from django.contrib.admin.filters import FieldListFilter

    missing = []
    for label, admin_pages in pages.items():
        model_admin = admin.site._registry[apps.get_model(label)]
        used = " ".join(path for _, path, _ in admin_pages.values())
        for spec in model_admin.list_filter:
            field = spec[0] if isinstance(spec, tuple) else spec
            if isinstance(field, str):
                prefix = field
            elif isinstance(field, type) and issubclass(field, FieldListFilter):
                continue
            else:
                prefix = field.parameter_name
            if f"?{prefix}" not in used and f"&{prefix}" not in used:
                missing.append(f"{label} {prefix}")
    return missing


def fetched(client, method: str, path: str, data: dict) -> None:
    """One request, read to the end of its page (to the first data row of a CSV export)."""
    if method == "CSV":
        response = client.post(path, data, secure=True)
        assert response.status_code == 200 and response.streaming, (path, response.status_code)
        rows = iter(response.streaming_content)
        next(rows)  # the header
        first = next(rows)  # the first row: the query has run
        assert first.count(b",") > 3, first
        response.close()
    else:
        response = client.get(path, secure=True)
        assert response.status_code == 200, (path, response.status_code, response.content[:300])


def timed(client, method: str, path: str, data: dict) -> float:
    started = time.perf_counter()
    fetched(client, method, path, data)
    return (time.perf_counter() - started) * 1000


def statements(client, method: str, path: str, data: dict) -> int:
    """The SQL statements of one request, counted apart from the timed ones (the query log
    slows what it records, and keeps only its last 9,000 entries: it is emptied first)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as queries:
        fetched(client, method, path, data)
    return len(queries)


def measure(client, pages: dict, label: str) -> dict:
    out: dict[str, dict] = {}
    for admin_label, admin_pages in pages.items():
        out[admin_label] = {}
        for name, (method, path, data) in admin_pages.items():
            count = statements(client, method, path, data)  # also the warm-up
            runs = [timed(client, method, path, data) for _ in range(RUNS)]
            r = out[admin_label][name] = {"ms": round(statistics.median(runs), 1), "queries": count,
                                          "path": path}
            mark = "" if r["ms"] < TARGET_MS else "  OVER TARGET"
            print(f"{label:5} {admin_label:16} {name:22} {r['ms']:8.1f} ms  {r['queries']:3} SQL  "
                  f"{path}{mark}", flush=True)
    return out


def signed_in_client():
    """A superuser's client, after the static files are collected (the pages name them
    through the production manifest, DEBUG being off)."""
    from django.core.management import call_command
    from django.test import Client

    from arena.models import User

    call_command("collectstatic", interactive=False, verbosity=0)

    user = User.objects.create_superuser(username="bench-auditor", password="bench-auditor-pass-123",
                                         email="auditor@example.com")
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    return client


def load(step, label: str) -> dict:
    started = time.perf_counter()
    built = step()
    history.settle()
    s = built.summary()
    seconds = round(time.perf_counter() - started, 1)
    print(f"{label} history: {s['trades']:,} trades, {s['positions']:,} positions, {s['entries']:,} journal "
          f"entries, {s['decisions']:,} decisions, {s['turns']:,} turns, {s['snapshots']:,} snapshots, "
          f"{s['candles']:,} candles; {len(s['bots'])} bots of {s['owners']} owners over {DAYS} days, "
          f"loaded in {seconds:.1f}s", flush=True)
    return {k: v for k, v in s.items() if k != "bots"} | {"load_s": seconds}


def verdict(pages: dict) -> dict:
    flat = [r for admin_pages in pages.values() for r in admin_pages.values()]
    slowest = max(flat, key=lambda r: r["ms"])
    return {"pages_measured": len(flat), "slowest_ms": slowest["ms"], "slowest_path": slowest["path"],
            "all_under_target": all(r["ms"] < TARGET_MS for r in flat)}


def run(*, quick: bool, vendor: str, measured: bool = True) -> dict:
    from django.utils import timezone

    growth = GROWTH_QUICK if quick else GROWTH
    shape = history.Shape(owners=OWNERS, bots_per_owner=BOTS_PER_OWNER, days=DAYS, **SMALL)
    built = history.History(shape, now=timezone.now())
    sizes = {"small": load(built.build, "small")}
    client = signed_in_client()
    pages = every_page(world_of(built))
    missing = unmeasured(pages)
    small = measure(client, pages, "small") if measured else {}
    sizes["large"] = load(lambda: built.grow(growth), "large")
    if not measured:
        return {"benchmark": "admin", "database": vendor, "loaded_only": True, "sizes": sizes}
    pages = every_page(world_of(built))
    large = measure(client, pages, "large")
    ratios, not_growing = {}, True
    for admin_label, admin_pages in large.items():
        for name, r in admin_pages.items():
            before = small[admin_label][name]
            r["ratio"] = ratios[f"{admin_label} {name}"] = round(r["ms"] / max(before["ms"], 0.1), 2)
            r["queries_small"] = before["queries"]
            not_growing &= r["queries"] <= before["queries"] + 1
    for key, ratio in sorted(ratios.items(), key=lambda kv: -kv[1])[:10]:
        print(f"ratio {key:40} large/small {ratio:6.2f}x", flush=True)
    for line in missing:
        print(f"unmeasured filter: {line}", flush=True)
    return {"benchmark": "admin", "database": vendor, "quick": quick, "growth": growth, "sizes": sizes,
            "target_ms": TARGET_MS, "runs_per_page": RUNS, "pages": {"small": small, "large": large},
            "queries_not_growing": not_growing, "unmeasured_filters": missing, **verdict(large)}


def rerun(vendor: str) -> dict:
    """Measure a kept database again, at its size."""
    from arena.models import User
    from bots.models import Bot
    from trading.models import Trade

    User.objects.filter(username="bench-auditor").delete()
    client = signed_in_client()
    bots = list(Bot.objects.order_by("pk").values_list("pk", "owner_id"))
    first, last = Trade.objects.order_by("executed_at").values_list("executed_at", flat=True)[:1], \
        Trade.objects.order_by("-executed_at").values_list("executed_at", flat=True)[:1]
    built = type("Kept", (), {"bots": [b for b, _ in bots], "owners": sorted({o for _, o in bots}),
                              "start": first[0], "now": last[0]})
    pages = every_page(world_of(built))
    large = measure(client, pages, "kept")
    missing = unmeasured(pages)
    for line in missing:
        print(f"unmeasured filter: {line}", flush=True)
    return {"benchmark": "admin", "database": vendor, "reused": True, "target_ms": TARGET_MS,
            "trades": Trade.objects.count(), "pages": {"large": large}, "unmeasured_filters": missing,
            **verdict(large)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"grow {GROWTH_QUICK}x, not {GROWTH}x")
    parser.add_argument("--keep", action="store_true", help="leave the loaded database in place")
    parser.add_argument("--reuse", metavar="URL", help="measure a database --keep left, loading nothing")
    parser.add_argument("--load-only", action="store_true", help="with --keep: load, measure nothing")
    args = parser.parse_args()
    if args.reuse:
        with djangoenv.kept_django(args.reuse) as vendor:
            print(json.dumps(rerun(vendor)))
        return
    with djangoenv.scratch_django(prefix="arena-bench-admin-", keep=args.keep) as vendor:
        print(json.dumps(run(quick=args.quick, vendor=vendor, measured=not args.load_only)))


if __name__ == "__main__":
    main()
